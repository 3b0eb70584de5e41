"""SQLite writers queue for the write lock (labelkeep.db.sqlite): across threads and
processes, bounded by the timeout, and the queue is left on commit, rollback and close."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError
from django.db.utils import ConnectionHandler

from labelkeep.db.sqlite.base import WriterQueue

HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def test_a_thread_waits_for_the_writer_ahead_and_gives_up_at_the_timeout(tmp_path: Path) -> None:
    queue = WriterQueue(str(tmp_path / "db.writers"))
    queue.acquire(1)
    outcome: list[str] = []

    def impatient() -> None:
        try:
            queue.acquire(0.05)
            outcome.append("acquired")
        except OperationalError as exc:
            outcome.append(str(exc))

    waiter = threading.Thread(target=impatient)
    waiter.start()
    waiter.join()
    assert outcome == ["database is locked"]

    def patient_waiter() -> None:
        queue.acquire(10)
        outcome.append("second")

    patient = threading.Thread(target=patient_waiter)
    patient.start()
    queue.release()
    patient.join(10)
    assert outcome[-1] == "second"
    queue.release()


def test_another_process_holding_the_lock_makes_writers_wait(tmp_path: Path) -> None:
    path = tmp_path / "db.writers"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        queue = WriterQueue(str(path))
        with pytest.raises(OperationalError, match="database is locked"):
            queue.acquire(0.1)
        assert holder.stdin is not None
        holder.stdin.close()  # the holder exits; the kernel drops its lock
        holder.wait(10)
        queue.acquire(10)
        queue.release()
    finally:
        holder.kill()
        holder.wait()


def _handler(tmp_path: Path, timeout: float) -> ConnectionHandler:
    """Connections (one per thread) to a database of the test's own, not the test database."""
    return ConnectionHandler(
        {
            "default": {
                "ENGINE": "labelkeep.db.sqlite",
                "NAME": str(tmp_path / "queue.sqlite3"),
                "OPTIONS": {
                    "init_command": "PRAGMA journal_mode=WAL;",
                    "transaction_mode": "IMMEDIATE",
                    "timeout": timeout,
                },
            }
        }
    )


@contextmanager
def _transaction(connection: Any) -> Iterator[Any]:
    """What `transaction.atomic` does on the outermost level, for a connection of our own."""
    connection.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
    try:
        with connection.cursor() as cursor:
            yield cursor
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.set_autocommit(True)


@pytest.mark.django_db
def test_concurrent_write_transactions_all_land(tmp_path: Path) -> None:
    handler = _handler(tmp_path, timeout=20)
    setup = handler["default"]
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
        cursor.execute("INSERT INTO counter VALUES (0)")
    errors: list[BaseException] = []

    def work() -> None:
        connection = handler["default"]
        try:
            for _ in range(25):
                with _transaction(connection) as cursor:
                    cursor.execute("SELECT n FROM counter")
                    (n,) = cursor.fetchone()
                    cursor.execute("UPDATE counter SET n = %s", [n + 1])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with setup.cursor() as cursor:
        cursor.execute("SELECT n FROM counter")
        assert cursor.fetchone() == (150,)
    setup.close()


@pytest.mark.django_db
def test_the_queue_is_left_after_a_rollback(tmp_path: Path) -> None:
    handler = _handler(tmp_path, timeout=0.2)
    connection = handler["default"]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE t (n INTEGER)")
    with pytest.raises(RuntimeError), _transaction(connection) as cursor:
        cursor.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("refused")
    result: list[object] = []

    def other() -> None:
        mine = handler["default"]
        with _transaction(mine) as cursor:
            cursor.execute("INSERT INTO t VALUES (2)")
        result.append("written")
        mine.close()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(10)
    assert result == ["written"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT n FROM t")
        assert cursor.fetchall() == [(2,)]
    connection.close()


@pytest.mark.django_db
def test_a_background_thread_checkpoints_the_wal(tmp_path: Path) -> None:
    """Writes land in the WAL; the checkpointer, not a request, copies them into the file
    (SQLite's own automatic checkpoint waits for 10,000 pages, far more than written here)."""
    handler = _handler(tmp_path, timeout=5)
    connection = handler["default"]
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone() == (10000,)
        cursor.execute("CREATE TABLE blob (b BLOB)")
    with _transaction(connection) as cursor:
        for _ in range(300):
            cursor.execute("INSERT INTO blob VALUES (randomblob(4000))")
    assert any(t.name == "sqlite-checkpoint" for t in threading.enumerate())
    database = tmp_path / "queue.sqlite3"
    deadline = time.monotonic() + 10
    while database.stat().st_size < 1_000_000 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert database.stat().st_size >= 1_000_000
    connection.close()

"""Django's SQLite backend, with writers that queue for the write lock.

SQLite lets one connection write at a time. Left to itself, a connection that finds the
lock taken sleeps in SQLite's busy handler for 1, 2, 5, 10 … up to 100 ms between tries,
so under steady concurrent writes a request can sleep for many times what the writes ahead
of it took (the annotation benchmark saw p99 at 0.8 s for 10 ms of work). Here every
transaction (Labelkeep's begin IMMEDIATE: they all take the write lock up front) first
queues on a lock: threads of one process on a `threading.Lock`, processes on an advisory
`flock` of a file beside the database. A waiter wakes as soon as the writer ahead of it
commits. The wait is bounded by the connection's `timeout` option, as SQLite's is, and
ends in the same "database is locked" error.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base


class WriterQueue:
    """One per database file and process: a thread lock, then a file lock."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._pid = -1
        self._threads = threading.Lock()
        self._fd = -1
        self._guard = threading.Lock()

    def _for_this_process(self) -> None:
        # After a fork the parent's file description (and its flock) must not be shared.
        if self._pid == os.getpid():
            return
        with self._guard:
            if self._pid != os.getpid():
                self._threads = threading.Lock()
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                self._pid = os.getpid()

    def acquire(self, timeout: float) -> None:
        self._for_this_process()
        deadline = time.monotonic() + timeout
        if not self._threads.acquire(timeout=timeout):
            raise OperationalError("database is locked")
        try:
            pause = 0.0002
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise OperationalError("database is locked") from None
                    # Another process writes: poll briefly (flock has no timeout).
                    time.sleep(pause)
                    pause = min(pause * 2, 0.002)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


_QUEUES: dict[str, WriterQueue] = {}
_QUEUES_LOCK = threading.Lock()
_BY_NAME: dict[str, WriterQueue] = {}


def _queue_for(database: str) -> WriterQueue:
    path = str(Path(database).resolve()) + ".writers"
    with _QUEUES_LOCK:
        queue = _QUEUES.get(path)
        if queue is None:
            queue = _QUEUES[path] = WriterQueue(path)
        return queue


class Checkpointer:
    """Copies the WAL back into the database file from a thread of its own.

    SQLite otherwise does this in whichever commit pushes the WAL past 1,000 pages, and that
    request waits for it (tens of milliseconds under steady writes) while holding the
    writers' queue. Here each process runs a passive checkpoint every CHECKPOINT_INTERVAL
    seconds on a connection of its own; it never blocks writers or readers. The
    connections keep SQLite's automatic checkpoint, at 10,000 pages, as a backstop."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._pid = -1
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True).start()

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(self._database, timeout=1, check_same_thread=False)
        except sqlite3.Error:
            return
        with contextlib.closing(connection):
            while True:
                time.sleep(CHECKPOINT_INTERVAL)
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    return  # the database went away (a test database, say)


CHECKPOINT_INTERVAL = 0.5
_CHECKPOINTERS: dict[str, Checkpointer] = {}


class DatabaseWrapper(base.DatabaseWrapper):
    """SQLite whose transactions queue for the write lock instead of polling for it."""

    def get_new_connection(self, conn_params: Any) -> Any:
        connection = super().get_new_connection(conn_params)
        name = str(self.settings_dict["NAME"])
        if not self.is_in_memory_db() and name:
            connection.execute("PRAGMA wal_autocheckpoint=10000")
            with _QUEUES_LOCK:
                checkpointer = _CHECKPOINTERS.setdefault(name, Checkpointer(name))
            checkpointer.ensure_running()
        return connection

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued: WriterQueue | None = None

    def _writer_queue(self) -> WriterQueue | None:
        name = str(self.settings_dict["NAME"])
        if self.is_in_memory_db() or not name:
            return None
        # Resolving the path costs more than a transaction: once per name and process.
        found = _BY_NAME.get(name)
        if found is None:
            found = _BY_NAME[name] = _queue_for(name)
        return found

    def _start_transaction_under_autocommit(self) -> None:
        queue = self._writer_queue()
        if queue is not None:
            queue.acquire(float(self.settings_dict["OPTIONS"].get("timeout", 5)))
            self._queued = queue
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._leave_queue()
            raise

    def _leave_queue(self) -> None:
        queue, self._queued = self._queued, None
        if queue is not None:
            queue.release()

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            self._leave_queue()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._leave_queue()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._leave_queue()

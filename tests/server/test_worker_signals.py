"""`labelkeep worker --processes N` stops its worker processes when it is stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.server.harness import LABELKEEP, running_server, server_env

pytestmark = pytest.mark.server


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # the name may hold spaces
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(0.1)


def _stop_all(parent: subprocess.Popen[bytes], children: list[int], marker: bytes) -> None:
    """Clean up after a failed test: the children are in process groups of their own.
    A child is killed only while its command line is still ours (its pid may be reused)."""
    if parent.poll() is None:
        parent.kill()
    parent.wait()
    for pid in children:
        try:
            ours = marker in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if ours and _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _two_workers(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """`labelkeep worker --processes 2` on a migrated data dir, and its stderr log."""
    data_dir = tmp_path / "data"
    migrate = [str(LABELKEEP), "manage", "--data-dir", str(data_dir), "migrate", "-v", "0"]
    subprocess.run(migrate, env=server_env(), cwd=tmp_path, check=True, timeout=120)
    log = tmp_path / "worker.stderr"
    command = [str(LABELKEEP), "worker", "--data-dir", str(data_dir), "--processes", "2"]
    with log.open("wb") as stderr:
        parent = subprocess.Popen(command, env=server_env(), cwd=tmp_path, stderr=stderr)
    return parent, log


def _started(parent: subprocess.Popen[bytes], log: Path) -> list[int]:
    """The two workers, once both have started their loops (and signal handlers)."""
    _wait_for(lambda: log.read_text().count("Starting worker") == 2, 60, "two workers")
    children = _children(parent.pid)
    assert len(children) == 2
    return children


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_parent_stops_every_worker(tmp_path: Path, stop: signal.Signals) -> None:
    parent, log = _two_workers(tmp_path)
    children: list[int] = []
    try:
        children = _started(parent, log)
        parent.send_signal(stop)
        assert parent.wait(timeout=20) == 0, log.read_text()
        _wait_for(lambda: not any(_alive(pid) for pid in children), 5, "the workers to exit")
        assert log.read_text().count("shutting down gracefully") == 2  # one signal each
    finally:
        _stop_all(parent, children, b"labelkeep.cli")


def test_workers_stop_when_the_parent_is_killed_outright(tmp_path: Path) -> None:
    """SIGKILL leaves the parent no chance to pass anything on: the workers learn of its
    death from the kernel (labelkeep/parent.py) and finish as if stopped."""
    parent, log = _two_workers(tmp_path)
    children: list[int] = []
    try:
        children = _started(parent, log)
        parent.kill()
        parent.wait(timeout=20)
        _wait_for(lambda: not any(_alive(pid) for pid in children), 20, "the workers to exit")
        assert log.read_text().count("shutting down gracefully") == 2
    finally:
        _stop_all(parent, children, b"labelkeep.cli")


def test_a_child_whose_parent_is_already_gone_does_not_start(tmp_path: Path) -> None:
    env = {**server_env(), "LABELKEEP_PARENT_PID": "1"}  # not this child's parent
    ran = subprocess.run(
        [str(LABELKEEP), "worker", "--data-dir", str(tmp_path / "data")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert ran.returncode != 0
    assert b"has exited" in ran.stderr


IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(120)"
)


def test_workers_still_running_after_the_grace_period_are_killed(tmp_path: Path) -> None:
    supervisor = (
        "import sys; from labelkeep.cli import supervise; "
        f"sys.exit(supervise([[sys.executable, '-c', {IGNORES_SIGTERM!r}]], grace=1.0))"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", supervisor], stdout=subprocess.PIPE, env=server_env()
    )
    children: list[int] = []
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline() == b"ready\n"
        children = _children(parent.pid)
        assert len(children) == 1
        stopped = time.monotonic()
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=20) == 1  # a worker had to be killed
        assert 1.0 <= time.monotonic() - stopped < 10
        assert not _alive(children[0])
    finally:
        _stop_all(parent, children, b"time.sleep(120)")


def test_the_redirect_listener_stops_when_the_server_is_killed_outright(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with running_server(data_dir) as server:
        redirects = [
            pid
            for pid in _children(server.process.pid)
            if b"labelkeep.redirect" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(redirects) == 1
        server.process.kill()
        server.process.wait(timeout=20)
        _wait_for(lambda: not _alive(redirects[0]), 20, "the redirect listener to exit")
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.http_port), timeout=2.0).close()

"""Run the real `labelkeep start` process (and the CLI) against a data directory of its own."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

# The `labelkeep` script of the virtualenv running the tests (.venv/bin/labelkeep).
LABELKEEP = Path(sys.executable).with_name("labelkeep")

# The server must choose these itself, as on a fresh install: its embedded SQLite database
# and secret key in its own data directory, and its default hosts and security settings,
# whatever the test run uses (tests/settings.py, DATABASE_URL for PostgreSQL). Unbuffered
# output is dropped too, so that the test sees what a service manager's log would show.
DROPPED_ENV = (
    "DATABASE_URL",
    "EXPORT_SNAPSHOT_WAIT",  # tests/settings.py turns it off for the in-process tests
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "DJANGO_SETTINGS_MODULE",
    "LABELKEEP_DATA_DIR",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "TRUSTED_PROXIES",
    "SECURE_HSTS_SECONDS",
    "DEBUG",
    "PYTHONUNBUFFERED",
)
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it
PORT_TAKEN = ("Address already in use", "Connection in use")

FINGERPRINT_LINE = re.compile(r"^Certificate SHA-256 fingerprint: ([0-9A-F:]+)$", re.MULTILINE)
SETUP_LINE = re.compile(r"create the owner account at (https://\S+/setup/\S+/) ")
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def server_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in DROPPED_ENV}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def trust(cert: Path) -> ssl.SSLContext:
    """A client context that trusts only the server's own (self-signed) certificate."""
    return ssl.create_default_context(cafile=str(cert))


@dataclass
class RunningServer:
    data_dir: Path
    port: int
    http_port: int
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    fingerprint: str = ""
    setup_url: str = ""

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def cert(self) -> Path:
        return self.data_dir / "tls-cert.pem"

    @property
    def database(self) -> Path:
        return self.data_dir / "labelkeep.sqlite3"

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTPS client that verifies the server against its generated certificate."""
        kwargs.setdefault("timeout", 15.0)
        return httpx.Client(base_url=self.origin, verify=trust(self.cert), **kwargs)


def run_cli(
    *args: str, data_dir: Path, stdin: str = "", timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """`labelkeep <args> --data-dir <data_dir>` in its own process, with the server's env."""
    return subprocess.run(
        [str(LABELKEEP), *args, "--data-dir", str(data_dir)],
        input=stdin,
        capture_output=True,
        text=True,
        env=server_env(),
        cwd=data_dir.parent,
        timeout=timeout,
        check=False,
    )


def job_row(database: Path, job_id: int) -> tuple[str, str | None, str]:
    """(status, result JSON, error) of a job, read straight from the server's database."""
    with closing(sqlite3.connect(database, timeout=20)) as db:
        row = db.execute(
            "SELECT status, result, error FROM jobs_job WHERE id = ?", (job_id,)
        ).fetchone()
    assert row is not None, f"job {job_id} not found"
    return row[0], row[1], row[2]


def form_token(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "no csrfmiddlewaretoken in the page"
    return match.group(1)


class StartFailed(RuntimeError):
    def __init__(self, server: RunningServer, why: str) -> None:
        self.port_taken = any(text in server.stderr() for text in PORT_TAKEN)
        super().__init__(
            f"labelkeep start: {why}\n--- stdout\n{server.stdout()}\n--- stderr\n{server.stderr()}"
        )


def _answers(server: RunningServer) -> bool:
    """True once the HTTPS port completes a verified request and the HTTP port accepts."""
    if not server.cert.exists():
        return False
    try:
        with httpx.Client(verify=trust(server.cert), timeout=2.0) as client:
            client.get(f"https://127.0.0.1:{server.port}/api/version")
        socket.create_connection(("127.0.0.1", server.http_port), timeout=2.0).close()
    except (httpx.TransportError, OSError):
        return False
    return True


def _wait_until_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(server):
        if any(text in server.stderr() for text in PORT_TAKEN):
            raise StartFailed(server, "a port is taken")
        if server.process.poll() is not None:
            raise StartFailed(server, f"exited with status {server.process.returncode}")
        if time.monotonic() > deadline:
            raise StartFailed(server, f"no answer on port {server.port} after {START_TIMEOUT} s")
        time.sleep(0.1)
    output = server.stdout()
    fingerprint = FINGERPRINT_LINE.search(output)
    if fingerprint is None:
        raise StartFailed(server, "no fingerprint line on stdout")
    server.fingerprint = fingerprint.group(1)
    setup = SETUP_LINE.search(output)
    server.setup_url = setup.group(1) if setup else ""


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the whole process group: gunicorn, its workers and the HTTP redirector."""
    try:
        # Also when gunicorn itself is gone: its children may still hold the group.
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _start(data_dir: Path, extra: tuple[str, ...], env: Mapping[str, str]) -> RunningServer:
    port, http_port = free_port(), free_port()
    command = [
        str(LABELKEEP),
        "start",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--http-port",
        str(http_port),
        "--workers",
        "1",
        *extra,
    ]
    stdout_path = data_dir.parent / "server.stdout"
    stderr_path = data_dir.parent / "server.stderr"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env={**server_env(), **env},
            cwd=data_dir.parent,
            start_new_session=True,
        )
    server = RunningServer(data_dir, port, http_port, process, stdout_path, stderr_path)
    try:
        _wait_until_ready(server)
    except BaseException:
        _stop(process)
        raise
    return server


@contextmanager
def running_server(
    data_dir: Path, *extra: str, env: Mapping[str, str] | None = None
) -> Iterator[RunningServer]:
    """`labelkeep start` on 127.0.0.1 with free HTTPS and HTTP ports, stopped on exit;
    `env` adds to (or replaces in) the server's environment."""
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            server = _start(data_dir, extra, env or {})
            break
        except StartFailed as failed:
            if not failed.port_taken or attempt == START_ATTEMPTS:
                raise
    try:
        yield server
    finally:
        _stop(server.process)

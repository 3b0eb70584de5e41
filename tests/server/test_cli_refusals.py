"""Refusals at start: one line on stderr and a non-zero status, never a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.server.harness import LABELKEEP, free_port, run_cli, server_env

pytestmark = pytest.mark.server


def _start(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `labelkeep start` expecting it to stop by itself (killed, whole group, if not)."""
    command = [str(LABELKEEP), "start", "--data-dir", str(data_dir)]
    command += ["--port", str(free_port()), "--workers", "1", "--no-worker", *extra]
    process = subprocess.Popen(
        command,
        env={**server_env(), **(env or {})},
        cwd=next(folder for folder in data_dir.parents if folder.is_dir()),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"labelkeep start did not stop:\n{stdout}\n{stderr}")
    return process.returncode, stdout, stderr


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.mark.parametrize("missing", ["--cert", "--key"])
def test_a_missing_certificate_or_key_file(tmp_path: Path, missing: str) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    (key if missing == "--cert" else cert).write_text("unused")
    status, stdout, stderr = _start(tmp_path / "data", "--cert", str(cert), "--key", str(key))
    assert status == 2
    absent = cert if missing == "--cert" else key
    assert _one_error_line(stderr) == f"error: {missing} {absent}: no such file"
    assert stdout == ""
    assert not (tmp_path / "data").exists()  # refused before anything was done


def test_a_key_that_is_not_the_certificates(tmp_path: Path) -> None:
    from labelkeep.security.certs import create_self_signed

    create_self_signed(tmp_path / "a.pem", tmp_path / "a.key", ["localhost"])
    create_self_signed(tmp_path / "b.pem", tmp_path / "b.key", ["localhost"])
    status, _, stderr = _start(
        tmp_path / "data", "--cert", str(tmp_path / "a.pem"), "--key", str(tmp_path / "b.key")
    )
    assert status == 2
    assert "not the unencrypted PEM private key of --cert" in _one_error_line(stderr)


@pytest.mark.parametrize("variable", ["SECRET_KEY", "SECRET_KEY_FILE"])
def test_a_short_secret_key(tmp_path: Path, variable: str) -> None:
    short = "too short a key"
    if variable == "SECRET_KEY_FILE":
        (tmp_path / "key").write_text(short)
        short = str(tmp_path / "key")
    status, stdout, stderr = _start(tmp_path / "data", env={variable: short})
    assert status == 2
    line = _one_error_line(stderr)
    assert f"{variable} gives a key of 15 characters; give at least 50" in line
    assert "run `labelkeep start`" not in line
    assert "Serving Labelkeep" not in stdout


def test_a_host_name_in_trusted_proxies_stops_the_start(tmp_path: Path) -> None:
    status, stdout, stderr = _start(tmp_path / "data", env={"TRUSTED_PROXIES": "proxy.internal"})
    assert status != 0
    assert "labelkeep.E004" in stderr and "'proxy.internal'" in stderr
    assert "Traceback" not in stderr
    assert "Serving Labelkeep" not in stdout


@pytest.mark.parametrize("where", ["file", "file/data"])
def test_a_data_directory_that_cannot_be_one(tmp_path: Path, where: str) -> None:
    (tmp_path / "file").write_text("not a directory")
    status, stdout, stderr = _start(tmp_path / where)
    assert status == 2
    assert str(tmp_path / "file") in _one_error_line(stderr)
    assert stdout == ""


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"DATABASE_URL": "garbage"}, "DATABASE_URL is not a database URL"),
        ({"DATABASE_URL": "mongodb://u:secret@db/x"}, "DATABASE_URL has an unknown scheme"),
        ({"DATABASE_URL": "postgres://u@h:notaport/db"}, "DATABASE_URL is not a valid"),
        (
            {"DATABASE_URL": "postgres://u@127.0.0.1:1/db", "DATABASE_SSLMODE": "bogus"},
            "DATABASE_SSLMODE (or sslmode in DATABASE_URL) must be one of",
        ),
        ({"DATABASE_URL": "postgres://u@127.0.0.1:1/db"}, "cannot use the database given by"),
    ],
)
def test_database_settings_that_cannot_work(tmp_path: Path, env: dict[str, str], said: str) -> None:
    status, stdout, stderr = _start(tmp_path / "data", env=env)
    assert status == 2
    line = _one_error_line(stderr)
    assert said in line and "secret" not in line
    assert stdout == ""


def test_a_taken_http_port(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        status, stdout, stderr = _start(tmp_path / "data", "--http-port", str(port))
    assert status == 2
    line = _one_error_line(stderr)
    assert line == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert "Serving Labelkeep" not in stdout
    assert not (tmp_path / "data" / "tls-cert.pem").exists()  # nothing written either


def test_workers_on_a_database_never_migrated_then_a_batch_of_two(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    for command in (["worker", "--batch"], ["jobs", "check", "--timeout", "1"]):
        refused = run_cli(*command, data_dir=data_dir)
        assert refused.returncode == 2, refused.stderr
        assert "run `labelkeep start` once" in _one_error_line(refused.stderr)
    migrate = [str(LABELKEEP), "manage", "--data-dir", str(data_dir), "migrate", "-v", "0"]
    subprocess.run(migrate, env=server_env(), cwd=tmp_path, check=True, timeout=120)
    # Children started by --processes run one batch too, so the whole command ends.
    batch = run_cli("worker", "--processes", "2", "--batch", data_dir=data_dir, timeout=60)
    assert batch.returncode == 0, batch.stderr

"""`labelkeep start` itself: what it prints, and what a restart keeps."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.server.harness import running_server

pytestmark = pytest.mark.server

BANNER = ("Certificate SHA-256 fingerprint:", "Serving Labelkeep at", "First start:")


def test_start_prints_once_and_a_restart_keeps_the_certificate(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running_server(data_dir, "--workers", "2", "--no-worker") as first:
        for _ in range(4):  # every web worker logs a request, flushing its stdout
            with first.client() as client:
                assert client.get("/user/login/").status_code == 200
    output = first.stdout()
    for line in BANNER:
        # Not repeated by the forked web workers, nor by the master when it exits.
        assert output.count(line) == 1, output
    assert "Created a self-signed certificate" in output

    with running_server(data_dir, "--no-worker") as second, second.client() as client:
        # No owner yet: a new setup link, and the first one no longer works.
        assert client.get(httpx.URL(second.setup_url).path).status_code == 200
        assert client.get(httpx.URL(first.setup_url).path).status_code == 404
    assert second.fingerprint == first.fingerprint
    assert "Created a self-signed certificate" not in second.stdout()


def test_a_taken_http_port_stops_the_start(tmp_path: Path) -> None:
    import socket
    import subprocess

    from tests.server.harness import LABELKEEP, free_port, server_env

    with socket.create_server(("127.0.0.1", 0)) as taken:
        command = [
            str(LABELKEEP),
            *("start", "--data-dir", str(tmp_path / "data"), "--port", str(free_port())),
            *("--http-port", str(taken.getsockname()[1]), "--workers", "1"),
        ]
        result = subprocess.run(
            command, env=server_env(), capture_output=True, text=True, timeout=60, check=False
        )
    assert result.returncode != 0
    assert "Address already in use" in result.stderr


@pytest.mark.parametrize("command", ["start", "worker"])
def test_a_setting_the_system_checks_refuse_stops_the_process(tmp_path: Path, command: str) -> None:
    import subprocess

    from tests.server.harness import LABELKEEP, free_port, server_env

    arguments = [command, "--data-dir", str(tmp_path / "data")]
    if command == "start":
        arguments += ["--port", str(free_port()), "--workers", "1"]
    result = subprocess.run(
        [str(LABELKEEP), *arguments],
        env={**server_env(), "SSRF_ALLOWLIST": "files.internal:8080"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "labelkeep.E003" in result.stderr and "files.internal:8080" in result.stderr
    assert "Serving Labelkeep" not in result.stdout


def test_database_file_is_owner_only(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", "--no-worker") as server:
        assert (server.database.stat().st_mode & 0o777) == 0o600

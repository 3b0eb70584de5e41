"""`labelkeep user create`: the scripted install path, from a data directory never started."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.harness import run_cli, running_server

pytestmark = pytest.mark.server

PASSWORD = "scripted install password 4\n"


def _create(data_dir: Path, email: str, *options: str) -> tuple[int, str, str]:
    args = ("user", "create", "--email", email, "--password-stdin", *options)
    result = run_cli(*args, data_dir=data_dir, stdin=PASSWORD)
    return result.returncode, result.stdout, result.stderr


def test_the_first_owner_is_created_on_a_fresh_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    status, stdout, stderr = _create(data_dir, "first@fresh.example", "--token")
    assert status == 0, stderr
    assert stdout.splitlines()[0] == "Created first@fresh.example as owner of 'Labelkeep'"
    token = stdout.splitlines()[-1]
    assert (data_dir / "secret_key").stat().st_mode & 0o777 == 0o600

    with running_server(data_dir, "--no-worker") as server:
        assert "First start:" not in server.stdout()  # the owner exists: no setup link
        with server.client(headers={"Authorization": f"Token {token}"}) as client:
            whoami = client.get("/api/current-user/whoami")
    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["email"] == "first@fresh.example"
    assert whoami.json()["role"] == "owner"


def test_refusals_go_to_stderr_so_the_last_line_is_never_taken_for_a_token(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    assert _create(data_dir, "taken@fresh.example")[0] == 0
    status, stdout, stderr = _create(data_dir, "taken@fresh.example", "--token")
    assert status != 0
    assert stdout == ""
    assert stderr.strip() == "error: An account with this e-mail address already exists."


def test_a_new_organization_is_created_only_with_its_owner(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    status, stdout, stderr = _create(
        data_dir, "ann@fresh.example", "--org", "New", "--role", "annotator"
    )
    assert (status, stdout) == (1, "")
    assert "Organization 'New' does not exist, and a new organization needs an owner" in stderr

    status, stdout, stderr = _create(data_dir, "boss@fresh.example", "--org", "New")
    assert status == 0, stderr
    assert "as owner of 'New'" in stdout
    status, stdout, stderr = _create(
        data_dir, "ann@fresh.example", "--org", "New", "--role", "annotator"
    )
    assert status == 0, stderr
    assert "Created ann@fresh.example as annotator of 'New'" in stdout

"""Command-line options refused by argparse, the help they show, and the data directory's
private modes given back at start."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from labelkeep import datadir
from labelkeep.cli import UsageError, _given_pair, parser
from labelkeep.security.certs import create_self_signed


@pytest.mark.parametrize(
    "argv",
    [
        ["start", "--workers", "0"],
        ["start", "--threads", "0"],
        ["start", "--port", "0"],
        ["start", "--port", "70000"],
        ["start", "--http-port", "65536"],
        ["worker", "--processes", "0"],
        ["worker", "--processes", "-2"],
        ["worker", "--processes", "two"],
        ["worker", "--grace", "-1"],
    ],
)
def test_numbers_that_cannot_work_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(argv)
    assert exited.value.code == 2
    assert f"argument {argv[1]}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("start", ["--host HOST", "(default: 127.0.0.1)", "(default: 8443)", "(default: 2)"]),
        ("start", ["threads per web worker (default: 4)", "(default: off)"]),
        ("worker", ["worker processes;", "(default: 1)", "(default: 30.0)"]),
    ],
)
def test_help_shows_what_options_mean_and_their_defaults(
    command: str, shown: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for words in shown:
        assert words in text


def test_loose_modes_on_secrets_are_tightened_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    for name in ("secret_key", "tls-key.pem", "tls-cert.pem"):
        (data / name).write_text("x")
        (data / name).chmod(0o644)

    said = datadir.tighten(data)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert (mode(data), mode(data / "secret_key"), mode(data / "tls-key.pem")) == (
        0o700,
        0o600,
        0o600,
    )
    assert mode(data / "tls-cert.pem") == 0o644  # public
    assert len(said) == 3 and all(line.startswith("warning: ") for line in said)
    assert "0644" in said[1] and "0600" in said[1]
    assert capsys.readouterr().err.splitlines() == said
    assert datadir.tighten(data) == []


def test_an_unreadable_key_is_said_to_be_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    create_self_signed(cert, key, ["localhost"])
    real = Path.read_bytes

    def unreadable(path: Path) -> bytes:
        if path == key:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", unreadable)
    with pytest.raises(UsageError) as refused:
        _given_pair(str(cert), str(key))
    assert str(refused.value) == f"--key {key}: cannot be read (Permission denied)"

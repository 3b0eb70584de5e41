"""The data directory: secret key, certificate, SQLite database, uploads."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from labelkeep.security.certs import create_self_signed, write_private

DEFAULT = "labelkeep-data"


def prepare(data_dir: Path) -> Path:
    """Create the directory (owner-only) and its secret key if missing; point settings at it."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ["LABELKEEP_DATA_DIR"] = str(data_dir)
    key_file = data_dir / "secret_key"
    if not key_file.exists() and not (
        os.environ.get("SECRET_KEY") or os.environ.get("SECRET_KEY_FILE")
    ):
        write_private(key_file, secrets.token_urlsafe(64).encode("ascii"))
    return data_dir


def certificate(data_dir: Path, hosts: list[str]) -> tuple[Path, Path, bool]:
    """The self-signed pair in the data directory, created on first use."""
    cert, key = data_dir / "tls-cert.pem", data_dir / "tls-key.pem"
    created = False
    if not cert.exists() or not key.exists():
        cert.unlink(missing_ok=True)
        key.unlink(missing_ok=True)
        create_self_signed(cert, key, hosts)
        created = True
    return cert, key, created

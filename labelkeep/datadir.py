"""The data directory: secret key, certificate, SQLite database, uploads."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import stat
import sys
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from labelkeep.env import env_secret
from labelkeep.security.certs import create_self_signed, write_private

DEFAULT = "labelkeep-data"
SECRET_KEY_LENGTH = 50  # the shortest key labelkeep.settings accepts
RENEW_BEFORE = dt.timedelta(days=30)


class DataDirError(Exception):
    """A data directory, key or certificate the commands cannot use; the message says why."""


def prepare(data_dir: Path) -> Path:
    """Create the directory (owner-only) and its secret key if missing; point settings at it."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tighten(data_dir)
    os.environ["LABELKEEP_DATA_DIR"] = str(data_dir)
    key_file = data_dir / "secret_key"
    given = env_secret("SECRET_KEY")
    if given:
        # Said here because the settings' refusal only knows that no usable key was found.
        if len(given) < SECRET_KEY_LENGTH:
            name = "SECRET_KEY_FILE" if os.environ.get("SECRET_KEY_FILE") else "SECRET_KEY"
            raise DataDirError(
                f"{name} gives a key of {len(given)} characters; give at least "
                f"{SECRET_KEY_LENGTH} random characters, or unset it to have one generated "
                f"and kept in {key_file}."
            )
    elif not key_file.exists():
        write_private(key_file, secrets.token_urlsafe(64).encode("ascii"))
    elif len(key_file.read_text(encoding="utf-8").strip()) < SECRET_KEY_LENGTH:
        raise DataDirError(
            f"{key_file} holds fewer than {SECRET_KEY_LENGTH} characters: restore it from a "
            "backup, or delete it to have a new one generated (which signs everyone out)."
        )
    return data_dir


# What only the server's user may read: the directory itself (the database, uploads and
# exports are in it) and the secrets, with the mode each is created with.
PRIVATE = {"": 0o700, "secret_key": 0o600, "tls-key.pem": 0o600}


def tighten(data_dir: Path) -> list[str]:
    """Give the directory and its secret files their private modes back, with a warning on
    standard error for each one that had looser ones (copied, restored from a backup, made
    by hand): a readable secret key lets anyone sign sessions and tokens. Lines returned."""
    said = []
    for name, mode in PRIVATE.items():
        path = data_dir / name if name else data_dir
        try:
            found = stat.S_IMODE(path.lstat().st_mode)
        except FileNotFoundError:
            continue
        if path.is_symlink() or not found & 0o077:
            continue
        try:
            path.chmod(mode)
        except OSError as exc:
            line = (
                f"warning: {path} has mode {found:04o}; could not change it to {mode:04o} "
                f"({exc.strerror})"
            )
        else:
            line = (
                f"warning: {path} had mode {found:04o}, open to other users; changed to {mode:04o}"
            )
        print(line, file=sys.stderr)
        said.append(line)
    return said


def certificate(data_dir: Path, hosts: list[str]) -> tuple[Path, Path, str]:
    """The self-signed pair in the data directory for `hosts`, and a line saying what was
    done ("" when the pair there is kept). The pair is made when missing, and made again
    when the certificate expires within RENEW_BEFORE or does not name every host."""
    cert, key = data_dir / "tls-cert.pem", data_dir / "tls-key.pem"
    if not cert.exists() or not key.exists():
        news = f"Created a self-signed certificate: {cert}"
    elif why := _why_renew(cert, key, hosts):
        news = f"Renewed the self-signed certificate ({why}): {cert}"
    else:
        return cert, key, ""
    new_cert, new_key = cert.with_name(f"{cert.name}.new"), key.with_name(f"{key.name}.new")
    new_cert.unlink(missing_ok=True)
    new_key.unlink(missing_ok=True)
    create_self_signed(new_cert, new_key, hosts)
    # Each file replaced whole: after an interruption the next start can read both (and
    # renews them if the key no longer matches).
    new_key.replace(key)
    new_cert.replace(cert)
    return cert, key, news


def _why_renew(cert_path: Path, key_path: Path, hosts: list[str]) -> str:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise DataDirError(
            f"cannot read {cert_path} and {key_path} ({exc}): delete both to have a new "
            "self-signed pair made, or give your own with --cert and --key."
        ) from None
    if not _self_signed(cert):
        return ""  # not one Labelkeep made: whoever put it there renews it
    if key.public_key() != cert.public_key():
        return "the key did not match it"
    expires = cert.not_valid_after_utc
    if expires - dt.datetime.now(dt.UTC) < RENEW_BEFORE:
        return f"the old one expires {expires:%Y-%m-%d}"
    missing = [host for host in hosts if not _names(cert, host)]
    if missing:
        return f"the old one does not name {', '.join(missing)}"
    return ""


def _self_signed(cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _names(cert: x509.Certificate, host: str) -> bool:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")) in names.get_values_for_type(x509.IPAddress)
    except ValueError:
        return host.lower() in (name.lower() for name in names.get_values_for_type(x509.DNSName))

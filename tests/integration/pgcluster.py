"""A throwaway, TLS-only PostgreSQL cluster on a free loopback port, for tests.

`ssl_only_cluster()` makes a private certificate authority, a server certificate for
`localhost` / `127.0.0.1` and a client certificate, runs `initdb` into a fresh temporary
directory and starts `postgres` listening on 127.0.0.1 only. Its pg_hba.conf accepts
TLS connections and rejects every connection without TLS. Everything is stopped and
removed on exit, also when the body fails.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
`postgres` operating-system user, which owns the server's half of the directory.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from psycopg import sql

SUPERUSER = "postgres"
# A role that may only log in with a client certificate whose CN is its name.
CERT_USER = "labelkeep_cert"
SERVER_OS_USER = "postgres"
START_ATTEMPTS = 5


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are missing or the cluster would not start."""


@dataclass(frozen=True)
class Cluster:
    port: int
    ca_cert: Path  # the CA that signed the server and client certificates
    other_ca_cert: Path  # an unrelated CA that signed nothing here
    client_cert: Path  # CN = CERT_USER
    client_key: Path


# --- certificates ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Labelkeep tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    common_name: str,
    *,
    issuer: _Issued | None,
    ca: bool = False,
    usage: x509.ObjectIdentifier | None = None,
    sans: list[x509.GeneralName] | None = None,
) -> _Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.cert.subject if issuer else _name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return _Issued(builder.sign(signer_key, hashes.SHA256()), key)


def _write_cert(path: Path, issued: _Issued) -> None:
    path.write_bytes(issued.cert.public_bytes(serialization.Encoding.PEM))


def _write_key(path: Path, issued: _Issued) -> None:
    pem = issued.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Both the server and libpq refuse private keys readable by group or others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


# --- server ---------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """The newest installed PostgreSQL server's bin directory; an error if there is none."""
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in root.glob("*") if (p / "bin" / "initdb").is_file()),
        key=lambda p: [int(part) for part in p.name.split(".") if part.isdigit()],
    )
    if versions:
        return versions[-1] / "bin"
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresUnavailable(
        f"No PostgreSQL server binaries (initdb) under {root} or on PATH; "
        "install the PostgreSQL server (scripts/install-system-deps.sh)."
    )


def _as_server_user() -> list[str]:
    return ["runuser", "-u", SERVER_OS_USER, "--"] if os.geteuid() == 0 else []


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for parent, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(Path(parent) / name, uid, gid)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _as_server_user() + args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@contextmanager
def ssl_only_cluster() -> Iterator[Cluster]:
    """Start a TLS-only cluster; stop it and delete its files on exit."""
    bindir = postgres_bindir()
    base = Path(tempfile.mkdtemp(prefix="labelkeep-pg-"))
    server_dir = base / "server"  # owned by the server's OS user
    client_dir = base / "client"  # owned by the test process
    data = server_dir / "data"
    log = server_dir / "postgres.log"
    started = False
    try:
        base.chmod(0o711)
        server_dir.mkdir(mode=0o700)
        client_dir.mkdir(mode=0o700)

        ca = _certificate("Labelkeep test CA", issuer=None, ca=True)
        other_ca = _certificate("Unrelated test CA", issuer=None, ca=True)
        server = _certificate(
            "localhost",
            issuer=ca,
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            sans=[
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
            ],
        )
        client = _certificate(CERT_USER, issuer=ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH)

        _write_cert(server_dir / "ca.pem", ca)
        _write_cert(server_dir / "server.crt", server)
        _write_key(server_dir / "server.key", server)
        _write_cert(client_dir / "ca.pem", ca)
        _write_cert(client_dir / "other-ca.pem", other_ca)
        _write_cert(client_dir / "client.crt", client)
        _write_key(client_dir / "client.key", client)

        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVER_OS_USER)
            _chown_tree(server_dir, account.pw_uid, account.pw_gid)

        initdb = _run(
            [
                str(bindir / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
            cwd=server_dir,
        )
        if initdb.returncode != 0:
            raise PostgresUnavailable(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}")

        with (data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                "\n# labelkeep test cluster\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = {_quote(str(server_dir))}\n"
                "ssl = on\n"
                f"ssl_cert_file = {_quote(str(server_dir / 'server.crt'))}\n"
                f"ssl_key_file = {_quote(str(server_dir / 'server.key'))}\n"
                f"ssl_ca_file = {_quote(str(server_dir / 'ca.pem'))}\n"
                "ssl_min_protocol_version = 'TLSv1.2'\n"
                "max_connections = 20\n"
                "shared_buffers = 16MB\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
            )
        (data / "pg_hba.conf").write_text(
            "# TYPE     DATABASE USER           ADDRESS       METHOD\n"
            f"hostssl    all      {CERT_USER} 127.0.0.1/32  cert\n"
            "hostssl    all      all            127.0.0.1/32  trust\n"
            "hostnossl  all      all            0.0.0.0/0     reject\n",
            encoding="utf-8",
        )

        # Another test process may take the port between probing and binding: retry.
        failures: list[str] = []
        for _ in range(START_ATTEMPTS):
            port = _free_port()
            start = _run(
                [
                    str(bindir / "pg_ctl"),
                    "start",
                    "--pgdata",
                    str(data),
                    "--wait",
                    "--timeout",
                    "60",
                    "--log",
                    str(log),
                    "-o",
                    f"-p {port}",
                ],
                cwd=server_dir,
            )
            started = True  # stop it on exit whatever pg_ctl reported
            if start.returncode == 0:
                break
            _stop(bindir, data, server_dir)
            started = False
            failures.append(f"port {port}: {start.stdout}{start.stderr}")
        else:
            log_text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
            raise PostgresUnavailable(
                "PostgreSQL would not start:\n" + "\n".join(failures) + "\n" + log_text
            )

        cluster = Cluster(
            port=port,
            ca_cert=client_dir / "ca.pem",
            other_ca_cert=client_dir / "other-ca.pem",
            client_cert=client_dir / "client.crt",
            client_key=client_dir / "client.key",
        )
        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user=SUPERUSER,
            dbname="postgres",
            sslmode="verify-full",
            sslrootcert=str(cluster.ca_cert),
            autocommit=True,
        ) as admin:
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(CERT_USER)))
        yield cluster
    finally:
        try:
            if started:
                _stop(bindir, data, server_dir)
        finally:
            shutil.rmtree(base, ignore_errors=True)


def _stop(bindir: Path, data: Path, cwd: Path) -> None:
    _run(
        [str(bindir / "pg_ctl"), "stop", "--pgdata", str(data), "-m", "immediate", "--wait"],
        cwd=cwd,
    )

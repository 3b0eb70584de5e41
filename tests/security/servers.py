"""Real HTTP(S) servers on loopback, a throwaway CA, and a resolver with fixed answers.

The guarded client refuses loopback, so tests reach these servers only through
`SSRF_ALLOWLIST` — and show that without it the same URL is refused.
"""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from labelkeep.security.http import IPAddress

SECRET_BODY = b"db_password=hunter2-UPSTREAM-SECRET"


@cache
def gzip_bomb() -> bytes:
    """32 MiB of zeros in about 32 KiB."""
    return gzip.compress(b"\0" * (32 * 1024 * 1024), compresslevel=9)


class Handler(BaseHTTPRequestHandler):
    """Routes by path; HTTP/1.0, so a body without Content-Length ends when we close."""

    server: TestHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        self.server.seen.append(Seen(self.command, self.path, dict(self.headers.items())))
        route = getattr(self, f"route_{url.path.strip('/').replace('-', '_') or 'ok'}", None)
        if route is None:
            self.reply(404, b"no such route")
        else:
            route(query)

    do_POST = do_GET
    do_HEAD = do_GET

    def reply(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def route_ok(self, query: dict[str, str]) -> None:
        self.reply(200, f"hello from {self.server.name}".encode())

    def route_echo(self, query: dict[str, str]) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        seen = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": self.rfile.read(length).decode(),
        }
        self.reply(200, json.dumps(seen).encode(), Content_Type="application/json")

    def route_redirect(self, query: dict[str, str]) -> None:
        self.reply(int(query.get("status", "302")), b"moved", Location=query["to"])

    def route_loop(self, query: dict[str, str]) -> None:
        self.reply(302, b"again", Location="/loop")

    def route_sized(self, query: dict[str, str]) -> None:
        self.reply(200, b"x" * int(query["size"]))

    def route_unsized(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.end_headers()
        for _ in range(int(query["size"]) // 1000):
            self.wfile.write(b"y" * 1000)

    def route_status(self, query: dict[str, str]) -> None:
        self.reply(int(query["code"]), b"status body")

    def route_secret(self, query: dict[str, str]) -> None:
        self.reply(int(query.get("code", "500")), SECRET_BODY)

    def route_gzip_bomb(self, query: dict[str, str]) -> None:
        self.reply(200, gzip_bomb(), Content_Encoding="gzip")

    def route_slow(self, query: dict[str, str]) -> None:
        self.server.stopping.wait(float(query["seconds"]))
        self.reply(200, b"late")

    def route_trickle(self, query: dict[str, str]) -> None:
        """Headers at once, then a byte every 0.1 s: every read is quick, the sum is not."""
        self.send_response(200)
        self.end_headers()
        self.drip(b"z" * 200)

    def route_trickle_headers(self, query: dict[str, str]) -> None:
        """The status line, then the headers a byte every 0.1 s."""
        self.wfile.write(b"HTTP/1.0 200 OK\r\n")
        self.drip(b"X-Slow: " + b"s" * 200 + b"\r\n\r\n")

    def drip(self, data: bytes) -> None:
        try:
            for byte in data:
                if self.server.stopping.wait(0.1):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        except OSError:
            return  # the client hung up: what the tests want


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]


class TestHTTPServer(ThreadingHTTPServer):
    """A threaded server that records requests and, with `tls`, speaks HTTPS."""

    def __init__(self, address: tuple[str, int], name: str, tls: ssl.SSLContext | None) -> None:
        self.name = name
        self.tls = tls
        self.seen: list[Seen] = []
        self.server_names: list[str | None] = []
        self.stopping = threading.Event()
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(10)
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        try:  # the handshake runs here, in the request's own thread
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except OSError:
            return  # a client that refused our certificate
        with wrapped:
            super().finish_request(wrapped, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up early are part of the tests


@dataclass
class Running:
    """A started server and how to address it."""

    server: TestHTTPServer
    scheme: str

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def seen(self) -> list[Seen]:
        return self.server.seen

    def url(self, path: str = "/ok", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"


@contextmanager
def serving(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    name: str = "server",
    tls: ssl.SSLContext | None = None,
) -> Iterator[Running]:
    server = TestHTTPServer((host, port), name, tls)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield Running(server, "https" if tls else "http")
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def serving_pair(first: str, second: str) -> Iterator[tuple[Running, Running]]:
    """Two servers on one port number, on two loopback addresses."""
    for _ in range(50):
        with serving(first, name=first) as one:
            try:
                other = serving(second, one.port, name=second)
                two = other.__enter__()
            except OSError:
                continue  # that port is taken on the second address; try another
            try:
                yield one, two
            finally:
                other.__exit__(None, None, None)
            return
    raise RuntimeError("no port free on both addresses")


# --- A throwaway certificate authority ---


@dataclass(frozen=True)
class Authority:
    """A CA file and a server certificate it signed, for the names given."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self, server_names: list[str | None]) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)

        def record(sock: Any, name: str | None, ctx: Any) -> None:
            server_names.append(name)

        context.sni_callback = record
        return context


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_authority(directory: Path, dns_names: Sequence[str]) -> Authority:
    """A CA and a leaf for `dns_names` only (no IP address in it), as PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Labelkeep test CA"))
        .issuer_name(_name("Labelkeep test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_names[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    authority = Authority(directory / "ca.pem", directory / "server.pem", directory / "key.pem")
    authority.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    authority.cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    authority.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return authority


# --- A resolver with fixed answers ---


@dataclass
class FakeDNS:
    """Answers from a table, one list of addresses per lookup (the last one repeats).

    Records every lookup; never touches the network.
    """

    table: dict[str, list[list[str]]]
    lookups: list[str] = field(default_factory=list)

    @classmethod
    def fixed(cls, **names: str) -> FakeDNS:
        """`FakeDNS.fixed(public_test="127.0.0.1")`: `_` in a keyword stands for `.`."""
        return cls({name.replace("_", "."): [[address]] for name, address in names.items()})

    def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        answers = self.table.get(host)
        if answers is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = answers[min(self.lookups.count(host), len(answers)) - 1]
        return [ipaddress.ip_address(address) for address in answer]

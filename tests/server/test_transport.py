"""Promise 1 (encrypted transport), checked against the real `labelkeep start` process."""

from __future__ import annotations

import hashlib
import socket
import ssl
import stat
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.server.harness import RunningServer, trust

pytestmark = pytest.mark.server


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_are_owner_only(server: RunningServer) -> None:
    assert _mode(server.data_dir) == 0o700
    assert _mode(server.data_dir / "secret_key") == 0o600
    assert _mode(server.data_dir / "tls-key.pem") == 0o600


def test_printed_fingerprint_is_the_served_certificate(server: RunningServer) -> None:
    on_disk = x509.load_pem_x509_certificate(server.cert.read_bytes())
    der = on_disk.public_bytes(serialization.Encoding.DER)
    expected = hashlib.sha256(der).hexdigest().upper()
    assert server.fingerprint.replace(":", "") == expected
    assert server.fingerprint == hashlib.sha256(der).digest().hex(":").upper()
    served = ssl.get_server_certificate(("127.0.0.1", server.port), timeout=10)
    assert ssl.PEM_cert_to_DER_cert(served) == der


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_certificate_is_valid_for_local_names(server: RunningServer, host: str) -> None:
    # `trust()` verifies both the chain and the host name: the printed URL says localhost.
    with httpx.Client(verify=trust(server.cert), timeout=15) as client:
        assert client.get(f"https://{host}:{server.port}/user/login/").status_code == 200


def test_untrusted_client_refuses_the_self_signed_certificate(server: RunningServer) -> None:
    with (
        httpx.Client(verify=ssl.create_default_context(), timeout=15) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.get(f"{server.origin}/user/login/")


@pytest.mark.parametrize(
    ("path", "status"),
    [("/user/login/", 200), ("/api/current-user/whoami", 401), ("/no/such/page/", 404)],
)
def test_security_headers(server: RunningServer, path: str, status: int) -> None:
    with server.client() as client:
        response = client.get(path)
    assert response.status_code == status
    headers = response.headers
    hsts = dict(
        part.strip().partition("=")[::2] for part in headers["Strict-Transport-Security"].split(";")
    )
    assert int(hsts["max-age"]) >= 31_536_000
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] in {"same-origin", "no-referrer", "strict-origin"}
    directives = {
        name: values
        for name, *values in (d.split() for d in headers["Content-Security-Policy"].split(";"))
    }
    script_src = directives.get("script-src", directives["default-src"])
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]


def test_csrf_cookie_is_secure_httponly_samesite(server: RunningServer) -> None:
    with server.client() as client:
        response = client.get("/user/login/")
    cookies: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    csrf = cookies["csrftoken"]
    assert csrf["secure"] is True
    assert csrf["httponly"] is True
    assert csrf["samesite"].lower() in {"lax", "strict"}


def _handshake(server: RunningServer, maximum: ssl.TLSVersion) -> str | None:
    """The negotiated protocol version, for a client that offers versions up to `maximum`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(server.cert)
    # Let this client offer the old protocols at all (OpenSSL's defaults would not), so
    # that a refusal below comes from the server.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = maximum
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        return tls.version()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls_below_1_2_is_refused(server: RunningServer, maximum: ssl.TLSVersion) -> None:
    with pytest.raises(ssl.SSLError) as refused:
        _handshake(server, maximum)
    # The server's alert, not this client failing to offer anything.
    assert refused.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION"


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize(
    ("maximum", "negotiated"),
    [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")],
)
def test_tls_1_2_and_1_3_work(
    server: RunningServer, maximum: ssl.TLSVersion, negotiated: str
) -> None:
    assert _handshake(server, maximum) == negotiated


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize("path", ["/", "/user/login/?next=/x", "/api/current-user/whoami"])
def test_plain_http_only_redirects(server: RunningServer, method: str, path: str) -> None:
    with httpx.Client(timeout=15) as client:
        response = client.request(
            method, f"http://127.0.0.1:{server.http_port}{path}", headers={"Host": "localhost"}
        )
    assert response.status_code == 308
    assert response.headers["Location"] == f"https://localhost:{server.port}{path}"
    assert response.content == b""


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:80", "localhost.evil.example", "[::ffff:1.2.3.4]:80"]
)
def test_plain_http_never_redirects_to_a_foreign_host(server: RunningServer, host: str) -> None:
    with httpx.Client(timeout=15) as client:
        response = client.get(
            f"http://127.0.0.1:{server.http_port}/user/login/", headers={"Host": host}
        )
    assert response.status_code == 308
    location = httpx.URL(response.headers["Location"])
    assert location.scheme == "https"
    assert location.host in {"localhost", "127.0.0.1", "::1"}
    assert location.port == server.port
    assert location.path == "/user/login/"


def test_requests_refused_before_django_get_json_and_the_security_headers(
    server: RunningServer,
) -> None:
    # A request line over gunicorn's limit (a task-list `query` with thousands of ids).
    with server.client() as client:
        response = client.get("/api/tasks/", params={"query": "x" * 9000})
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["status_code"] == 400 and "too large" in body["detail"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert int(response.headers["Strict-Transport-Security"].split("=")[1]) >= 31_536_000

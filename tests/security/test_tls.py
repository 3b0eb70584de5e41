"""HTTPS through the guard, and the outbound trust store (DESIGN.md promises 6 and 10).

The test server's certificate, from a throwaway CA, names `public.test` only. The fake
resolver maps `public.test` to 127.0.0.1 (allowlisted by name): the connection goes to
the address while SNI and verification use the name.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from labelkeep.security.http import BlockedURL, FetchError, fetch
from labelkeep.security.trust import outbound_ssl_context
from tests.security.servers import Authority, FakeDNS, Running

DNS = FakeDNS.fixed(public_test="127.0.0.1", other_test="127.0.0.1")


def get(url: str) -> Any:
    return fetch(url, max_bytes=100_000, timeout=5, resolver=DNS)


@pytest.fixture
def trusted(settings: Any, authority: Authority) -> None:
    settings.SSRF_ALLOWLIST = ["public.test", "other.test", "127.0.0.1/32"]
    settings.CUSTOM_CA_CERTS = [str(authority.ca_file)]


@pytest.mark.usefixtures("trusted")
def test_sni_host_and_verification_use_the_name(https_server: Running) -> None:
    result = get(https_server.url("/echo", host="public.test"))
    assert result.status == 200
    assert json.loads(result.content)["headers"]["host"] == f"public.test:{https_server.port}"
    assert https_server.server.server_names == ["public.test"]


def test_without_the_custom_ca_verification_fails(https_server: Running, settings: Any) -> None:
    settings.SSRF_ALLOWLIST = ["public.test"]
    with pytest.raises(FetchError, match=r"TLS certificate of public\.test could not be") as failed:
        get(https_server.url("/ok", host="public.test"))
    assert failed.value.transient is False
    assert https_server.seen == []


@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize("host", ["other.test", "127.0.0.1"])
def test_a_certificate_for_another_name_is_refused(https_server: Running, host: str) -> None:
    """Same server, same address, trusted CA: only the name differs, and it is checked."""
    with pytest.raises(FetchError, match=f"TLS certificate of {host} could not be verified"):
        get(https_server.url("/ok", host=host))
    assert https_server.seen == []


def test_the_guard_still_applies_to_https(https_server: Running, settings: Any) -> None:
    settings.CUSTOM_CA_CERTS = []
    with pytest.raises(BlockedURL, match=r"public\.test resolves to a loopback address"):
        get(https_server.url("/ok", host="public.test"))


# --- The trust store other clients reuse ---


def _handshake(port: int, context: ssl.SSLContext) -> str:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="public.test") as tls,
    ):
        return str(tls.version())


def test_outbound_context_trusts_custom_cas(
    https_server: Running, authority: Authority, settings: Any
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(https_server.port, outbound_ssl_context())
    settings.CUSTOM_CA_CERTS = [str(authority.ca_file)]
    assert _handshake(https_server.port, outbound_ssl_context()) in ("TLSv1.2", "TLSv1.3")


def test_outbound_context_is_strict_and_never_shared(authority: Authority) -> None:
    first = outbound_ssl_context([str(authority.ca_file)])
    assert first is not outbound_ssl_context([str(authority.ca_file)])
    assert first.verify_mode == ssl.CERT_REQUIRED
    assert first.check_hostname is True
    assert first.minimum_version == ssl.TLSVersion.TLSv1_2
    assert len(first.get_ca_certs()) > 100  # certifi and system roots, plus ours


@pytest.mark.parametrize("content", [None, b"not a certificate\n"])
def test_unreadable_ca_files_are_a_configuration_error(
    tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImproperlyConfigured, match=f"CUSTOM_CA_CERTS: cannot load {path}"):
        outbound_ssl_context([str(path)])


@pytest.mark.usefixtures("trusted")
def test_the_total_time_limit_holds_over_tls(https_server: Running) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"public\.test did not answer in time"):
        fetch(
            https_server.url("/trickle", host="public.test"),
            max_bytes=1000,
            timeout=1,
            resolver=DNS,
        )
    assert time.monotonic() - started < 2

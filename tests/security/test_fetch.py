"""The guarded client against real servers on loopback (DESIGN.md promise 6).

The servers are on 127.0.0.1, which the guard refuses; each test opens the way with
`SSRF_ALLOWLIST` (or a fake name mapped to loopback and allowlisted by name) and, where
it matters, shows the same URL refused without it.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from labelkeep.security.http import BlockedURL, FetchError, fetch, open_stream
from tests.security.servers import SECRET_BODY, FakeDNS, Running, serving, serving_pair


def get(url: str, **kwargs: Any) -> Any:
    kwargs.setdefault("max_bytes", 100_000)
    kwargs.setdefault("timeout", 5)
    return fetch(url, **kwargs)


@pytest.fixture
def public_test(settings: Any) -> FakeDNS:
    """`public.test` is 127.0.0.1 and allowlisted by name — and only by name."""
    settings.SSRF_ALLOWLIST = ["public.test"]
    return FakeDNS.fixed(public_test="127.0.0.1", other_test="127.0.0.1")


def test_loopback_is_refused_unless_allowlisted(http_server: Running, settings: Any) -> None:
    with pytest.raises(BlockedURL, match=r"127\.0\.0\.1 is a loopback address"):
        get(http_server.url())
    assert http_server.seen == []
    settings.SSRF_ALLOWLIST = ["127.0.0.1/32"]
    result = get(http_server.url("/ok?x=1"))
    assert (result.status, result.content) == (200, b"hello from plain")
    assert result.final_url == http_server.url("/ok?x=1")
    assert result.headers["content-length"] == str(len(result.content))


def test_protection_off_reaches_loopback(http_server: Running, settings: Any) -> None:
    settings.SSRF_PROTECTION_ENABLED = False
    assert get(http_server.url()).content == b"hello from plain"


def test_request_carries_the_original_host_and_path(
    http_server: Running, public_test: FakeDNS
) -> None:
    url = http_server.url("/echo?q=%C3%A9&x=1#fragment", host="public.test")
    seen = json.loads(get(url, resolver=public_test).content)
    assert seen["headers"]["host"] == f"public.test:{http_server.port}"
    assert seen["path"] == "/echo?q=%C3%A9&x=1"
    assert seen["headers"]["user-agent"] == "Labelkeep"


def test_an_allowlisted_name_does_not_allowlist_its_address(
    http_server: Running, public_test: FakeDNS
) -> None:
    assert get(http_server.url(host="public.test"), resolver=public_test).status == 200
    with pytest.raises(BlockedURL):
        get(http_server.url(host="127.0.0.1"), resolver=public_test)
    unlisted = FakeDNS.fixed(elsewhere_test="127.0.0.1")
    with pytest.raises(BlockedURL, match=r"elsewhere\.test resolves to a loopback address"):
        get(http_server.url(host="elsewhere.test"), resolver=unlisted)


def test_post_sends_body_and_caller_headers(http_server: Running, public_test: FakeDNS) -> None:
    result = get(
        http_server.url("/echo", host="public.test"),
        method="POST",
        body=b'{"event": "ANNOTATION_CREATED"}',
        headers={"Content-Type": "application/json", "Host": "evil.test", "X-Token": "t"},
        resolver=public_test,
    )
    seen = json.loads(result.content)
    assert seen["method"] == "POST"
    assert seen["body"] == '{"event": "ANNOTATION_CREATED"}'
    assert seen["headers"]["x-token"] == "t"
    assert seen["headers"]["host"] == f"public.test:{http_server.port}"  # never the caller's


# --- Redirects ---


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:{port}/ok",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://2852039166/latest/meta-data/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
    ],
)
def test_a_redirect_to_a_refused_target_is_refused(
    http_server: Running, public_test: FakeDNS, monkeypatch: pytest.MonkeyPatch, location: str
) -> None:
    connects: list[Any] = []
    real_connect = socket.socket.connect

    def recording_connect(sock: socket.socket, address: Any) -> None:
        connects.append(address[0])
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    target = location.format(port=http_server.port)
    url = http_server.url(f"/redirect?to={target}", host="public.test")
    with pytest.raises(BlockedURL):
        get(url, resolver=public_test)
    assert [seen.path for seen in http_server.seen] == [f"/redirect?to={target}"]
    assert connects == ["127.0.0.1"]  # the first hop only; never the metadata address


def test_allowed_redirects_are_followed(http_server: Running, public_test: FakeDNS) -> None:
    relative = http_server.url("/redirect?to=/ok&status=301", host="public.test")
    result = get(relative, resolver=public_test)
    assert (result.status, result.content) == (200, b"hello from plain")
    assert result.final_url == http_server.url("/ok", host="public.test")
    assert public_test.lookups == ["public.test", "public.test"]  # resolved again per hop


def test_redirects_are_limited(http_server: Running, public_test: FakeDNS) -> None:
    with pytest.raises(FetchError, match=r"Too many redirects \(more than 5\)") as failed:
        get(http_server.url("/loop", host="public.test"), resolver=public_test)
    assert failed.value.transient is False
    assert len(http_server.seen) == 6
    with pytest.raises(FetchError, match=r"more than 0"):
        get(http_server.url("/loop", host="public.test"), resolver=public_test, max_redirects=0)


def test_303_turns_a_post_into_a_get(http_server: Running, public_test: FakeDNS) -> None:
    url = http_server.url("/redirect?to=/echo&status=303", host="public.test")
    result = get(url, method="POST", body=b"payload", resolver=public_test)
    assert json.loads(result.content)["method"] == "GET"
    url = http_server.url("/redirect?to=/echo&status=307", host="public.test")
    seen = json.loads(get(url, method="POST", body=b"payload", resolver=public_test).content)
    assert (seen["method"], seen["body"]) == ("POST", "payload")


def test_credentials_are_not_sent_to_another_origin(
    http_server: Running, public_test: FakeDNS, settings: Any
) -> None:
    settings.SSRF_ALLOWLIST = ["public.test", "other.test"]
    headers = {"Authorization": "Bearer s3cret", "Cookie": "a=b", "X-Other": "kept"}
    same = http_server.url("/redirect?to=/echo", host="public.test")
    seen = json.loads(get(same, headers=headers, resolver=public_test).content)["headers"]
    assert seen["authorization"] == "Bearer s3cret"
    elsewhere = http_server.url("/echo", host="other.test")
    other = http_server.url(f"/redirect?to={elsewhere}", host="public.test")
    seen = json.loads(get(other, headers=headers, resolver=public_test).content)["headers"]
    assert "authorization" not in seen
    assert "cookie" not in seen
    assert (seen["x-other"], seen["host"]) == ("kept", f"other.test:{http_server.port}")


# --- DNS rebinding ---


def test_rebinding_connects_to_the_address_that_was_checked(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name answers an allowed address first and a refused one after.

    127.0.0.2 stands in for a public address (allowlisted); 127.0.0.1 is the internal
    service. Both listen on the same port. The system resolver is also made to answer
    127.0.0.1, so a client that looked the name up again (itself or through urllib3)
    would reach the internal service.
    """
    settings.SSRF_ALLOWLIST = ["127.0.0.2/32"]
    rebinding = FakeDNS({"rebind.test": [["127.0.0.2"], ["127.0.0.1"]]})
    real_getaddrinfo = socket.getaddrinfo

    def system_resolver_rebinds(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real_getaddrinfo("127.0.0.1" if host == "rebind.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", system_resolver_rebinds)
    with serving_pair("127.0.0.2", "127.0.0.1") as (checked, internal):
        result = get(f"http://rebind.test:{checked.port}/ok", resolver=rebinding)
        assert result.content == b"hello from 127.0.0.2"
        assert internal.seen == []
        assert checked.seen[0].headers["Host"] == f"rebind.test:{checked.port}"
    assert rebinding.lookups == ["rebind.test"]
    # Asked again, the name now answers the internal address, and is refused.
    with pytest.raises(BlockedURL, match=r"rebind\.test resolves to a loopback address"):
        get("http://rebind.test/ok", resolver=rebinding)


def test_rebinding_to_a_public_address_connects_only_there(monkeypatch: pytest.MonkeyPatch) -> None:
    """A truly public first answer: the connect goes to it (no internet here: recorded, cut)."""
    rebinding = FakeDNS({"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
    connects: list[Any] = []

    def refuse(sock: socket.socket, address: Any) -> None:
        connects.append(address[:2])
        raise ConnectionRefusedError("no internet in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    with pytest.raises(FetchError, match=r"Could not connect to rebind\.test") as failed:
        get("http://rebind.test/ok", resolver=rebinding)
    assert failed.value.transient is True
    assert connects == [("93.184.216.34", 80)]
    assert rebinding.lookups == ["rebind.test"]


def test_every_checked_address_is_tried_in_order(
    http_server: Running, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.SSRF_ALLOWLIST = ["127.0.0.0/8"]
    dns = FakeDNS({"two.test": [["127.0.0.3", "127.0.0.1"]]})  # nothing listens on .3
    assert get(http_server.url(host="two.test"), resolver=dns).status == 200


# --- Size and time limits ---


def test_declared_length_over_the_limit_is_refused_before_reading(
    http_server: Running, public_test: FakeDNS
) -> None:
    url = http_server.url("/sized?size=5000", host="public.test")
    with pytest.raises(FetchError, match=r"larger than the limit of 4999 bytes") as failed:
        get(url, max_bytes=4999, resolver=public_test)
    assert failed.value.transient is False
    assert len(get(url, max_bytes=5000, resolver=public_test).content) == 5000


def test_undeclared_length_is_counted_while_streaming(
    http_server: Running, public_test: FakeDNS
) -> None:
    url = http_server.url("/unsized?size=300000", host="public.test")
    with pytest.raises(FetchError, match=r"larger than the limit of 100000 bytes"):
        get(url, max_bytes=100_000, resolver=public_test)
    assert len(get(url, max_bytes=300_000, resolver=public_test).content) == 300_000


def test_streaming_reads_in_chunks_and_stops_at_the_limit(
    http_server: Running, public_test: FakeDNS
) -> None:
    url = http_server.url("/unsized?size=300000", host="public.test")
    received = 0
    with open_stream(url, max_bytes=200_000, timeout=5, resolver=public_test) as stream:
        assert stream.status == 200
        assert "content-length" not in stream.headers
        with pytest.raises(FetchError, match=r"larger than the limit"):
            for chunk in stream.iter_bytes(chunk_size=10_000):
                assert len(chunk) <= 10_000
                received += len(chunk)
    assert received == 200_000


def test_a_compression_bomb_is_limited_by_decoded_size(
    http_server: Running, public_test: FakeDNS
) -> None:
    url = http_server.url("/gzip-bomb", host="public.test")
    with pytest.raises(FetchError, match=r"larger than the limit of 1000000 bytes"):
        get(url, max_bytes=1_000_000, resolver=public_test)


def test_a_server_that_does_not_answer_times_out(
    http_server: Running, public_test: FakeDNS
) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"public\.test did not answer in time") as failed:
        get(
            http_server.url("/slow?seconds=10", host="public.test"),
            timeout=0.5,
            resolver=public_test,
        )
    assert time.monotonic() - started < 2
    assert failed.value.transient is True


@pytest.mark.parametrize("path", ["/trickle", "/trickle-headers"])
def test_the_time_limit_is_total_not_per_read(
    http_server: Running, public_test: FakeDNS, path: str
) -> None:
    """A byte every 0.1 s never trips a per-read timeout; the total one still holds."""
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"did not answer in time"):
        get(http_server.url(path, host="public.test"), timeout=1, resolver=public_test)
    assert time.monotonic() - started < 2


def test_connection_refused_is_transient(settings: Any) -> None:
    settings.SSRF_ALLOWLIST = ["127.0.0.1/32"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(FetchError, match=r"Could not connect to 127\.0\.0\.1") as failed:
        get(f"http://127.0.0.1:{closed_port}/")
    assert failed.value.transient is True


# --- Errors never carry the upstream body ---


def _chain(exc: BaseException | None) -> str:
    text = ""
    while exc is not None:
        text += f"{exc!s} {exc!r} {getattr(exc, 'args', '')}"
        exc = exc.__cause__ or exc.__context__
    return text


@pytest.mark.parametrize(
    ("code", "transient"), [(500, True), (503, True), (404, False), (403, False), (429, True)]
)
def test_error_statuses_never_echo_the_body(
    http_server: Running, public_test: FakeDNS, code: int, transient: bool
) -> None:
    url = http_server.url(f"/secret?code={code}", host="public.test")
    with pytest.raises(FetchError) as failed:
        get(url, resolver=public_test)
    assert str(failed.value) == f"public.test answered HTTP {code}."
    assert (failed.value.status, failed.value.transient) == (code, transient)
    assert SECRET_BODY.decode() not in _chain(failed.value)
    assert b"hunter2" not in repr(vars(failed.value)).encode()


def test_without_raise_for_status_the_caller_gets_the_response(
    http_server: Running, public_test: FakeDNS
) -> None:
    url = http_server.url("/secret", host="public.test")
    result = get(url, resolver=public_test, raise_for_status=False)
    assert (result.status, result.content) == (500, SECRET_BODY)


def test_head_requests_ignore_the_declared_length(
    http_server: Running, public_test: FakeDNS
) -> None:
    url = http_server.url("/sized?size=5000", host="public.test")
    result = get(url, method="HEAD", max_bytes=10, resolver=public_test)
    assert (result.status, result.content) == (200, b"")


def test_servers_on_ipv6_loopback(settings: Any) -> None:
    try:
        context = serving("::1", name="v6")
        running = context.__enter__()
    except OSError:
        pytest.fail("IPv6 loopback is unavailable on this machine")
    try:
        with pytest.raises(BlockedURL, match=r"::1 is a loopback address"):
            get(running.url(host="[::1]"))
        settings.SSRF_ALLOWLIST = ["::1"]
        assert get(running.url(host="[::1]")).content == b"hello from v6"
    finally:
        context.__exit__(None, None, None)

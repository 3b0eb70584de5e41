"""What the guard refuses before any network I/O (DESIGN.md promise 6, THREATS.md SSRF).

Every test here runs with a tripwire on DNS and on socket connects: a refusal that needed
a lookup or a connection fails the test.
"""

from __future__ import annotations

import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

import labelkeep.settings
from labelkeep.security.http import BlockedURL, FetchError, check_allowlist, check_url, fetch
from tests.security.conftest import never_resolve
from tests.security.servers import FakeDNS

pytestmark = pytest.mark.usefixtures("no_network")


def fetched(url: str, *, resolver: Any = never_resolve) -> None:
    fetch(url, max_bytes=1000, timeout=5, resolver=resolver)


def checked(url: str, *, resolver: Any = never_resolve) -> None:
    check_url(url, resolver=resolver)


GUARDS = pytest.mark.parametrize("guard", [checked, fetched], ids=["check_url", "fetch"])
Guard = Callable[..., None]


def bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address


# --- Schemes and malformed URLs ---


@GUARDS
@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "ftp://ftp.example.com/file",
        "gopher://127.0.0.1:6379/_INFO",
        "dict://127.0.0.1:11211/stat",
        "ldap://127.0.0.1/",
        "javascript:alert(1)",
        "data:text/plain,hello",
        "//public.test/no-scheme",
        "public.test/no-scheme",
    ],
)
def test_only_http_and_https_are_fetched(guard: Guard, url: str) -> None:
    with pytest.raises(BlockedURL, match=r"Only http:// and https://"):
        guard(url)


def test_other_schemes_stay_refused_with_protection_off(settings: Any) -> None:
    settings.SSRF_PROTECTION_ENABLED = False
    for url in ("file:///etc/passwd", "gopher://127.0.0.1:70/", "data:,x"):
        with pytest.raises(BlockedURL):
            fetched(url)


@GUARDS
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://user:secret@public.test/", "user name or password"),
        ("http://@public.test/", "user name or password"),
        ("http:///etc/passwd", "no host"),
        ("http://public.test:99999/", "not a valid URL"),
        ("http://public.test:0/", "Port 0"),
        ("http://[::1/", "not a valid URL"),
        ("http://public.test/a b", "spaces or control characters"),
        ("http://public.test/\r\nX-Injected: 1", "spaces or control characters"),
        ("http://pub%6cic.test/", "not a valid host name"),
        ("http://[fe80::1%25eth0]/", "zone"),
    ],
)
def test_malformed_urls_are_refused(guard: Guard, url: str, message: str) -> None:
    with pytest.raises(BlockedURL, match=message) as refused:
        guard(url)
    assert "secret" not in str(refused.value)


# --- Reserved addresses, written as literals ---

REFUSED_IPV4 = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.0.1", "private"),
    ("169.254.169.254", "link-local"),  # cloud metadata
    ("169.254.0.1", "link-local"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("255.255.255.255", "broadcast"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 (a URL under test, not a bind address)
    ("0.1.2.3", "this network"),
    ("240.0.0.1", "reserved"),
    ("192.0.0.8", "IETF protocol assignments"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("192.88.99.1", "6to4 relay"),
]
REFUSED_IPV6 = [
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"),
    ("fe80::1", "link-local"),
    ("febf::1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation (RFC 9637)"),
    ("3fff:fff:ffff::1", "documentation (RFC 9637), last block"),
    ("100::1", "discard"),
    ("2001::1", "Teredo"),
    ("64:ff9b:1::1", "local NAT64"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:7f00:1", "IPv4-mapped loopback, hex"),
    ("0:0:0:0:0:ffff:169.254.169.254", "IPv4-mapped metadata"),
    ("::ffff:10.0.0.1", "IPv4-mapped private"),
    ("::127.0.0.1", "IPv4-compatible loopback"),
    ("64:ff9b::127.0.0.1", "NAT64 of loopback"),
    ("64:ff9b::a9fe:a9fe", "NAT64 of metadata"),
    ("2002:7f00:1::", "6to4 of loopback"),
    ("2002:a9fe:a9fe::1", "6to4 of metadata"),
    ("2002:c0a8:101::1", "6to4 of private"),
]


@GUARDS
@pytest.mark.parametrize(("address", "kind"), REFUSED_IPV4 + REFUSED_IPV6)
def test_reserved_addresses_are_refused(guard: Guard, address: str, kind: str) -> None:
    with pytest.raises(BlockedURL, match=r" is an? [a-zA-Z -]+ address; it is refused\."):
        guard(f"http://{bracketed(address)}:8080/latest/meta-data/")


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("[::ffff:169.254.169.254]", "link-local"),
        ("[2002:a9fe:a9fe::]", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("[fec0::1]", "site-local"),
        ("10.1.1.1", "private"),
    ],
)
def test_the_message_names_the_kind_of_address(host: str, reason: str) -> None:
    with pytest.raises(BlockedURL, match=rf"is an? {reason} address"):
        checked(f"http://{host}/")


# --- The same addresses, spelled the ways C resolvers accept ---

NUMERIC_FORMS = [
    "2130706433",  # 127.0.0.1 as one decimal number
    "0x7f000001",  # … as hex
    "0X7F000001",
    "017700000001",  # … as octal
    "0177.0.0.1",  # octal first part
    "0x7f.0.0.1",  # hex first part
    "0x7f.1",
    "127.1",  # short forms
    "127.0.1",
    "127.0.0.1.",  # trailing dot
    "0",  # 0.0.0.0
    "0x0",
    "2852039166",  # 169.254.169.254
    "0xa9fea9fe",
    "0251.0376.0251.0376",
    "169.254.43518",
    "012.0.0.1",  # 10.0.0.1
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:7f00:1]",
    "[::]",
    "[0::1]",
]


@GUARDS
@pytest.mark.parametrize("host", NUMERIC_FORMS)
def test_numeric_host_forms_are_refused(guard: Guard, host: str) -> None:
    with pytest.raises(BlockedURL, match=r"address; it is refused"):
        guard(f"http://{host}/")


# --- Names, through the resolver ---


@GUARDS
@pytest.mark.parametrize(
    "answer",
    [["10.0.0.5"], ["127.0.0.1"], ["169.254.169.254"], ["fd00::5"], ["93.184.216.34", "10.0.0.5"]],
)
def test_a_name_is_refused_when_any_address_is_not_public(guard: Guard, answer: list[str]) -> None:
    dns = FakeDNS({"internal.test": [answer]})
    with pytest.raises(BlockedURL, match=r"^internal\.test resolves to an? [a-z -]+ address") as no:
        guard("http://internal.test/", resolver=dns)
    assert not any(address in str(no.value) for address in answer)  # no internal map for users
    assert dns.lookups == ["internal.test"]


@pytest.mark.parametrize(
    "answer",
    [["93.184.216.34"], ["2606:4700::1111"], ["2002:5db8:d822::1"], ["8.8.8.8", "1.1.1.1"]],
)
def test_public_addresses_pass(answer: list[str]) -> None:
    checked("http://public.test/", resolver=FakeDNS({"public.test": [answer]}))


def test_public_literals_pass() -> None:
    checked("https://93.184.216.34/")
    checked("http://[2606:4700::1111]:8080/x")


def test_unresolvable_names_are_a_fetch_error_not_a_refusal() -> None:
    with pytest.raises(FetchError, match=r"Could not resolve nowhere\.test") as failed:
        checked("http://nowhere.test/", resolver=FakeDNS({}))
    assert not isinstance(failed.value, BlockedURL)
    assert failed.value.transient is False


# --- The allowlist ---


def test_allowlist_exempts_exact_hosts_and_networks(settings: Any) -> None:
    settings.SSRF_ALLOWLIST = ["localhost", "127.0.0.1/32", "10.0.0.0/8", "fd00::/8"]
    dns = FakeDNS({"localhost": [["127.0.0.1", "::1"]], "sub.localhost": [["127.0.0.5"]]})
    checked("http://LocalHost:8080/", resolver=dns)  # hosts match case-insensitively
    checked("http://127.0.0.1:9000/")
    checked("http://10.200.0.1/")
    checked("http://[fd00::1]/")
    for refused in ("http://127.0.0.2/", "http://192.168.1.1/", "http://[::1]/"):
        with pytest.raises(BlockedURL):
            checked(refused)
    with pytest.raises(BlockedURL):  # host entries match exactly, not subdomains
        checked("http://sub.localhost/", resolver=dns)


def test_allowlisted_host_entries_do_not_exempt_other_spellings(settings: Any) -> None:
    settings.SSRF_ALLOWLIST = ["127.0.0.1"]
    checked("http://127.0.0.1/")
    checked("http://2130706433/")  # the same address: an address entry matches it
    settings.SSRF_ALLOWLIST = ["localhost"]
    with pytest.raises(BlockedURL):
        checked("http://127.0.0.1/")


def test_allowlist_never_exempts_a_scheme(settings: Any) -> None:
    settings.SSRF_ALLOWLIST = ["localhost", "127.0.0.0/8"]
    with pytest.raises(BlockedURL, match=r"Only http"):
        checked("gopher://localhost/")


def test_a_bad_allowlist_network_is_a_configuration_error(settings: Any) -> None:
    settings.SSRF_ALLOWLIST = ["10.0.0.0/33"]
    with pytest.raises(ImproperlyConfigured, match=r"SSRF_ALLOWLIST"):
        checked("http://93.184.216.34/")


@pytest.mark.parametrize("entry", ["files.internal:8080", "10.0.0.0/33", "bad host!", "a..b"])
def test_a_bad_allowlist_entry_is_refused_by_the_system_check(settings: Any, entry: str) -> None:
    settings.SSRF_ALLOWLIST = ["localhost", entry]
    (error,) = check_allowlist(None)
    assert error.id == "labelkeep.E003" and repr(entry) in error.msg
    settings.SSRF_ALLOWLIST = ["localhost", "files.internal", "10.0.0.0/8", "[fd00::1]"]
    assert check_allowlist(None) == []


def test_protection_off_allows_every_address(settings: Any) -> None:
    settings.SSRF_PROTECTION_ENABLED = False
    for url in ("http://127.0.0.1/", "http://169.254.169.254/", "http://[::1]/", "http://0x7f.1/"):
        checked(url)


# --- Settings from the environment ---


def _settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """Run labelkeep/settings.py afresh (outside sys.modules) with only `env` for SSRF_*."""
    for name in ("SSRF_PROTECTION_ENABLED", "SSRF_ALLOWLIST", "CUSTOM_CA_CERTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(Path(labelkeep.settings.__file__)))


def test_settings_default_to_protection_on(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = _settings_with(monkeypatch)
    assert defaults["SSRF_PROTECTION_ENABLED"] is True
    assert defaults["SSRF_ALLOWLIST"] == defaults["CUSTOM_CA_CERTS"] == []
    listed = _settings_with(
        monkeypatch, SSRF_ALLOWLIST="localhost, 10.0.0.0/8", CUSTOM_CA_CERTS="/a.pem,/b.pem"
    )
    assert listed["SSRF_ALLOWLIST"] == ["localhost", "10.0.0.0/8"]
    assert listed["CUSTOM_CA_CERTS"] == ["/a.pem", "/b.pem"]
    off = _settings_with(monkeypatch, SSRF_PROTECTION_ENABLED="off")
    assert off["SSRF_PROTECTION_ENABLED"] is False
    with pytest.raises(ImproperlyConfigured, match=r"SSRF_PROTECTION_ENABLED must be true or"):
        _settings_with(monkeypatch, SSRF_PROTECTION_ENABLED="disabled")

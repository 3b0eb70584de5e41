"""The one guarded HTTP client for server-side fetches of user-supplied URLs (promise 6).

Every hop of a fetch is parsed, its host resolved once and every address checked before a
byte is sent; the connection then goes to the checked address itself, never to the name,
so a DNS answer that changes between the check and the connect (rebinding) has no effect.

Built on urllib3's `HTTPConnection`/`HTTPSConnection` used directly (no pool, no proxy
from the environment): `host` is the checked address, `server_hostname` is the URL's
name, so SNI and certificate verification (OpenSSL's own `check_hostname`) use the name
while the socket goes to the address. httpx can do the same through its `sni_hostname`
extension, but hides the socket, and the socket is what the deadline watchdog needs.
Connections are never reused: a pooled TLS connection verified for one name must not
carry a request for another name on the same address.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import DecodeError, NewConnectionError
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.response import BaseHTTPResponse

from labelkeep.security.trust import outbound_ssl_context

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[IPAddress]]

MAX_REDIRECTS = 5
CONNECT_TIMEOUT = 10.0
CHUNK_SIZE = 64 * 1024
USER_AGENT = "Labelkeep"

_REDIRECTS = {301, 302, 303, 307, 308}
_TRANSIENT_STATUSES = {408, 425, 429}
# Dropped when a redirect leaves the origin they were meant for.
_CREDENTIAL_HEADERS = {"authorization", "cookie", "proxy-authorization"}


class FetchError(Exception):
    """A fetch failed. The message is safe to show users: it never quotes the upstream body."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


class BlockedURL(FetchError):
    """The URL is refused: its scheme, host or an address it resolves to. Permanent."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


# --- Which addresses are refused ---

# What `ipaddress`'s properties miss, or get differently across Python versions.
_ALSO_REFUSED = tuple(
    (ipaddress.ip_network(net), label)
    for net, label in (
        ("0.0.0.0/8", "reserved"),  # "this network"
        ("100.64.0.0/10", "carrier-grade NAT"),  # not is_private on any Python version
        ("192.0.0.0/24", "reserved"),  # IETF protocol assignments: 3.11 calls most global
        ("192.88.99.0/24", "reserved"),  # 6to4 relay anycast
        ("198.18.0.0/15", "reserved"),  # benchmarking
        ("64:ff9b:1::/48", "private"),  # local-use NAT64
        ("3fff::/20", "reserved"),  # documentation (RFC 9637, 2024): after 3.11's tables
        ("fec0::/10", "site-local"),  # deprecated site-local: is_global on 3.11
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_PROPERTIES = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_reserved", "reserved"),
    ("is_private", "private"),
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal_reason(ip: IPAddress) -> str | None:
    """Why `ip` is no place for a server-side fetch ("loopback", …), or None if public."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and (reason := refusal_reason(inner)):
            return reason
    for name, label in _PROPERTIES:
        if getattr(ip, name):
            return label
    for net, label in _ALSO_REFUSED:
        if ip in net:
            return label
    return None if ip.is_global else "non-public"


# --- Parsing a URL into a target ---

_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f]")
_HOST_NAME = re.compile(r"[a-z0-9_.-]+")
_PRINTABLE_ASCII = "".join(chr(code) for code in range(0x21, 0x7F))


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str  # lower-case ASCII; an IPv6 address without brackets
    port: int
    path: str  # path and query, as sent in the request line
    literal: IPAddress | None  # the address the host spells, if it is one

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _default_port(self.scheme) else f"{host}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _literal(host: str) -> IPAddress | None:
    """The address `host` spells, in any form the C library accepts (127.1, 0x7f000001)."""
    candidate = host.removesuffix(".")
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        pass
    try:
        # inet_aton is what getaddrinfo uses for numeric hosts: octal, hex, short forms.
        return ipaddress.IPv4Address(socket.inet_aton(candidate))
    except (OSError, ValueError):
        return None


def _normal_host(hostname: str) -> str:
    if not hostname:
        raise BlockedURL("The URL has no host.")
    if ":" in hostname:  # an IPv6 address; urlsplit has checked it
        if "%" in hostname:
            raise BlockedURL("IPv6 zone identifiers are not accepted in URLs.")
        return hostname
    try:
        ascii_host = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise BlockedURL("The URL's host is not a valid host name.") from None
    if not _HOST_NAME.fullmatch(ascii_host):
        raise BlockedURL("The URL's host is not a valid host name.")
    return ascii_host


def _parse(url: str) -> _Target:
    if _UNSAFE_CHARS.search(url):
        raise BlockedURL("The URL contains spaces or control characters.")
    if not url.isascii():
        try:
            url.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (`\ud800` in JSON) names nothing
            raise BlockedURL("The URL is not valid Unicode text.") from None
    try:
        parts = urlsplit(url)
        port = _default_port(parts.scheme) if parts.port is None else parts.port
    except ValueError:
        raise BlockedURL("This is not a valid URL.") from None
    if port == 0:
        raise BlockedURL("Port 0 cannot be fetched.")
    if parts.scheme not in ("http", "https"):
        raise BlockedURL("Only http:// and https:// URLs can be fetched.")
    if parts.username is not None or parts.password is not None:
        raise BlockedURL("URLs with a user name or password (user:password@host) are refused.")
    host = _normal_host(parts.hostname or "")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # Locations may carry raw UTF-8; the request line is ASCII. Existing %-escapes stay.
    path = quote(path, safe=_PRINTABLE_ASCII)
    clean = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    return _Target(clean, parts.scheme, host, port, path, _literal(host))


# --- Resolving and checking ---


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """The system resolver: every address of `host`, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0])) for info in infos))


def _addresses(target: _Target, resolver: Resolver | None) -> tuple[IPAddress, ...]:
    if target.literal is not None:
        return (target.literal,)
    try:
        found = tuple((resolver or resolve_host)(target.host, target.port))
    except OSError as exc:
        # Only "try again" is worth a retry; "no such name" stays true.
        transient = not isinstance(exc, socket.gaierror) or exc.errno == socket.EAI_AGAIN
        raise FetchError(f"Could not resolve {target.host}.", transient=transient) from exc
    if not found:
        raise FetchError(f"{target.host} has no addresses.", transient=False)
    return found


@dataclass(frozen=True)
class _Allowlist:
    hosts: frozenset[str]
    networks: tuple[Network, ...]


@cache
def _allowlist(entries: tuple[str, ...]) -> _Allowlist:
    hosts, networks = set(), []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            if "/" in entry:
                raise ImproperlyConfigured(f"SSRF_ALLOWLIST: {entry!r} is not a network") from None
            if ":" in entry:  # not an address, so a host with a port: ports are not matched
                raise ImproperlyConfigured(
                    f"SSRF_ALLOWLIST: {entry!r} is neither an address nor a host name "
                    "(entries name hosts, addresses and networks, never ports)"
                ) from None
            try:
                hosts.add(_normal_host(entry.lower().removesuffix(".")))
            except BlockedURL:
                raise ImproperlyConfigured(
                    f"SSRF_ALLOWLIST: {entry!r} is not a valid host name"
                ) from None
    return _Allowlist(frozenset(hosts), tuple(networks))


def check_allowlist(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """A system check: SSRF_ALLOWLIST is read at start, not at the first fetch."""
    try:
        _allowlist(tuple(settings.SSRF_ALLOWLIST))
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="labelkeep.E003")]
    return []


def _check(target: _Target, addresses: Sequence[IPAddress]) -> None:
    if not settings.SSRF_PROTECTION_ENABLED:
        return
    allowed = _allowlist(tuple(settings.SSRF_ALLOWLIST))
    if target.host.removesuffix(".") in allowed.hosts:
        return
    for address in addresses:
        if any(address in net for net in allowed.networks):
            continue
        if reason := refusal_reason(address):
            verb = "is" if target.literal else "resolves to"
            article = "an" if reason[0] in "aeiou" else "a"
            raise BlockedURL(f"{target.host} {verb} {article} {reason} address; it is refused.")


def check_url(url: str, *, resolver: Resolver | None = None) -> None:
    """Raise BlockedURL for a URL the guarded client would refuse. Sends nothing.

    For URLs saved now and fetched later (webhooks, storage endpoints); the fetch checks
    again, since what the name resolves to may have changed. A name that does not resolve
    raises FetchError.
    """
    target = _parse(url)
    _check(target, _addresses(target, resolver))


# --- Connecting, with a deadline ---


@cache
def _tls_context(custom_ca_certs: tuple[str, ...]) -> ssl.SSLContext:
    # This client's own context (see outbound_ssl_context): urllib3 sets ALPN and the
    # verify mode on the context it is given, the same values for every fetch.
    return outbound_ssl_context(custom_ca_certs)


class _Watchdog:
    """Cuts a connection when the total time limit passes, whatever the server does.

    Socket timeouts bound each read, not their sum: a server trickling a byte just inside
    the read timeout (in the headers, a chunk-size line, the body) would hold a worker for
    hours. Shutting the socket down from a timer thread ends any blocked read at once.
    """

    def __init__(self, conn: HTTPConnection, deadline: float) -> None:
        self.fired = False
        self._conn = conn
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._cut)
        self._timer.daemon = True
        self._timer.start()

    def hold(self, sock: socket.socket | None) -> None:
        """Keep the connected socket: http.client drops `conn.sock` while the body is read."""
        self._sock = sock

    def _cut(self) -> None:
        self.fired = True
        sock = self._sock or self._conn.sock  # during connect, urllib3 sets conn.sock early
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                # The plain socket's shutdown: SSLSocket.shutdown would also drop the TLS
                # object from under the reading thread.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _timed_out(target: _Target) -> FetchError:
    return FetchError(f"{target.host} did not answer in time.", transient=True)


def _remaining(target: _Target, deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _timed_out(target)
    return left


def _translate(exc: Exception, target: _Target) -> FetchError:
    """A message fit for users for what the network raised (never its text: it may quote)."""
    host = target.host
    if isinstance(exc, TimeoutError | Urllib3Timeout) and not isinstance(exc, NewConnectionError):
        return _timed_out(target)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return FetchError(f"The TLS certificate of {host} could not be verified.", transient=False)
    if isinstance(exc, DecodeError):
        return FetchError(f"The response from {host} could not be decoded.", transient=False)
    if isinstance(exc, NewConnectionError):
        return FetchError(f"Could not connect to {host}.", transient=True)
    if isinstance(exc, ValueError):  # http.client refusing a header value, for one
        return FetchError(f"The request to {host} could not be sent.", transient=False)
    return FetchError(f"The connection to {host} failed.", transient=True)


@contextlib.contextmanager
def _translated(target: _Target, watchdog: _Watchdog) -> Iterator[None]:
    try:
        yield
    except FetchError:
        raise
    except (OSError, ValueError, http.client.HTTPException, Urllib3Error) as exc:
        raise (_timed_out(target) if watchdog.fired else _translate(exc, target)) from exc


def _connection(target: _Target, address: IPAddress, timeout: float) -> HTTPConnection:
    if target.scheme == "http":
        return HTTPConnection(str(address), target.port, timeout=timeout)
    return HTTPSConnection(
        str(address),
        target.port,
        timeout=timeout,
        # SNI and OpenSSL's hostname check both use this name, not the address.
        server_hostname=str(target.literal or target.host),
        ssl_context=_tls_context(tuple(settings.CUSTOM_CA_CERTS)),
        cert_reqs="CERT_REQUIRED",
    )


def _connect(
    target: _Target, addresses: Sequence[IPAddress], deadline: float, connect_timeout: float
) -> tuple[HTTPConnection, _Watchdog]:
    """A connection to the first checked address that answers."""
    failure = FetchError(f"Could not connect to {target.host}.", transient=True)
    for address in addresses:
        conn = _connection(target, address, min(connect_timeout, _remaining(target, deadline)))
        watchdog = _Watchdog(conn, deadline)
        try:
            with _translated(target, watchdog):
                conn.connect()
            watchdog.hold(conn.sock)
            return conn, watchdog
        except FetchError as exc:
            watchdog.cancel()
            conn.close()
            if not exc.transient:
                raise
            failure = exc
    raise failure


# --- One request, redirects ---


@dataclass(frozen=True)
class _Request:
    method: str
    headers: Mapping[str, str]
    body: bytes | None


def _wire_headers(target: _Target, request: _Request) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
    if not any(k.lower() == "user-agent" for k in headers):
        headers["User-Agent"] = USER_AGENT
    # The connection goes to an address; the server still needs the name it serves.
    headers["Host"] = target.host_header
    return headers


@dataclass
class _Exchange:
    """One request and its response, on one connection to one checked address."""

    target: _Target
    request: _Request
    conn: HTTPConnection
    watchdog: _Watchdog
    response: BaseHTTPResponse

    def redirect_location(self) -> str | None:
        if self.response.status not in _REDIRECTS:
            return None
        return self.response.headers.get("Location") or None

    def close(self) -> None:
        self.watchdog.cancel()
        self.response.close()
        self.conn.close()


def _exchange(
    target: _Target,
    addresses: Sequence[IPAddress],
    request: _Request,
    deadline: float,
    connect_timeout: float,
) -> _Exchange:
    conn, watchdog = _connect(target, addresses, deadline, connect_timeout)
    try:
        with _translated(target, watchdog):
            conn.timeout = _remaining(target, deadline)
            conn.request(
                request.method,
                target.path,
                body=request.body,
                headers=_wire_headers(target, request),
                preload_content=False,
            )
            response = conn.getresponse()
    except BaseException:
        watchdog.cancel()
        conn.close()
        raise
    return _Exchange(target, request, conn, watchdog, response)


def _redirected(request: _Request, status: int, *, cross_origin: bool) -> _Request:
    """The request for a redirect's Location, as browsers make it."""
    headers = dict(request.headers)
    if cross_origin:
        headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIAL_HEADERS}
    to_get = status == 303 and request.method != "HEAD"
    if to_get or (status in (301, 302) and request.method == "POST"):
        headers = {k: v for k, v in headers.items() if not k.lower().startswith("content-")}
        return _Request("GET", headers, None)
    return replace(request, headers=headers)


@dataclass(frozen=True)
class _Options:
    max_redirects: int
    connect_timeout: float
    resolver: Resolver | None


def _follow(url: str, request: _Request, deadline: float, options: _Options) -> _Exchange:
    """Send `request`, following redirects; every hop is resolved and checked anew."""
    target = _parse(url)
    for _ in range(options.max_redirects + 1):
        addresses = _addresses(target, options.resolver)
        _check(target, addresses)
        exchange = _exchange(target, addresses, request, deadline, options.connect_timeout)
        location = exchange.redirect_location()
        if location is None:
            return exchange
        exchange.close()
        following = _parse(urljoin(target.url, location))
        cross_origin = following.origin != target.origin
        request = _redirected(request, exchange.response.status, cross_origin=cross_origin)
        target = following
    raise FetchError(f"Too many redirects (more than {options.max_redirects}).", transient=False)


# --- The public interface ---


@dataclass(frozen=True)
class FetchResult:
    """A whole response that passed every check."""

    status: int
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ", "
    content: bytes
    final_url: str


def _too_large(target: _Target, max_bytes: int) -> FetchError:
    return FetchError(
        f"The response from {target.host} is larger than the limit of {max_bytes} bytes.",
        transient=False,
    )


class Stream:
    """An open response whose body is read in chunks, within the size and time limits."""

    def __init__(self, exchange: _Exchange, max_bytes: int, deadline: float) -> None:
        response = exchange.response
        self.status = response.status
        self.headers = {name.lower(): response.headers[name] for name in response.headers}
        self.final_url = exchange.target.url
        self._exchange = exchange
        self._max_bytes = max_bytes
        self._deadline = deadline

    def iter_bytes(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The body, decoded (gzip, deflate); FetchError past `max_bytes` or the deadline."""
        exchange, received = self._exchange, 0
        with _translated(exchange.target, exchange.watchdog):
            for chunk in exchange.response.stream(chunk_size, decode_content=True):
                received += len(chunk)
                if received > self._max_bytes:
                    raise _too_large(exchange.target, self._max_bytes)
                _remaining(exchange.target, self._deadline)
                yield chunk
            if exchange.watchdog.fired:
                # A cut connection looks like the end of a body sent without a length.
                raise _timed_out(exchange.target)


def _accept(exchange: _Exchange, *, max_bytes: int, raise_for_status: bool) -> None:
    status = exchange.response.status
    if raise_for_status and status >= 400:
        transient = status >= 500 or status in _TRANSIENT_STATUSES
        message = f"{exchange.target.host} answered HTTP {status}."
        raise FetchError(message, transient=transient, status=status)
    declared = exchange.response.headers.get("Content-Length", "")
    too_large = declared.isascii() and declared.isdecimal() and int(declared) > max_bytes
    if too_large and exchange.request.method != "HEAD":
        raise _too_large(exchange.target, max_bytes)


@contextlib.contextmanager
def open_stream(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    raise_for_status: bool = True,
    max_redirects: int = MAX_REDIRECTS,
    connect_timeout: float = CONNECT_TIMEOUT,
    resolver: Resolver | None = None,
) -> Iterator[Stream]:
    """Open `url` through the guard; read the body from the Stream inside the block.

    `timeout` bounds everything from the first connect to the last byte, redirects
    included. Raises BlockedURL for a refused hop, FetchError for the rest (HTTP statuses
    of 400 and above too, unless `raise_for_status` is false).
    """
    if min(max_bytes, max_redirects) < 0 or min(timeout, connect_timeout) <= 0:
        raise ValueError("negative limit, or a timeout that is not positive")
    deadline = time.monotonic() + timeout
    request = _Request(method.upper(), dict(headers or {}), body)
    options = _Options(max_redirects, connect_timeout, resolver)
    exchange = _follow(url, request, deadline, options)
    try:
        _accept(exchange, max_bytes=max_bytes, raise_for_status=raise_for_status)
        yield Stream(exchange, max_bytes, deadline)
    finally:
        exchange.close()


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    raise_for_status: bool = True,
    max_redirects: int = MAX_REDIRECTS,
    connect_timeout: float = CONNECT_TIMEOUT,
    resolver: Resolver | None = None,
) -> FetchResult:
    """Fetch `url` through the guard and return the whole body (see open_stream)."""
    with open_stream(
        url,
        max_bytes=max_bytes,
        timeout=timeout,
        method=method,
        headers=headers,
        body=body,
        raise_for_status=raise_for_status,
        max_redirects=max_redirects,
        connect_timeout=connect_timeout,
        resolver=resolver,
    ) as stream:
        content = b"".join(stream.iter_bytes())
    return FetchResult(stream.status, stream.headers, content, stream.final_url)

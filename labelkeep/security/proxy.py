"""Trust forwarded headers only from configured proxies (DESIGN.md promise 1)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.core import checks
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def check_trusted_proxies(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """A system check: every TRUSTED_PROXIES entry is an address or a network.

    Forwarded headers are trusted by the address a connection comes from, so a host name
    cannot be matched (resolving it per request would trust whoever controls its DNS);
    unchecked, it fails every request instead of the start."""
    refused = []
    for entry in settings.TRUSTED_PROXIES:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            refused.append(entry)
    if not refused:
        return []
    names = ", ".join(repr(entry) for entry in refused)
    message = (
        f"TRUSTED_PROXIES must list IP addresses or networks (10.0.0.5, 10.0.0.0/24, "
        f"fd00::/8), not {names}: host names are not resolved, and ports are not matched."
    )
    return [checks.Error(message, id="labelkeep.E004")]


def _is_trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    networks = _trusted_networks(tuple(settings.TRUSTED_PROXIES))
    return any(ip in network for network in networks)


def _hop_address(hop: str) -> str | None:
    """A hop of X-Forwarded-For as an address: `203.0.113.5` or `2001:db8::1`, also
    written with a port (`203.0.113.5:4711`, `[2001:db8::1]:443`) or a zone, as some
    proxies send them; None when it is no address (`unknown`, a name, garbage)."""
    text = hop.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text.partition("%")[0]))
    except ValueError:
        return None


def client_address(forwarded_for: str, remote_addr: str) -> str:
    """The first address, from the right, that is not one of our trusted proxies.

    Always an address, without a port: it keys the login throttle (a port per connection
    would make every attempt a new address) and is stored in the audit log's address
    column (which refuses anything else). A hop that is no address ends the search: the
    trusted proxy that passed it on is the client as far as anyone can tell."""
    if not _is_trusted(remote_addr):
        return remote_addr
    nearest = remote_addr
    for hop in reversed([hop for hop in forwarded_for.split(",") if hop.strip()]):
        address = _hop_address(hop)
        if address is None:
            return nearest
        if not _is_trusted(address):
            return address
        nearest = address
    return nearest


class TrustedProxyMiddleware:
    """Rewrite REMOTE_ADDR from X-Forwarded-For, and drop forwarded headers from strangers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        remote = meta.get("REMOTE_ADDR", "")
        if settings.TRUSTED_PROXIES and _is_trusted(remote):
            meta["REMOTE_ADDR"] = client_address(meta.get("HTTP_X_FORWARDED_FOR", ""), remote)
        else:
            # A direct client must not be able to claim HTTPS or another address.
            meta.pop("HTTP_X_FORWARDED_PROTO", None)
            meta.pop("HTTP_X_FORWARDED_FOR", None)
            meta.pop("HTTP_X_FORWARDED_HOST", None)
        return self.get_response(request)

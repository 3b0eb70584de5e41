"""Trust forwarded headers only from configured proxies (DESIGN.md promise 1)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _is_trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    networks = _trusted_networks(tuple(settings.TRUSTED_PROXIES))
    return any(ip in network for network in networks)


def client_address(forwarded_for: str, remote_addr: str) -> str:
    """The first address, from the right, that is not one of our trusted proxies."""
    if not _is_trusted(remote_addr):
        return remote_addr
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop):
            return hop
    return hops[0] if hops else remote_addr


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

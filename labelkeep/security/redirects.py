"""Same-origin checks for `?next=` redirects."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, candidate: str | None, fallback: str = "/") -> str:
    """`candidate` when it stays on this site over HTTPS, otherwise `fallback`."""
    if not candidate or "\\" in candidate or any(ord(ch) < 32 for ch in candidate):
        return fallback
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=True
    ):
        return candidate
    return fallback

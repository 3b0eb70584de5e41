"""The trust store of every outbound TLS client (DESIGN.md promise 10)."""

from __future__ import annotations

import ssl
from collections.abc import Sequence

import certifi
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def outbound_ssl_context(custom_ca_certs: Sequence[str] | None = None) -> ssl.SSLContext:
    """A new client TLS context trusting the system's roots, certifi's and `CUSTOM_CA_CERTS`.

    Each call builds a new context (about 0.1 s: two root bundles are parsed), so a client
    builds one and keeps it. It is never shared between clients because clients change
    their context (ALPN protocols, client certificates for Redis or PostgreSQL).
    """
    paths = settings.CUSTOM_CA_CERTS if custom_ca_certs is None else custom_ca_certs
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # Minimal container images often ship without a system bundle; certifi is the floor.
    context.load_verify_locations(cafile=certifi.where())
    for path in paths:
        try:
            context.load_verify_locations(cafile=path)
        except (OSError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"CUSTOM_CA_CERTS: cannot load {path} as PEM certificates: {exc}"
            ) from exc
    return context

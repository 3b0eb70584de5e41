"""Login throttling per account and per address, shared by every web process (database)."""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.utils import timezone

from labelkeep.accounts.models import LoginFailure


def _keys(email: str, address: str | None) -> list[tuple[str, int]]:
    keys = [(f"account:{email.strip().lower()}", settings.LOGIN_FAILURES_PER_ACCOUNT)]
    if address:
        keys.append((f"address:{address}", settings.LOGIN_FAILURES_PER_ADDRESS))
    return keys


def retry_after(email: str, address: str | None) -> int:
    """Seconds until a login may be tried again; 0 when not throttled."""
    window = dt.timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW)
    now = timezone.now()
    wait = 0.0
    for key, limit in _keys(email, address):
        recent = list(
            LoginFailure.objects.filter(key=key, created_at__gt=now - window)
            .order_by("-created_at")
            .values_list("created_at", flat=True)[:limit]
        )
        if len(recent) >= limit:
            # Blocked until the oldest of the last `limit` failures leaves the window.
            wait = max(wait, (recent[-1] + window - now).total_seconds())
    return math.ceil(wait)


def note_failure(email: str, address: str | None) -> None:
    keys = _keys(email, address)
    cutoff = timezone.now() - dt.timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW)
    LoginFailure.objects.filter(key__in=[k for k, _ in keys], created_at__lt=cutoff).delete()
    LoginFailure.objects.bulk_create(LoginFailure(key=key) for key, _ in keys)


def clear_account(email: str) -> None:
    """A successful login forgives the account's failures (not the address's)."""
    LoginFailure.objects.filter(key=f"account:{email.strip().lower()}").delete()

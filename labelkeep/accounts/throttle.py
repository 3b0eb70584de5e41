"""Login throttling per account and per address, shared by every web process (database).

An attempt is counted before its password is checked, under a lock per key, so parallel
guesses cannot all pass the check before any of them is recorded: `reserve` either
refuses (the wait in seconds) or records the attempt as a failure, and `forgive` takes
it back once the password proved right."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import math
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from labelkeep.accounts.models import LoginFailure

_KEY_LENGTH = LoginFailure._meta.get_field("key").max_length or 300


def _key(kind: str, value: str) -> str:
    key = f"{kind}:{value}"
    if len(key) <= _KEY_LENGTH:
        return key
    # Lower-casing may lengthen a name (İ -> i̇); a digest keeps it within the column.
    return f"{kind}:sha256:{hashlib.sha256(value.encode()).hexdigest()}"


def _network(address: str) -> str:
    """What one client's guesses count against: its IPv4 address, or the /64 its IPv6
    address is in (one subscriber's share: anyone holding one can change addresses within
    it at will, so counting per address would not throttle them at all). An IPv6 address
    made from an IPv4 one counts as that: a 6to4 host (2002::/16) holds a whole /48, 65,536
    /64s, from its one IPv4 address; a Teredo client shares its /64 with every client of
    its server."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo and ip.teredo[1])
        if embedded is not None:
            return str(embedded)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _keys(email: str, address: str | None) -> list[tuple[str, int]]:
    keys = [(_key("account", email.strip().lower()), settings.LOGIN_FAILURES_PER_ACCOUNT)]
    if address:
        keys.append((_key("address", _network(address)), settings.LOGIN_FAILURES_PER_ADDRESS))
    return keys


@dataclass
class Attempt:
    """The outcome of `reserve`: `wait` seconds when throttled, else the recorded rows."""

    wait: int = 0
    rows: list[int] = field(default_factory=list)


def _lock(keys: list[str]) -> None:
    """SQLite transactions take the write lock up front (IMMEDIATE); PostgreSQL takes a
    transaction-scoped advisory lock per key, in a fixed order."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for key in sorted(keys):
                cursor.execute("SELECT pg_advisory_xact_lock(7002, hashtext(%s))", [key])


def _wait(keys: list[tuple[str, int]], now: dt.datetime) -> int:
    window = dt.timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW)
    wait = 0.0
    for key, limit in keys:
        recent = list(
            LoginFailure.objects.filter(key=key, created_at__gt=now - window)
            .order_by("-created_at")
            .values_list("created_at", flat=True)[:limit]
        )
        if len(recent) >= limit:
            # Blocked until the oldest of the last `limit` failures leaves the window.
            wait = max(wait, (recent[-1] + window - now).total_seconds())
    return math.ceil(wait)


def reserve(email: str, address: str | None) -> Attempt:
    """Refuse the attempt (its wait) or count it as a failure until `forgive`n."""
    keys = _keys(email, address)
    with transaction.atomic():
        _lock([key for key, _ in keys])
        now = timezone.now()
        wait = _wait(keys, now)
        if wait:
            return Attempt(wait=wait)
        # Failures out of the window count for nothing: forget them, whoever's they are
        # (the keys of a password spray across many accounts are never tried again).
        cutoff = now - dt.timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW)
        LoginFailure.objects.filter(created_at__lt=cutoff).delete()
        rows = LoginFailure.objects.bulk_create(LoginFailure(key=key) for key, _ in keys)
    return Attempt(rows=[row.pk for row in rows if row.pk is not None])


def forgive(email: str, attempt: Attempt) -> None:
    """A successful login: its own attempt and the account's failures are forgiven (the
    address's earlier failures are not)."""
    LoginFailure.objects.filter(pk__in=attempt.rows).delete()
    LoginFailure.objects.filter(key=_key("account", email.strip().lower())).delete()

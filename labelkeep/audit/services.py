"""Writing audit entries. Every service that changes something calls `record`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.http import HttpRequest

from labelkeep.audit.models import AuditEvent
from labelkeep.db.prepared import PreparedInsert


@dataclass(frozen=True)
class Origin:
    """Where an action came from: the network address and client of the request."""

    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def of(cls, request: HttpRequest | None) -> Origin:
        if request is None:
            return cls()
        return cls(
            ip_address=request.META.get("REMOTE_ADDR") or None,
            # A NUL cannot be stored in PostgreSQL text; gunicorn refuses it, others may not.
            user_agent=request.META.get("HTTP_USER_AGENT", "").replace("\x00", "")[:256],
        )


CLI = Origin(user_agent="labelkeep-cli")


# An entry about many objects lists this many of their ids (its `count` says how many
# there were): enough to name what one request changed, bounded for bulk imports.
LISTED_IDS = 1000


def listed(ids: Iterable[int]) -> list[int]:
    """The first `LISTED_IDS` ids, for an entry's `ids` detail."""
    return list(islice(ids, LISTED_IDS))


# Every write records an entry: the insert is prepared (labelkeep/db/prepared.py).
_INSERT = PreparedInsert(AuditEvent)


def record(
    action: str,
    *,
    actor: Any | None,
    origin: Origin,
    organization_id: int | None = None,
    target: Any | None = None,
    **details: Any,
) -> AuditEvent:
    """Append one audit entry; `actor` may be None for anonymous attempts."""
    actor_email = getattr(actor, "email", "") if actor is not None else details.pop("email", "")
    event = AuditEvent(
        organization_id=organization_id,
        actor=actor if actor is not None and actor.pk else None,
        actor_email=actor_email or "",
        action=action,
        target_type=type(target).__name__.lower() if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        ip_address=origin.ip_address,
        user_agent=origin.user_agent,
        details=details,
    )
    return _INSERT.insert(event)

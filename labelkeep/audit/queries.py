"""Reading the audit log: one organization's events, filtered as the API and the audit
page ask (by actor, action and time), newest first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from labelkeep.api.fields import parse_id, parse_moment
from labelkeep.audit.models import AuditEvent

MAX_ACTION = 64  # the column's length


class FilterError(Exception):
    """A filter value that names nothing; `field` is the parameter it came in."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class EventFilter:
    actor_id: int | None = None
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def of(cls, params: Mapping[str, str]) -> EventFilter:
        """The filter in query parameters `user`, `action`, `since`, `until` (empty: any)."""
        user = params.get("user") or ""
        actor_id = parse_id(user) if user else None
        if user and actor_id is None:
            raise FilterError("user", "A user id is a number.")
        action = params.get("action") or ""
        if len(action) > MAX_ACTION or not action.isprintable():
            raise FilterError("action", "An action is a name such as `login.success`.")
        return cls(actor_id, action, _moment(params, "since"), _moment(params, "until"))

    @property
    def active(self) -> bool:
        return bool(self.actor_id or self.action or self.since or self.until)


def _moment(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name) or ""
    if not raw:
        return None
    value = parse_moment(raw)
    if value is None:
        raise FilterError(name, "Use an ISO 8601 date and time.")
    return value


def events_of(organization_id: int, chosen: EventFilter) -> QuerySet[AuditEvent]:
    """The organization's events that `chosen` keeps, newest first."""
    events = AuditEvent.objects.filter(organization_id=organization_id)
    if chosen.actor_id is not None:
        events = events.filter(actor_id=chosen.actor_id)
    if chosen.action:
        events = events.filter(action=chosen.action)
    if chosen.since:
        events = events.filter(created_at__gte=chosen.since)
    if chosen.until:
        events = events.filter(created_at__lt=chosen.until)
    return events.order_by("-id")

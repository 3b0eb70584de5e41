"""The audit log: what is recorded, who may read it, and that it is append-only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from labelkeep.audit.models import AppendOnlyError, AuditEvent
from tests.conftest import World


def _actions(world: World, **params: str) -> list[str]:
    response = world.admin.client.get("/api/audit-log/", params)
    assert response.status_code == 200
    return [e["action"] for e in response.json()["results"]]


def test_admin_reads_own_org_only(world: World) -> None:
    world.outsider.client.post("/api/invite/reset-token")
    events = world.admin.client.get("/api/audit-log/").json()["results"]
    assert events, "the world fixture itself is audited"
    assert all(e["actor_email"].endswith("@a.example") for e in events)
    assert "invite.reset" not in {e["action"] for e in events}


def test_members_cannot_read_audit_log(world: World) -> None:
    assert world.member.client.get("/api/audit-log/").status_code == 403


def test_every_identity_action_is_recorded(world: World) -> None:
    org = world.org.pk
    admin = world.admin.client
    member_url = f"/api/organizations/{org}/memberships/{world.member.user.pk}/"
    admin.post("/api/invite/reset-token")
    admin.patch(member_url, {"role": "reviewer"}, format="json")
    admin.post("/api/jwt/settings", {"api_token_ttl_days": 30}, format="json")
    world.member.client.post("/api/token/")
    admin.patch(member_url, {"role": "deactivated"}, format="json")
    admin.delete(member_url)
    recorded = set(_actions(world))
    assert {
        "user.create",
        "token.reset",
        "invite.reset",
        "member.role_change",
        "token_settings.update",
        "token.create",
        "member.deactivate",
        "member.remove",
    } <= recorded
    change = AuditEvent.objects.get(action="member.role_change")
    assert change.actor_id == world.admin.user.pk
    assert change.target_id == str(world.member.user.pk)
    assert change.details == {"old_role": "annotator", "new_role": "reviewer"}
    assert change.ip_address == "127.0.0.1"


def test_filters(world: World) -> None:
    world.admin.client.post("/api/invite/reset-token")
    assert set(_actions(world, action="invite.reset")) == {"invite.reset"}
    by_member = _actions(world, user=str(world.member.user.pk))
    assert by_member and set(by_member) <= {"user.create", "token.reset"}
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    assert _actions(world, since=future) == []
    assert _actions(world, until=future)
    for moment in (
        "yesterday",
        "2024-13-45T00:00:00",
        "2024-02-30T10:00",
        "2020-01-01T00:00:00+99:00",
        "0001-01-01T00:00:00+01:00",
    ):
        for name in ("since", "until"):
            bad = world.admin.client.get("/api/audit-log/", {name: moment})
            assert bad.status_code == 400, (name, moment)
            assert "ISO 8601" in str(bad.json()["validation_errors"][name])
    # A date alone is its midnight, and a naive time is UTC.
    assert _actions(world, until="2000-01-01") == []
    assert _actions(world, since="2000-01-01T00:00:00")
    for user in ("1 OR 1=1", "\u00b2", str(2**63)):  # "²" is a digit to str.isdigit()
        assert world.admin.client.get("/api/audit-log/", {"user": user}).status_code == 400


def test_append_only(world: World) -> None:
    event = AuditEvent.objects.first()
    assert event is not None
    event.action = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.update(action="x")
    assert not AuditEvent.objects.filter(action="tampered").exists()

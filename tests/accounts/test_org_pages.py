"""The organization pages: administrators manage members and read the audit log in the
browser, through the same services and rules as the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from labelkeep.accounts import services
from labelkeep.accounts.models import Membership
from labelkeep.accounts.roles import Role
from labelkeep.audit.models import AuditEvent
from labelkeep.audit.services import record
from tests.conftest import TEST_ORIGIN, World, signed_in_browser


def _post(browser: Client, data: dict[str, Any]) -> Any:
    token = browser.cookies["csrftoken"].value
    return browser.post(
        "/organization/members/", {**data, "csrfmiddlewaretoken": token}, secure=True
    )


def _membership(world: World, email: str) -> Membership:
    return Membership.objects.get(organization=world.org, user__email=email)


def test_admin_changes_a_role_and_removes_a_member(world: World) -> None:
    admin = signed_in_browser("admin@a.example")
    page = admin.get("/organization/members/", secure=True)
    assert page.status_code == 200
    assert b"member@a.example" in page.content and b"outsider@b.example" not in page.content
    member = _membership(world, "member@a.example")
    changed = _post(admin, {"action": "role", "member": member.pk, "role": "reviewer"})
    assert changed.status_code == 200
    assert b"member@a.example is now reviewer" in changed.content
    assert _membership(world, "member@a.example").role == Role.REVIEWER
    event = AuditEvent.objects.get(action="member.role_change")
    assert (event.actor_id, event.details["new_role"]) == (world.admin.user.pk, "reviewer")
    removed = _post(admin, {"action": "remove", "member": member.pk})
    assert b"has been removed" in removed.content
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_the_services_rules_hold_on_the_page(world: World) -> None:
    admin = signed_in_browser("admin@a.example")
    owner = _membership(world, "owner@a.example")
    refused = _post(admin, {"action": "role", "member": owner.pk, "role": "annotator"})
    assert refused.status_code == 400
    assert b"Only an owner can grant or change the owner role" in refused.content
    member = _membership(world, "member@a.example")
    made_owner = _post(admin, {"action": "role", "member": member.pk, "role": "owner"})
    assert made_owner.status_code == 400
    assert _post(admin, {"action": "remove", "member": owner.pk}).status_code == 400
    bogus = _post(admin, {"action": "role", "member": member.pk, "role": "superuser"})
    assert bogus.status_code == 400
    assert _membership(world, "owner@a.example").role == Role.OWNER
    assert _membership(world, "member@a.example").role == Role.ANNOTATOR


@pytest.mark.parametrize("member", ["outsider", "missing", "text", "huge"])
def test_members_of_other_organizations_are_not_found(world: World, member: str) -> None:
    outsider = Membership.objects.get(user=world.outsider.user)
    value = {"outsider": outsider.pk, "missing": 10**9, "text": "../1", "huge": 2**70}[member]
    admin = signed_in_browser("admin@a.example")
    response = _post(admin, {"action": "remove", "member": value})
    assert response.status_code == 404
    assert Membership.objects.filter(pk=outsider.pk).exists()


def test_annotators_see_members_but_change_nothing(world: World) -> None:
    annotator = signed_in_browser("member@a.example")
    page = annotator.get("/organization/members/", secure=True)
    assert page.status_code == 200
    assert b'name="action"' not in page.content
    admin = _membership(world, "admin@a.example")
    assert _post(annotator, {"action": "remove", "member": admin.pk}).status_code == 403
    assert Membership.objects.filter(pk=admin.pk).exists()
    assert annotator.get("/organization/audit/", secure=True).status_code == 403


def test_changes_need_the_csrf_token(world: World) -> None:
    admin = signed_in_browser("admin@a.example")
    member = _membership(world, "member@a.example")
    forged = admin.post(
        "/organization/members/", {"action": "remove", "member": member.pk}, secure=True
    )
    assert forged.status_code == 403
    assert Membership.objects.filter(pk=member.pk).exists()


def test_signed_out_visitors_are_sent_to_sign_in(db: Any) -> None:
    for path in ("/organization/members/", "/organization/audit/"):
        response = Client().get(path, secure=True)
        assert response.status_code == 302
        assert response["Location"].startswith("/user/login/")


def test_deactivated_members_see_nothing(world: World) -> None:
    admin = signed_in_browser("admin@a.example")
    services.change_role(
        _membership(world, "admin@a.example"),
        Role.DEACTIVATED,
        actor=world.owner.user,
        origin=TEST_ORIGIN,
    )
    assert admin.get("/organization/members/", secure=True).status_code == 302  # session ended


def test_the_audit_log_lists_filters_and_escapes(world: World) -> None:
    hostile = '</script><img src=x onerror="alert(1)">'
    record(
        "project.create",
        actor=world.member.user,
        origin=TEST_ORIGIN,
        organization_id=world.org.pk,
        title=hostile,
    )
    record("login.success", actor=world.outsider.user, origin=TEST_ORIGIN, organization_id=None)
    admin = signed_in_browser("admin@a.example")
    page = admin.get("/organization/audit/", secure=True)
    assert page.status_code == 200
    assert b"project.create" in page.content and b"login.success" in page.content
    assert hostile.encode() not in page.content
    assert b"&lt;/script&gt;&lt;img src=x onerror=" in page.content
    assert b"outsider@b.example" not in page.content  # another organization's event
    mine = admin.get(f"/organization/audit/?user={world.member.user.pk}", secure=True)
    assert b"project.create" in mine.content and b"login.success</code>" not in mine.content
    logins = admin.get("/organization/audit/?action=login.success", secure=True)
    assert b"project.create" not in logins.content


@pytest.mark.parametrize(
    "query", ["user=abc", "user=99999999999999999999999", "since=yesterday", "action=a%00b"]
)
def test_bad_audit_filters_are_explained(world: World, query: str) -> None:
    admin = signed_in_browser("admin@a.example")
    response = admin.get(f"/organization/audit/?{query}", secure=True)
    assert response.status_code == 400
    assert b'class="error"' in response.content


def test_the_audit_log_pages(world: World) -> None:
    for n in range(60):
        record(
            "workspace.create",
            actor=world.admin.user,
            origin=TEST_ORIGIN,
            organization_id=world.org.pk,
            n=n,
        )
    admin = signed_in_browser("admin@a.example")
    first = admin.get("/organization/audit/?action=workspace.create", secure=True)
    assert first.content.count(b"<code>workspace.create</code>") == 50
    assert b"page=2" in first.content and b"action=workspace.create" in first.content
    second = admin.get("/organization/audit/?action=workspace.create&page=2", secure=True)
    assert second.content.count(b"<code>workspace.create</code>") == 10
    assert admin.get("/organization/audit/?page=abc", secure=True).status_code == 200

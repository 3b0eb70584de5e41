"""A user in several organizations chooses the one they act in: through the API
(`PATCH api/users/{self}/ {"active_organization": id}`) or the account page. Only an
organization where they are an active member; sessions go on, tokens follow at once."""

from __future__ import annotations

from typing import Any

import pytest

from labelkeep.accounts import services
from labelkeep.accounts.models import Membership, Organization
from labelkeep.accounts.roles import Role
from labelkeep.audit.models import AuditEvent
from tests.conftest import TEST_ORIGIN, Actor, World, make_user, signed_in_browser


@pytest.fixture
def traveller(world: World) -> Actor:
    """The owner of Org B, who joined Org A through its invite link (and so acts in A)."""
    services.join_organization(world.org.invite_token, world.outsider.user, origin=TEST_ORIGIN)
    world.outsider.user.refresh_from_db()
    assert world.outsider.user.active_organization_id == world.org.pk
    return world.outsider


def _org_b(world: World) -> Organization:
    return Organization.objects.exclude(pk=world.org.pk).get(memberships__user=world.outsider.user)


def _switch(actor: Actor, organization: Any) -> Any:
    return actor.client.patch(
        f"/api/users/{actor.user.pk}/", {"active_organization": organization}, format="json"
    )


def test_switching_through_the_api(world: World, traveller: Actor) -> None:
    org_b = _org_b(world)
    assert traveller.client.get(f"/api/organizations/{org_b.pk}").status_code == 404
    response = _switch(traveller, org_b.pk)
    assert response.status_code == 200, response.content
    assert response.json()["active_organization"] == org_b.pk
    me = traveller.client.get("/api/current-user/whoami").json()
    assert (me["active_organization"], me["role"]) == (org_b.pk, "owner")
    assert traveller.client.get(f"/api/organizations/{org_b.pk}").status_code == 200
    assert traveller.client.get(f"/api/organizations/{world.org.pk}").status_code == 404
    event = AuditEvent.objects.get(action="user.switch_organization")
    assert (event.organization_id, event.actor_id) == (org_b.pk, traveller.user.pk)
    assert event.details["previous"] == world.org.pk
    # And back; switching to where one already is changes and records nothing.
    assert _switch(traveller, world.org.pk).status_code == 200
    assert _switch(traveller, world.org.pk).status_code == 200
    assert AuditEvent.objects.filter(action="user.switch_organization").count() == 2


@pytest.mark.parametrize(
    "target", ["elsewhere", "deactivated", "missing", "text", "huge", "null", "zero"]
)
def test_switching_where_one_may_not_act_is_refused(
    world: World, traveller: Actor, target: str
) -> None:
    elsewhere = make_user("c@c.example", role=Role.OWNER, title="Org C").active_organization
    assert elsewhere is not None
    if target == "deactivated":
        Membership.objects.filter(user=traveller.user, organization=_org_b(world)).update(
            role=Role.DEACTIVATED
        )
    value = {
        "elsewhere": elsewhere.pk,
        "deactivated": _org_b(world).pk,
        "missing": 2**40,
        "text": "two",
        "huge": 2**70,
        "null": None,
        "zero": 0,
    }[target]
    response = _switch(traveller, value)
    assert response.status_code == 400, response.content
    assert "active_organization" in response.json()["validation_errors"]
    traveller.user.refresh_from_db()
    assert traveller.user.active_organization_id == world.org.pk
    assert not AuditEvent.objects.filter(action="user.switch_organization").exists()


def _refuse_profile_changes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The profile update fails after the switch (as when a username is taken by someone
    else between the form's check and the write); returns the switches that ran."""
    switched: list[int] = []
    switch = services.switch_organization

    def spy(user: Any, organization_id: int, **kwargs: Any) -> Any:
        switched.append(organization_id)
        return switch(user, organization_id, **kwargs)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise services.AccountError("This username is already taken.")

    monkeypatch.setattr(services, "switch_organization", spy)
    monkeypatch.setattr(services, "update_profile", refuse)
    return switched


def test_a_refused_profile_change_switches_nothing(
    world: World, traveller: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    switched = _refuse_profile_changes(monkeypatch)
    response = traveller.client.patch(
        f"/api/users/{traveller.user.pk}/",
        {"active_organization": _org_b(world).pk, "first_name": "Ada"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["validation_errors"]["username"] == ["This username is already taken."]
    assert switched == [_org_b(world).pk]  # the switch ran, and was rolled back
    traveller.user.refresh_from_db()
    assert traveller.user.active_organization_id == world.org.pk
    assert not AuditEvent.objects.filter(action="user.switch_organization").exists()


def test_a_refused_change_leaves_the_session_as_it_was(
    world: World, traveller: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = signed_in_browser(traveller.user.email)
    _refuse_profile_changes(monkeypatch)
    response = browser.patch(
        f"/api/users/{traveller.user.pk}/",
        {"active_organization": _org_b(world).pk, "first_name": "Ada"},
        content_type="application/json",
        headers={"x-csrftoken": browser.cookies["csrftoken"].value},
        secure=True,
    )
    assert response.status_code == 400
    assert "username" in response.json()["validation_errors"]
    me = browser.get("/api/current-user/whoami", secure=True)
    assert me.status_code == 200
    assert me.json()["active_organization"] == world.org.pk


def test_switching_through_the_api_keeps_a_cookie_session(world: World, traveller: Actor) -> None:
    browser = signed_in_browser(traveller.user.email)
    response = browser.patch(
        f"/api/users/{traveller.user.pk}/",
        {"active_organization": _org_b(world).pk},
        content_type="application/json",
        headers={"x-csrftoken": browser.cookies["csrftoken"].value},
        secure=True,
    )
    assert response.status_code == 200, response.content
    me = browser.get("/api/current-user/whoami", secure=True)
    assert me.status_code == 200
    assert me.json()["active_organization"] == _org_b(world).pk


def test_removal_moves_a_member_to_their_other_organization(world: World, traveller: Actor) -> None:
    membership = Membership.objects.get(user=traveller.user, organization=world.org)
    services.remove_member(membership, actor=world.owner.user, origin=TEST_ORIGIN)
    traveller.user.refresh_from_db()
    assert traveller.user.active_organization_id == _org_b(world).pk
    me = traveller.client.get("/api/current-user/whoami")  # the same key, as signing in would
    assert me.status_code == 200
    assert (me.json()["active_organization"], me.json()["role"]) == (_org_b(world).pk, "owner")


def test_nobody_switches_someone_else(world: World, traveller: Actor) -> None:
    response = world.owner.client.patch(
        f"/api/users/{traveller.user.pk}/", {"active_organization": world.org.pk}, format="json"
    )
    assert response.status_code == 403
    assert _switch(world.outsider, _org_b(world).pk).status_code == 200  # themselves only


def test_switching_on_the_account_page_keeps_the_session(world: World, traveller: Actor) -> None:
    browser = signed_in_browser(traveller.user.email)
    page = browser.get("/user/account/", secure=True)
    assert b"Org A (annotator)" in page.content and b"(owner)" in page.content
    org_b = _org_b(world)
    token = browser.cookies["csrftoken"].value
    form = {"action": "switch-organization", "organization": str(org_b.pk)}
    switched = browser.post("/user/account/", {**form, "csrfmiddlewaretoken": token}, secure=True)
    assert switched.status_code == 302
    me = browser.get("/api/current-user/whoami", secure=True)
    assert me.status_code == 200  # the session went on in the new membership
    assert me.json()["active_organization"] == org_b.pk
    refused = browser.post(
        "/user/account/",
        {"action": "switch-organization", "organization": "../1", "csrfmiddlewaretoken": token},
        secure=True,
    )
    assert b"Choose one of your organizations" in refused.content


def test_one_organization_shows_no_switch(world: World) -> None:
    browser = signed_in_browser("member@a.example")
    assert b"switch-organization" not in browser.get("/user/account/", secure=True).content

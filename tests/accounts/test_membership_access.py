"""Access ends with the membership: removed and deactivated members cannot sign in, their
sessions and tokens stop at once, and neither an old invite link nor a fresh one undoes
what an administrator did."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from labelkeep.accounts import login, services
from labelkeep.accounts.models import Membership, User
from labelkeep.accounts.roles import Role
from labelkeep.audit.models import AuditEvent
from tests.conftest import PASSWORD, TEST_ORIGIN, HttpsClient, World, as_actor, make_user

WRONG = "Wrong e-mail address or password"


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True, headers={"referer": "https://testserver/"})


def _post(client: Client, path: str, data: dict[str, str]) -> Any:
    assert client.get(path, secure=True).status_code == 200
    token = client.cookies["csrftoken"].value
    return client.post(path, {**data, "csrfmiddlewaretoken": token}, secure=True)


def _sign_in(client: Client, email: str, password: str = PASSWORD) -> Any:
    return _post(client, "/user/login/", {"email": email, "password": password})


def _signed_in_browser(email: str) -> Client:
    browser = Client(enforce_csrf_checks=True, headers={"referer": "https://testserver/"})
    assert _sign_in(browser, email).status_code == 302
    assert browser.get("/", secure=True).status_code == 200
    return browser


def _join(client: Client, token: str, email: str, password: str = PASSWORD) -> Any:
    path = f"/user/signup/?token={token}"
    return _post(client, path, {"email": email, "password": password, "token": token})


def _membership_url(world: World, user: User) -> str:
    return f"/api/organizations/{world.org.pk}/memberships/{user.pk}/"


def _remove(world: World, user: User) -> None:
    assert world.admin.client.delete(_membership_url(world, user)).status_code == 204


def _set_role(world: World, user: User, role: Role) -> None:
    url = _membership_url(world, user)
    response = world.admin.client.patch(url, {"role": role.value}, format="json")
    assert response.status_code == 200, response.content


def _session_exists(key: str) -> bool:
    store = import_module(django_settings.SESSION_ENGINE).SessionStore()
    return bool(store.exists(key))


def _api_sign_in(email: str, password: str = PASSWORD) -> Any:
    return Client().post(
        "/api/auth/login",
        {"email": email, "password": password},
        content_type="application/json",
        secure=True,
    )


def _refresh(refresh: str) -> Any:
    return HttpsClient().post("/api/token/refresh/", {"refresh": refresh}, format="json")


def _bearer(access: str) -> HttpsClient:
    client = HttpsClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# --- Signing in ------------------------------------------------------------------------


def test_removed_member_cannot_sign_in_on_the_page(world: World, browser: Client) -> None:
    _remove(world, world.member.user)
    response = _sign_in(browser, "member@a.example")
    assert response.status_code == 400
    assert login.NO_ACTIVE_MEMBERSHIP.encode() in response.content
    assert "_auth_user_id" not in browser.session
    assert browser.get("/", secure=True).status_code == 302
    assert browser.get("/api/current-user/whoami", secure=True).status_code == 401
    event = AuditEvent.objects.get(action="login.refused")
    assert event.actor_id == world.member.user.pk
    assert event.details["reason"] == "removed"
    assert event.organization_id is None  # no organization of theirs is left to read it
    assert not AuditEvent.objects.filter(action="login.success", actor=world.member.user).exists()


def test_wrong_password_of_a_removed_member_says_only_that(world: World, browser: Client) -> None:
    # Whether an account still has access is said only to someone who knows its password.
    _remove(world, world.member.user)
    response = _sign_in(browser, "member@a.example", "not-the-password")
    assert response.status_code == 400
    assert WRONG.encode() in response.content
    assert login.NO_ACTIVE_MEMBERSHIP.encode() not in response.content
    assert AuditEvent.objects.filter(action="login.failure").count() == 1
    assert not AuditEvent.objects.filter(action="login.refused").exists()


def test_deactivated_member_cannot_sign_in(world: World, browser: Client) -> None:
    _set_role(world, world.member.user, Role.DEACTIVATED)
    page = _sign_in(browser, "member@a.example")
    assert page.status_code == 400
    assert login.NO_ACTIVE_MEMBERSHIP.encode() in page.content
    assert browser.get("/user/account/", secure=True).status_code == 302
    api = _api_sign_in("member@a.example")
    assert api.status_code == 401
    assert api.json()["detail"] == login.NO_ACTIVE_MEMBERSHIP
    assert "sessionid" not in api.cookies or not api.cookies["sessionid"].value
    refusals = AuditEvent.objects.filter(action="login.refused")
    assert refusals.count() == 2
    # In the organization that deactivated them, where its admins read the log.
    assert {(e.organization_id, e.details["reason"]) for e in refusals} == {
        (world.org.pk, "deactivated")
    }


def test_refused_sign_ins_count_for_the_throttle(
    world: World, browser: Client, settings: Any
) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    _remove(world, world.member.user)
    for _ in range(2):
        assert _sign_in(browser, "member@a.example").status_code == 400
    throttled = _sign_in(browser, "member@a.example")
    assert throttled.status_code == 429
    assert b"Too many failed sign-in attempts" in throttled.content
    assert AuditEvent.objects.filter(action="login.throttled").count() == 1


def test_member_removed_from_one_organization_signs_in_to_another(world: World) -> None:
    outsider_org = world.outsider.org
    services.join_organization(outsider_org.invite_token, world.member.user, origin=TEST_ORIGIN)
    User.objects.filter(pk=world.member.user.pk).update(active_organization=world.org)
    _remove(world, world.member.user)
    browser = _signed_in_browser("member@a.example")
    whoami = browser.get("/api/current-user/whoami", secure=True).json()
    assert whoami["active_organization"] == outsider_org.pk
    assert whoami["role"] == Role.ANNOTATOR.value


# --- Existing sessions -----------------------------------------------------------------


def test_session_of_a_removed_member_ends_at_the_next_request(world: World) -> None:
    browser = _signed_in_browser("member@a.example")
    key = browser.session.session_key
    assert key is not None and _session_exists(key)
    csrf = browser.cookies["csrftoken"].value
    resets = AuditEvent.objects.filter(action="token.reset", actor=world.member.user)
    before = resets.count()
    _remove(world, world.member.user)

    reset = browser.post(
        "/api/current-user/reset-token/", HTTP_X_CSRFTOKEN=csrf, secure=True
    )  # a cookie-authenticated API write
    assert reset.status_code == 401
    assert not _session_exists(key)
    assert browser.get("/api/current-user/whoami", secure=True).status_code == 401
    page = browser.get("/user/account/", secure=True)
    assert page.status_code == 302
    assert page["Location"].startswith("/user/login/")
    assert browser.get("/", secure=True).status_code == 302
    assert resets.count() == before


def test_a_page_request_ends_a_removed_members_session(world: World) -> None:
    browser = _signed_in_browser("member@a.example")
    _remove(world, world.member.user)
    page = browser.get("/user/account/", secure=True)
    assert page.status_code == 302
    assert "_auth_user_id" not in browser.session
    assert browser.get("/docs/api/", secure=True).status_code == 302
    assert browser.get("/api/projects/", secure=True).status_code == 401


def test_session_of_a_deactivated_member_stays_ended(world: World) -> None:
    browser = _signed_in_browser("member@a.example")
    _set_role(world, world.member.user, Role.DEACTIVATED)
    assert browser.get("/api/current-user/whoami", secure=True).status_code == 401
    assert browser.get("/", secure=True).status_code == 302
    # Reactivation gives back the membership, not a session that was ended.
    _set_role(world, world.member.user, Role.ANNOTATOR)
    assert browser.get("/", secure=True).status_code == 302
    assert browser.get("/api/current-user/whoami", secure=True).status_code == 401
    assert _signed_in_browser("member@a.example").get("/", secure=True).status_code == 200


def test_session_of_a_removed_member_does_not_come_back_when_they_rejoin(
    world: World, browser: Client
) -> None:
    old = _signed_in_browser("member@a.example")
    _remove(world, world.member.user)
    world.org.refresh_from_db()
    assert _join(browser, world.org.invite_token, "member@a.example").status_code == 302
    assert old.get("/", secure=True).status_code == 302
    assert old.get("/api/current-user/whoami", secure=True).status_code == 401


# --- Tokens ----------------------------------------------------------------------------


def test_tokens_of_a_removed_member_are_refused(world: World) -> None:
    pat = world.member.client.post("/api/token/").json()["token"]
    access = _refresh(pat).json()["access"]
    assert _bearer(access).get("/api/current-user/whoami").status_code == 200
    _remove(world, world.member.user)
    refused = world.member.client.get("/api/current-user/whoami")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "This account is not an active member of any organization."
    assert world.member.client.get("/api/projects/").status_code == 403
    assert world.member.client.post("/api/current-user/reset-token/").status_code == 403
    assert world.member.client.get("/api/schema", HTTP_ACCEPT="application/json").status_code == 403
    refused = _refresh(pat)
    assert refused.status_code == 401
    assert "not an active member of any organization" in refused.json()["detail"]
    denied = _bearer(access).get("/api/current-user/whoami")
    assert denied.status_code == 401
    assert "not an active member of any organization" in denied.json()["detail"]


def test_tokens_of_a_deactivated_member_are_refused(world: World) -> None:
    pat = world.member.client.post("/api/token/").json()["token"]
    access = _refresh(pat).json()["access"]
    _set_role(world, world.member.user, Role.DEACTIVATED)
    refused = world.member.client.get("/api/current-user/whoami")
    assert refused.status_code == 403
    assert "has been deactivated" in refused.json()["detail"]
    assert world.member.client.post("/api/token/").status_code == 403
    assert world.member.client.post("/api/current-user/reset-token/").status_code == 403
    assert (
        world.member.client.get("/api/schema/", HTTP_ACCEPT="application/json").status_code == 403
    )
    refused = _refresh(pat)
    assert refused.status_code == 401
    assert "not an active member" in refused.json()["detail"]
    assert _bearer(access).get("/api/current-user/whoami").status_code == 403


# --- Active members --------------------------------------------------------------------


def test_active_members_are_unaffected(world: World) -> None:
    member = _signed_in_browser("member@a.example")
    admin = _signed_in_browser("admin@a.example")
    other = as_actor(make_user("other@a.example", org=world.org, role=Role.ANNOTATOR))
    _remove(world, other.user)
    _set_role(world, world.member.user, Role.REVIEWER)  # a role change is no removal
    assert admin.get("/user/account/", secure=True).status_code == 200
    whoami = member.get("/api/current-user/whoami", secure=True)
    assert whoami.status_code == 200 and whoami.json()["role"] == "reviewer"
    assert member.get("/", secure=True).status_code == 200
    assert world.member.client.get("/api/current-user/whoami").status_code == 200
    # Changing one's password keeps one's own session.
    new = "another long passphrase 42"
    changed = member.post(
        "/user/account/",
        {
            "action": "change-password",
            "old_password": PASSWORD,
            "new_password": new,
            "csrfmiddlewaretoken": member.cookies["csrftoken"].value,
        },
        secure=True,
    )
    assert b"Your password has been changed" in changed.content
    assert member.get("/", secure=True).status_code == 200


# --- Invite links ----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["remove", "deactivate"])
def test_taking_access_away_replaces_the_invite_link(
    world: World, browser: Client, how: str
) -> None:
    old = world.org.invite_token
    if how == "remove":
        _remove(world, world.member.user)
    else:
        _set_role(world, world.member.user, Role.DEACTIVATED)
    world.org.refresh_from_db()
    assert world.org.invite_token != old
    # The link they may know cannot bring them back, not even as a new account.
    assert browser.get(f"/user/signup/?token={old}", secure=True).status_code == 404
    csrf = browser.get("/user/login/", secure=True).cookies["csrftoken"].value
    refused = browser.post(
        "/user/signup/",
        {
            "email": "member+again@a.example",
            "password": PASSWORD,
            "token": old,
            "csrfmiddlewaretoken": csrf,
        },
        secure=True,
    )
    assert refused.status_code == 404
    assert not User.objects.filter(email="member+again@a.example").exists()
    reason = "member.remove" if how == "remove" else "member.deactivate"
    event = AuditEvent.objects.get(action="invite.reset")
    assert event.actor_id == world.admin.user.pk and event.details == {"reason": reason}


def test_removing_a_deactivated_member_keeps_the_link(world: World) -> None:
    _set_role(world, world.member.user, Role.DEACTIVATED)
    world.org.refresh_from_db()
    link = world.org.invite_token
    _remove(world, world.member.user)
    world.org.refresh_from_db()
    assert world.org.invite_token == link


def test_removed_member_rejoins_through_a_fresh_link(world: World, browser: Client) -> None:
    _remove(world, world.member.user)
    fresh = world.admin.client.get("/api/invite").json()["token"]
    wrong = _join(browser, fresh, "member@a.example", "not-the-password")
    assert wrong.status_code == 200
    assert b"already exists" in wrong.content
    assert not Membership.objects.filter(user=world.member.user).exists()
    assert AuditEvent.objects.filter(action="login.failure").count() == 1

    joined = _join(browser, fresh, "member@a.example")
    assert joined.status_code == 302
    membership = Membership.objects.get(user=world.member.user)
    assert (membership.organization_id, membership.role) == (world.org.pk, "annotator")
    event = AuditEvent.objects.get(action="member.join")
    assert event.actor_id == world.member.user.pk and event.organization_id == world.org.pk
    assert User.objects.filter(email="member@a.example").count() == 1
    assert _signed_in_browser("member@a.example").get("/", secure=True).status_code == 200


def test_joining_with_an_existing_account_is_throttled(
    world: World, browser: Client, settings: Any
) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    _remove(world, world.member.user)
    fresh = world.admin.client.get("/api/invite").json()["token"]
    for _ in range(2):
        assert _join(browser, fresh, "member@a.example", "guess-guess").status_code == 200
    throttled = _join(browser, fresh, "member@a.example")
    assert throttled.status_code == 429
    assert not Membership.objects.filter(user=world.member.user).exists()


def test_deactivated_member_cannot_rejoin_through_a_link(world: World, browser: Client) -> None:
    _set_role(world, world.member.user, Role.DEACTIVATED)
    fresh = world.admin.client.get("/api/invite").json()["token"]
    response = _join(browser, fresh, "member@a.example")
    assert response.status_code == 200
    assert b"only an administrator" in response.content
    assert Membership.objects.get(user=world.member.user).role == Role.DEACTIVATED
    event = AuditEvent.objects.get(action="member.join_refused")
    assert event.actor_id == world.member.user.pk
    assert _sign_in(browser, "member@a.example").status_code == 400


def test_active_member_using_the_link_stays_as_they_are(world: World, browser: Client) -> None:
    _set_role(world, world.member.user, Role.REVIEWER)
    assert _join(browser, world.org.invite_token, "member@a.example").status_code == 302
    assert Membership.objects.get(user=world.member.user).role == Role.REVIEWER
    assert not AuditEvent.objects.filter(action="member.join").exists()

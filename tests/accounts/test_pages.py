"""Server-rendered account pages: sign-in, setup link, invite sign-up, account, redirects."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from labelkeep.accounts import services
from labelkeep.accounts.models import Membership, Organization, User
from labelkeep.audit.models import AuditEvent
from tests.conftest import PASSWORD, World


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True, headers={"referer": "https://testserver/"})


def _csrf(client: Client, path: str) -> str:
    response = client.get(path, secure=True)
    assert response.status_code == 200
    return str(client.cookies["csrftoken"].value)


def _post(client: Client, path: str, data: dict[str, Any]) -> Any:
    token = _csrf(client, path)
    return client.post(path, {**data, "csrfmiddlewaretoken": token}, secure=True)


def test_plain_http_redirects_to_https(db: Any) -> None:
    response = Client().get("/user/login/")
    assert response.status_code == 308
    assert response["Location"] == "https://testserver/user/login/"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_plain_http_writes_are_redirected_keeping_their_method(world: World, method: str) -> None:
    """A 301 or 302 turns a POST into a GET in most clients (httpx, so the SDK): the write
    would silently become a read of the list. 308 keeps the method and the body."""
    client = Client(headers={"authorization": f"Token {world.member.key}"})
    response = getattr(client, method)("/api/workspaces/?x=1", {"title": "W"})
    assert response.status_code == 308
    assert response["Location"] == "https://testserver/api/workspaces/?x=1"


def test_login_and_logout(world: World, browser: Client) -> None:
    response = _post(browser, "/user/login/", {"email": "member@a.example", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert browser.get("/", secure=True).status_code == 200
    assert (
        browser.get("/api/current-user/whoami", secure=True).json()["email"] == "member@a.example"
    )
    token = browser.cookies["csrftoken"].value
    logout = browser.post("/user/logout/", {"csrfmiddlewaretoken": token}, secure=True)
    assert logout.status_code == 302
    assert browser.get("/", secure=True).status_code == 302
    actions = list(
        AuditEvent.objects.filter(actor=world.member.user).values_list("action", flat=True)
    )
    assert "login.success" in actions
    assert "logout" in actions


def test_login_without_csrf_token_is_refused(world: World, browser: Client) -> None:
    browser.get("/user/login/", secure=True)
    response = browser.post(
        "/user/login/", {"email": "member@a.example", "password": PASSWORD}, secure=True
    )
    assert response.status_code == 403


def test_wrong_password_is_audited(world: World, browser: Client) -> None:
    response = _post(
        browser, "/user/login/", {"email": "member@a.example", "password": "nope-nope"}
    )
    assert response.status_code == 400
    assert b"Wrong e-mail address or password" in response.content
    event = AuditEvent.objects.filter(action="login.failure").get()
    assert event.actor_id == world.member.user.pk
    assert event.ip_address == "127.0.0.1"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "http://testserver/",
        "/\\evil.example",
        "javascript:alert(1)",
        "\\\\evil.example",
        "https:evil.example",
    ],
)
def test_next_redirects_stay_on_site(world: World, browser: Client, target: str) -> None:
    response = _post(
        browser,
        "/user/login/",
        {"email": "member@a.example", "password": PASSWORD, "next": target},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_next_same_site_path_is_kept(world: World, browser: Client) -> None:
    response = _post(
        browser,
        "/user/login/",
        {"email": "member@a.example", "password": PASSWORD, "next": "/user/account/"},
    )
    assert response["Location"] == "/user/account/"


def test_forged_session_cookie_is_ignored(world: World) -> None:
    client = Client()
    client.cookies["sessionid"] = "forged-session-value-0123456789abcdef"
    assert client.get("/", secure=True).status_code == 302
    assert client.get("/api/current-user/whoami", secure=True).status_code == 401


def test_login_throttled_per_account(world: World, browser: Client, settings: Any) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        _post(browser, "/user/login/", {"email": "member@a.example", "password": "wrong-wrong"})
    response = _post(browser, "/user/login/", {"email": "member@a.example", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    # Another account from the same address still signs in.
    other = _post(browser, "/user/login/", {"email": "admin@a.example", "password": PASSWORD})
    assert other.status_code == 302


def test_setup_link_works_once(db: Any, browser: Client) -> None:
    key = services.issue_setup_token()
    path = f"/setup/{key}/"
    response = _post(
        browser,
        path,
        {"email": "first@x.example", "password": PASSWORD, "organization": "Acme"},
    )
    assert response.status_code == 302
    owner = User.objects.get(email="first@x.example")
    membership = Membership.objects.get(user=owner)
    assert membership.role == "owner"
    assert membership.organization.title == "Acme"
    assert browser.get(path, secure=True).status_code == 404


def test_setup_link_unknown_key_is_404(db: Any, browser: Client) -> None:
    services.issue_setup_token()
    assert browser.get("/setup/not-the-key/", secure=True).status_code == 404


def test_setup_link_dead_once_users_exist(world: World, browser: Client) -> None:
    key = services.issue_setup_token()
    assert browser.get(f"/setup/{key}/", secure=True).status_code == 404


def test_weak_password_refused_at_setup(db: Any, browser: Client) -> None:
    key = services.issue_setup_token()
    for weak in ("short7!", "password123", "12345678901", "first@x.example"):
        response = _post(
            browser,
            f"/setup/{key}/",
            {"email": "first@x.example", "password": weak, "organization": "Acme"},
        )
        assert response.status_code == 200, weak
        assert not User.objects.exists()


def test_signup_through_invite_link(world: World, browser: Client) -> None:
    token = world.org.invite_token
    response = _post(
        browser,
        f"/user/signup/?token={token}",
        {"email": "new@a.example", "password": PASSWORD, "token": token},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user__email="new@a.example")
    assert membership.organization_id == world.org.pk
    assert membership.role == "annotator"
    assert AuditEvent.objects.filter(action="user.signup", actor=membership.user).exists()


def test_signup_without_valid_link_is_refused(world: World, browser: Client) -> None:
    assert browser.get("/user/signup/", secure=True).status_code == 404
    assert browser.get("/user/signup/?token=guess", secure=True).status_code == 404
    token = browser.get("/user/login/", secure=True).cookies["csrftoken"].value
    response = browser.post(
        "/user/signup/",
        {"email": "x@x.example", "password": PASSWORD, "token": "", "csrfmiddlewaretoken": token},
        secure=True,
    )
    assert response.status_code == 404
    assert not User.objects.filter(email="x@x.example").exists()


def test_reset_invite_kills_old_link(world: World, browser: Client) -> None:
    old = world.org.invite_token
    response = world.admin.client.post("/api/invite/reset-token")
    assert response.status_code == 201
    new = response.json()["token"]
    assert new != old
    assert browser.get(f"/user/signup/?token={old}", secure=True).status_code == 404
    assert browser.get(f"/user/signup/?token={new}", secure=True).status_code == 200
    assert Organization.objects.get(pk=world.org.pk).invite_token == new


def test_account_page_shows_new_token_once(world: World, browser: Client) -> None:
    _post(browser, "/user/login/", {"email": "member@a.example", "password": PASSWORD})
    page = browser.get("/user/account/", secure=True)
    assert page.status_code == 200
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/user/account/", {"action": "reset-token", "csrfmiddlewaretoken": token}, secure=True
    )
    key = response.context["new_token"]
    assert key.encode() in response.content
    assert key.encode() not in browser.get("/user/account/", secure=True).content
    # The old key stopped working at once.
    assert world.member.client.get("/api/current-user/whoami").status_code == 401


def test_password_change(world: World, browser: Client) -> None:
    _post(browser, "/user/login/", {"email": "member@a.example", "password": PASSWORD})
    token = browser.cookies["csrftoken"].value
    new = "another long passphrase 42"
    response = browser.post(
        "/user/account/",
        {
            "action": "change-password",
            "old_password": PASSWORD,
            "new_password": new,
            "csrfmiddlewaretoken": token,
        },
        secure=True,
    )
    assert b"Your password has been changed" in response.content
    world.member.user.refresh_from_db()
    assert world.member.user.check_password(new)
    assert world.member.user.password.startswith("argon2")
    assert AuditEvent.objects.filter(action="password.change").exists()


def _change_password(browser: Client, old: str, new: str) -> Any:
    token = browser.cookies["csrftoken"].value
    form = {"action": "change-password", "old_password": old, "new_password": new}
    return browser.post("/user/account/", {**form, "csrfmiddlewaretoken": token}, secure=True)


def test_current_password_guesses_are_throttled(
    world: World, browser: Client, settings: Any
) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    _post(browser, "/user/login/", {"email": "member@a.example", "password": PASSWORD})
    new = "another long passphrase 42"
    for guess in range(3):
        wrong = _change_password(browser, f"guess number {guess}", new)
        assert wrong.status_code == 200
        assert b"Your current password is not correct" in wrong.content
    throttled = _change_password(browser, PASSWORD, new)  # right, but too late
    assert throttled.status_code == 429
    assert b"Try again in" in throttled.content
    world.member.user.refresh_from_db()
    assert world.member.user.check_password(PASSWORD)
    failures = AuditEvent.objects.filter(action="password.change_failure")
    assert failures.count() == 3
    assert {event.actor_id for event in failures} == {world.member.user.pk}
    assert AuditEvent.objects.filter(action="password.change_throttled").count() == 1
    # The guesses count against signing in as well.
    signing_in = Client(enforce_csrf_checks=True, headers={"referer": "https://testserver/"})
    login = {"email": "member@a.example", "password": PASSWORD}
    assert _post(signing_in, "/user/login/", login).status_code == 429


def test_a_right_current_password_forgives_earlier_guesses(
    world: World, browser: Client, settings: Any
) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    _post(browser, "/user/login/", {"email": "member@a.example", "password": PASSWORD})
    new = "another long passphrase 42"
    for guess in range(2):
        assert b"not correct" in _change_password(browser, f"guess number {guess}", new).content
    changed = _change_password(browser, PASSWORD, new)
    assert b"Your password has been changed" in changed.content
    assert b"not correct" in _change_password(browser, "guess again", "third passphrase 42").content
    assert b"not correct" in _change_password(browser, "and again!", "third passphrase 42").content
    assert _change_password(browser, new, "third passphrase 42").status_code == 200


def test_the_account_page_is_not_cached(world: World, browser: Client) -> None:
    _post(browser, "/user/login/", {"email": "member@a.example", "password": PASSWORD})
    token = browser.cookies["csrftoken"].value
    shown = browser.post(
        "/user/account/", {"action": "reset-token", "csrfmiddlewaretoken": token}, secure=True
    )
    assert shown.status_code == 200
    assert "no-store" in shown["Cache-Control"]
    assert "no-store" in browser.get("/user/account/", secure=True)["Cache-Control"]


def test_security_headers_on_pages(db: Any) -> None:
    response = Client().get("/user/login/", secure=True)
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "max-age=31536000" in response["Strict-Transport-Security"]
    assert b"<script" not in response.content


def test_admin_replaces_invite_link_from_account_page(world: World, browser: Client) -> None:
    old = world.org.invite_token
    _post(browser, "/user/login/", {"email": "admin@a.example", "password": PASSWORD})
    page = browser.get("/user/account/", secure=True)
    assert old.encode() in page.content
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/user/account/", {"action": "reset-invite", "csrfmiddlewaretoken": token}, secure=True
    )
    assert b"no longer works" in response.content
    world.org.refresh_from_db()
    assert world.org.invite_token != old
    assert world.org.invite_token.encode() in response.content


def test_members_do_not_see_or_reset_invite_link(world: World, browser: Client) -> None:
    old = world.org.invite_token
    _post(browser, "/user/login/", {"email": "member@a.example", "password": PASSWORD})
    assert old.encode() not in browser.get("/user/account/", secure=True).content
    token = browser.cookies["csrftoken"].value
    browser.post(
        "/user/account/", {"action": "reset-invite", "csrfmiddlewaretoken": token}, secure=True
    )
    world.org.refresh_from_db()
    assert world.org.invite_token == old

"""End to end: the real label-studio-sdk against Labelkeep's identity and token API.

Each test reads what a user's script would read: SDK models, and `ApiError.status_code`
and `.body` on failure. The `sdk` fixture also fails a test whose traffic contained a
redirect, a status the SDK retries, or a non-JSON error body.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt
import pytest
from django.test import Client
from label_studio_sdk.core.api_error import ApiError
from label_studio_sdk.errors.forbidden_error import ForbiddenError
from label_studio_sdk.errors.not_found_error import NotFoundError

from tests.conftest import World
from tests.sdk.conftest import BASE_URL, SdkFactory, Wire, in_process_client

pytestmark = pytest.mark.filterwarnings(
    # The SDK's own refresh code calls pydantic's deprecated `parse_obj`.
    "ignore:The `parse_obj` method is deprecated:DeprecationWarning"
)


def claims(token: str) -> dict[str, Any]:
    """What the SDK itself reads from a token: the claims, signature unchecked."""
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def api_error(call: Any, *args: Any, **kwargs: Any) -> ApiError:
    """The ApiError a script would catch from `call(*args, **kwargs)`."""
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    assert isinstance(caught.value.body, dict), caught.value.body
    assert caught.value.body["detail"]
    return caught.value


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- Legacy token: identity, users, organizations ----------------------------------------


def test_whoami_and_version(world: World, sdk: SdkFactory, wire: Wire) -> None:
    ls = sdk(world.member.key)
    me = ls.users.whoami()
    assert me.id == world.member.user.pk
    assert me.email == "member@a.example"
    assert me.username == world.member.user.username
    assert me.active_organization == world.org.pk
    assert me.active_organization_meta == {"title": "Org A", "email": ""}
    version = ls.versions.get()
    assert version.edition != "Enterprise"  # picks the synchronous export path
    assert version.release
    sent = wire.calls("/api/current-user/whoami")[0].request.headers["Authorization"]
    assert sent == f"Token {world.member.key}"


def test_users_list_get_update(world: World, sdk: SdkFactory) -> None:
    ls = sdk(world.member.key)
    users = ls.users.list()
    assert [u.email for u in users] == ["owner@a.example", "admin@a.example", "member@a.example"]
    assert {u.active_organization for u in users} == {world.org.pk}
    admin = ls.users.get(world.admin.user.pk)
    assert (admin.id, admin.email) == (world.admin.user.pk, "admin@a.example")

    updated = ls.users.update(world.member.user.pk, first_name="Mia", last_name="Park")
    assert (updated.first_name, updated.last_name) == ("Mia", "Park")
    assert ls.users.whoami().first_name == "Mia"
    assert ls.users.get(world.member.user.pk).last_name == "Park"

    refused = api_error(ls.users.update, world.admin.user.pk, first_name="Mallory")
    assert refused.status_code == 403
    assert ls.users.get(world.admin.user.pk).first_name == ""


def test_organizations_and_member_pager(world: World, sdk: SdkFactory, wire: Wire) -> None:
    ls = sdk(world.admin.key)
    orgs = ls.organizations.list()
    assert [(o.id, o.title) for o in orgs] == [(world.org.pk, "Org A")]
    org = ls.organizations.get(world.org.pk)
    assert (org.id, org.title) == (world.org.pk, "Org A")

    members = list(ls.organizations.members.list(id=world.org.pk))
    assert [(m.user.email, m.role) for m in members] == [
        ("owner@a.example", "owner"),
        ("admin@a.example", "admin"),
        ("member@a.example", "annotator"),
    ]
    assert {m.organization for m in members} == {world.org.pk}
    assert [m.user.id for m in members] == [
        world.owner.user.pk,
        world.admin.user.pk,
        world.member.user.pk,
    ]

    # One member per page: the pager walks pages 1-3, then stops on the empty page 4.
    wire.responses.clear()
    paged = list(ls.organizations.members.list(id=world.org.pk, page_size=1))
    assert [m.user.email for m in paged] == [m.user.email for m in members]
    pages = [r.request.url.params["page"] for r in wire.responses]
    assert pages == ["1", "2", "3", "4"]
    assert wire.responses[-1].json()["results"] == []


def test_outsider_ids_are_not_found(world: World, sdk: SdkFactory) -> None:
    ls = sdk(world.admin.key)
    outsider, other_org = world.outsider.user.pk, world.outsider.org.pk
    assert api_error(ls.users.get, outsider).status_code == 404
    assert api_error(ls.users.update, outsider, first_name="X").status_code == 404
    assert api_error(ls.organizations.get, other_org).status_code == 404
    assert api_error(ls.organizations.members.list, id=other_org).status_code == 404
    with pytest.raises(NotFoundError):
        ls.organizations.members.delete(id=other_org, user_pk=outsider)
    with pytest.raises(NotFoundError):
        ls.organizations.members.delete(id=world.org.pk, user_pk=outsider)
    assert [o.title for o in sdk(world.outsider.key).organizations.list()] == ["Org B"]


def test_admin_removes_member_member_cannot(world: World, sdk: SdkFactory) -> None:
    admin, member = sdk(world.admin.key), sdk(world.member.key)
    with pytest.raises(ForbiddenError) as refused:
        member.organizations.members.delete(id=world.org.pk, user_pk=world.admin.user.pk)
    assert refused.value.status_code == 403
    assert refused.value.body["detail"]

    owner_kept = api_error(
        admin.organizations.members.delete, id=world.org.pk, user_pk=world.owner.user.pk
    )
    assert owner_kept.status_code == 400
    assert "owner" in owner_kept.body["detail"]

    assert admin.organizations.members.delete(id=world.org.pk, user_pk=world.member.user.pk) is None
    left = {m.user.id for m in admin.organizations.members.list(id=world.org.pk)}
    assert left == {world.owner.user.pk, world.admin.user.pk}
    assert api_error(member.users.whoami).status_code == 403
    assert api_error(admin.users.get, world.member.user.pk).status_code == 404


# --- Invite link -------------------------------------------------------------------------


def test_invite_link_and_reset(world: World, sdk: SdkFactory) -> None:
    ls = sdk(world.admin.key)
    browser = Client()
    link = ls.organizations.invites.get_invite_link()
    assert link.token
    assert link.invite_url == f"/user/signup/?token={link.token}"
    page = browser.get(link.invite_url, secure=True)
    assert page.status_code == 200
    assert b"Join Org A" in page.content

    reset = ls.organizations.reset_token()
    assert reset.token and reset.token != link.token
    assert reset.invite_url == f"/user/signup/?token={reset.token}"
    assert ls.organizations.invites.get_invite_link().token == reset.token

    assert browser.get(link.invite_url, secure=True).status_code == 404
    fresh = browser.get(f"/user/signup/?token={reset.token}", secure=True)
    assert fresh.status_code == 200
    assert b'name="password"' in fresh.content
    assert f'value="{reset.token}"'.encode() in fresh.content

    member = sdk(world.member.key)
    with pytest.raises(ForbiddenError):
        member.organizations.invites.get_invite_link()
    assert api_error(member.organizations.reset_token).status_code == 403
    assert ls.organizations.invites.get_invite_link().token == reset.token


# --- Legacy key: show and reset ----------------------------------------------------------


def test_get_token_shows_no_key(world: World, sdk: SdkFactory) -> None:
    ls = sdk(world.member.key)
    shown = ls.users.get_token()
    assert shown.detail
    assert getattr(shown, "token", None) is None
    raw = ls.users.with_raw_response.get_token().response
    assert set(raw.json()) == {"detail"}
    assert world.member.key not in raw.text


def test_reset_token_replaces_key_at_once(world: World, sdk: SdkFactory) -> None:
    ls = sdk(world.member.key)
    new_key = ls.users.reset_token().token
    assert new_key and new_key != world.member.key
    assert sdk(new_key).users.whoami().id == world.member.user.pk
    old = api_error(ls.users.whoami)
    assert old.status_code == 401
    assert api_error(sdk(world.member.key).users.list).status_code == 401


# --- Personal access tokens --------------------------------------------------------------


def test_pat_is_a_jwt_the_sdk_refreshes(world: World, sdk: SdkFactory, wire: Wire) -> None:
    ls = sdk(world.admin.key)
    created = ls.tokens.create()
    assert created.token and created.created_at and created.expires_at
    pat = claims(created.token)
    assert pat["token_type"] == "refresh"
    assert pat["user_id"] == str(world.admin.user.pk)
    assert dt.datetime.fromtimestamp(pat["exp"], dt.UTC) > now() + dt.timedelta(days=100)

    wire.responses.clear()
    me = sdk(created.token).users.whoami()
    assert (me.id, me.email) == (world.admin.user.pk, "admin@a.example")
    refresh, whoami = wire.responses
    assert (refresh.request.method, refresh.request.url.path) == ("POST", "/api/token/refresh/")
    access = refresh.json()["access"]
    assert claims(access)["token_type"] == "access"
    assert claims(access)["exp"] > now().timestamp()
    assert whoami.request.headers["Authorization"] == f"Bearer {access}"

    listed = ls.tokens.list()
    assert [t.token for t in listed] == [created.token.rsplit(".", 1)[0]]  # no signature
    assert listed[0].expires_at

    issued = ls.tokens.refresh(refresh=created.token).access
    assert claims(issued)["token_type"] == "access"
    assert claims(issued)["user_id"] == str(world.admin.user.pk)


def test_x_api_key_header(world: World, sdk: SdkFactory, wire: Wire) -> None:
    legacy = sdk(world.member.key, headers={"X-API-Key": world.member.key})
    assert legacy.users.whoami().id == world.member.user.pk
    pat = legacy.tokens.create().token
    assert pat
    via_pat = sdk(pat, headers={"X-API-Key": pat})  # the SDK exchanges it for an access JWT
    assert via_pat.users.whoami().id == world.member.user.pk
    assert all("authorization" not in r.request.headers for r in wire.calls("/api/token/"))
    sent = wire.calls("/api/current-user/whoami")[-1].request.headers["X-API-Key"]
    assert claims(sent)["token_type"] == "access"


def test_rotate_revokes_old_pat_and_its_access(world: World, sdk: SdkFactory) -> None:
    ls = sdk(world.admin.key)
    old = ls.tokens.create().token
    assert old
    old_client = sdk(old)
    assert old_client.users.whoami().id == world.admin.user.pk  # caches an access token
    access = ls.tokens.refresh(refresh=old).access
    by_access = sdk(access, headers={"X-API-Key": access})
    assert by_access.users.whoami().id == world.admin.user.pk

    new = ls.tokens.rotate(refresh=old).refresh
    assert new != old
    assert claims(new)["token_type"] == "refresh"
    assert sdk(new).users.whoami().id == world.admin.user.pk

    refused = api_error(ls.tokens.refresh, refresh=old)
    assert refused.status_code == 401
    assert api_error(sdk(old).users.whoami).status_code == 401  # automatic refresh
    # Labelkeep is stricter than LS here: access tokens of the old PAT stop at once.
    assert api_error(old_client.users.whoami).status_code == 401
    assert api_error(by_access.users.whoami).status_code == 401
    assert api_error(ls.tokens.rotate, refresh=old).status_code == 400
    assert len(ls.tokens.list()) == 1


def test_blacklist(world: World, sdk: SdkFactory) -> None:
    ls = sdk(world.member.key)
    pat = ls.tokens.create().token
    assert pat
    pat_client = sdk(pat)
    assert pat_client.users.whoami().id == world.member.user.pk

    assert ls.tokens.blacklist(refresh=pat) is None
    refused = api_error(ls.tokens.refresh, refresh=pat)
    assert refused.status_code == 401
    assert api_error(sdk(pat).users.whoami).status_code == 401
    assert api_error(pat_client.users.whoami).status_code == 401
    with pytest.raises(NotFoundError) as again:
        ls.tokens.blacklist(refresh=pat)
    assert again.value.status_code == 404
    assert ls.tokens.list() == []


def test_someone_elses_pat_cannot_be_revoked(world: World, sdk: SdkFactory) -> None:
    pat = sdk(world.member.key).tokens.create().token
    admin = sdk(world.admin.key)
    with pytest.raises(NotFoundError):
        admin.tokens.blacklist(refresh=pat)
    assert api_error(admin.tokens.rotate, refresh=pat).status_code == 400
    assert sdk(pat).users.whoami().id == world.member.user.pk


# --- JWT settings ------------------------------------------------------------------------


def test_jwt_settings_get_update_and_permission(world: World, sdk: SdkFactory) -> None:
    admin, member = sdk(world.admin.key), sdk(world.member.key)
    settings = admin.jwt_settings.get()
    assert settings.api_tokens_enabled is True
    assert settings.legacy_api_tokens_enabled is True
    assert settings.api_token_ttl_days == 200
    assert member.jwt_settings.get().api_token_ttl_days == 200

    refused = api_error(member.jwt_settings.update, api_token_ttl_days=1)
    assert refused.status_code == 403
    invalid = api_error(admin.jwt_settings.update, api_token_ttl_days=0)
    assert invalid.status_code == 400
    assert "api_token_ttl_days" in invalid.body["validation_errors"]

    updated = admin.jwt_settings.update(api_token_ttl_days=30)
    assert (updated.api_token_ttl_days, updated.api_tokens_enabled) == (30, True)
    assert admin.jwt_settings.get().api_token_ttl_days == 30
    pat = claims(admin.tokens.create().token)
    assert pat["exp"] - pat["iat"] == 30 * 24 * 3600


def test_legacy_tokens_off(world: World, sdk: SdkFactory) -> None:
    legacy = sdk(world.admin.key)
    pat = legacy.tokens.create().token
    by_pat = sdk(pat)
    assert by_pat.users.whoami().id == world.admin.user.pk

    off = legacy.jwt_settings.update(api_token_ttl_days=200, legacy_api_tokens_enabled=False)
    assert off.legacy_api_tokens_enabled is False
    refused = api_error(legacy.users.whoami)
    assert refused.status_code == 401
    assert "legacy token authentication has been disabled" in refused.body["detail"].lower()
    assert api_error(sdk(world.member.key).users.whoami).status_code == 401
    assert sdk(world.outsider.key).users.whoami().id == world.outsider.user.pk  # other org

    assert by_pat.users.whoami().id == world.admin.user.pk
    assert sdk(pat).users.whoami().id == world.admin.user.pk
    assert by_pat.jwt_settings.get().legacy_api_tokens_enabled is False
    by_pat.jwt_settings.update(api_token_ttl_days=200, legacy_api_tokens_enabled=True)
    assert legacy.users.whoami().id == world.admin.user.pk


def test_api_tokens_off(world: World, sdk: SdkFactory) -> None:
    legacy = sdk(world.admin.key)
    pat = legacy.tokens.create().token
    by_pat = sdk(pat)
    assert by_pat.users.whoami().id == world.admin.user.pk

    off = legacy.jwt_settings.update(api_token_ttl_days=200, api_tokens_enabled=False)
    assert off.api_tokens_enabled is False
    assert api_error(sdk(pat).users.whoami).status_code == 401
    assert api_error(legacy.tokens.refresh, refresh=pat).status_code == 401
    assert api_error(by_pat.users.whoami).status_code == 401
    refused = api_error(legacy.tokens.create)
    assert refused.status_code == 400  # not 409, which the SDK would retry
    assert legacy.users.whoami().id == world.admin.user.pk

    legacy.jwt_settings.update(api_token_ttl_days=200, api_tokens_enabled=True)
    assert sdk(pat).users.whoami().id == world.admin.user.pk


# --- The wire check itself ---------------------------------------------------------------


def test_wire_check_catches_redirects_and_html_errors(world: World) -> None:
    wire = Wire()
    with in_process_client(wire) as http:
        http.get(f"{BASE_URL}/user/account/")  # signed out: 302 to the login page
        http.get(f"{BASE_URL}/no-such-page/")  # an HTML 404 outside /api/
        http.get("http://testserver/api/version/")  # plain HTTP: redirected to https
    problems = wire.problems()
    assert any("/user/account/ → 302: redirect to /user/login/" in p for p in problems), problems
    assert any("/no-such-page/ → 404: error body is not JSON" in p for p in problems), problems
    assert any("/api/version/ → 308: redirect to https://" in p for p in problems), problems

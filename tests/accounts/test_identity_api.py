"""Identity endpoints: shapes the SDK parses, permissions, and the outsider's 404."""

from __future__ import annotations

import pytest

from labelkeep.accounts.models import Membership
from labelkeep.audit.models import AuditEvent
from tests.conftest import World


def test_whoami_shape(world: World) -> None:
    response = world.member.client.get("/api/current-user/whoami")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == world.member.user.pk
    assert body["email"] == "member@a.example"
    assert body["active_organization"] == world.org.pk
    assert body["role"] == "annotator"
    assert "annotations.create" in body["permissions"]
    assert "members.manage" not in body["permissions"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/current-user/whoami",
        "/api/version/",
        "/api/users/",
        "/api/organizations/",
        "/api/token/",
        "/api/jwt/settings",
        "/api/invite",
        "/api/audit-log/",
        "/api/workspaces/",
    ],
)
def test_anonymous_gets_json_401(anon, path: str, db) -> None:
    response = anon.get(path)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_bad_token_is_401_not_redirect(anon, db) -> None:
    anon.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert anon.get("/api/current-user/whoami").status_code == 401
    anon.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
    assert anon.get("/api/current-user/whoami").status_code == 401


def test_both_slash_spellings_without_redirect(world: World) -> None:
    for path in (
        "/api/current-user/whoami",
        "/api/current-user/whoami/",
        "/api/version",
        "/api/version/",
    ):
        assert world.member.client.get(path).status_code == 200


def test_version_reports_community_edition(world: World) -> None:
    body = world.member.client.get("/api/version/").json()
    assert body["edition"] == "Community"
    assert body["release"]


def test_users_list_is_scoped_to_organization(world: World) -> None:
    emails = {u["email"] for u in world.member.client.get("/api/users/").json()}
    assert emails == {"owner@a.example", "admin@a.example", "member@a.example"}
    outsider_emails = {u["email"] for u in world.outsider.client.get("/api/users/").json()}
    assert outsider_emails == {"outsider@b.example"}


def test_users_ordering_allowlist(world: World) -> None:
    assert world.member.client.get("/api/users/?ordering=-email").status_code == 200
    response = world.member.client.get("/api/users/?ordering=password")
    assert response.status_code == 400


def test_user_from_other_org_is_404(world: World) -> None:
    outsider_id = world.outsider.user.pk
    assert world.admin.client.get(f"/api/users/{outsider_id}/").status_code == 404
    assert (
        world.admin.client.patch(
            f"/api/users/{outsider_id}/", {"first_name": "x"}, format="json"
        ).status_code
        == 404
    )
    assert world.admin.client.delete(f"/api/users/{outsider_id}/").status_code == 404


def test_update_own_profile_only(world: World) -> None:
    me = world.member
    response = me.client.patch(f"/api/users/{me.user.pk}/", {"first_name": "Mia"}, format="json")
    assert response.status_code == 200
    assert response.json()["first_name"] == "Mia"
    other = me.client.patch(
        f"/api/users/{world.admin.user.pk}/", {"first_name": "x"}, format="json"
    )
    assert other.status_code == 403
    email = me.client.patch(f"/api/users/{me.user.pk}/", {"email": "x@evil.example"}, format="json")
    assert email.status_code == 200
    me.user.refresh_from_db()
    assert me.user.email == "member@a.example"  # read-only field ignored


def test_organizations_list_and_detail(world: World) -> None:
    orgs = world.member.client.get("/api/organizations/").json()
    assert [o["id"] for o in orgs] == [world.org.pk]
    assert world.member.client.get(f"/api/organizations/{world.org.pk}").status_code == 200
    assert world.outsider.client.get(f"/api/organizations/{world.org.pk}").status_code == 404


def test_organization_rename_needs_admin(world: World) -> None:
    url = f"/api/organizations/{world.org.pk}"
    assert world.member.client.patch(url, {"title": "Mine"}, format="json").status_code == 403
    response = world.admin.client.patch(url, {"title": "Renamed"}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "Renamed"


def test_memberships_page(world: World) -> None:
    response = world.member.client.get(f"/api/organizations/{world.org.pk}/memberships")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert {m["user"]["email"] for m in body["results"]} >= {"member@a.example"}
    filtered = world.member.client.get(
        f"/api/organizations/{world.org.pk}/memberships?role=admin"
    ).json()
    assert [m["user"]["email"] for m in filtered["results"]] == ["admin@a.example"]
    searched = world.member.client.get(
        f"/api/organizations/{world.org.pk}/memberships?search=OWNER"
    ).json()
    assert [m["user"]["email"] for m in searched["results"]] == ["owner@a.example"]
    outsider = world.outsider.client.get(f"/api/organizations/{world.org.pk}/memberships")
    assert outsider.status_code == 404


def test_admin_changes_role(world: World) -> None:
    url = f"/api/organizations/{world.org.pk}/memberships/{world.member.user.pk}/"
    response = world.admin.client.patch(url, {"role": "reviewer"}, format="json")
    assert response.status_code == 200
    assert response.json()["role"] == "reviewer"
    assert world.member.client.patch(url, {"role": "admin"}, format="json").status_code == 403
    bad = world.admin.client.patch(url, {"role": "emperor"}, format="json")
    assert bad.status_code == 400


def test_admin_cannot_touch_owner_or_make_owners(world: World) -> None:
    owner_url = f"/api/organizations/{world.org.pk}/memberships/{world.owner.user.pk}/"
    assert (
        world.admin.client.patch(owner_url, {"role": "annotator"}, format="json").status_code == 400
    )
    assert world.admin.client.delete(owner_url).status_code == 400
    member_url = f"/api/organizations/{world.org.pk}/memberships/{world.member.user.pk}/"
    assert world.admin.client.patch(member_url, {"role": "owner"}, format="json").status_code == 400
    assert world.owner.client.patch(member_url, {"role": "owner"}, format="json").status_code == 200


def test_last_owner_cannot_step_down(world: World) -> None:
    url = f"/api/organizations/{world.org.pk}/memberships/{world.owner.user.pk}/"
    response = world.owner.client.patch(url, {"role": "admin"}, format="json")
    assert response.status_code == 400
    assert "owner" in response.json()["detail"]


def test_deactivated_member_is_locked_out(world: World) -> None:
    url = f"/api/organizations/{world.org.pk}/memberships/{world.member.user.pk}/"
    assert world.admin.client.patch(url, {"role": "deactivated"}, format="json").status_code == 200
    assert world.member.client.get("/api/current-user/whoami").status_code == 403


def test_remove_member(world: World) -> None:
    url = f"/api/organizations/{world.org.pk}/memberships/{world.member.user.pk}/"
    assert world.member.client.delete(url).status_code == 403
    assert world.admin.client.delete(url).status_code == 204
    assert not Membership.objects.filter(user=world.member.user).exists()
    assert world.admin.client.get(f"/api/users/{world.member.user.pk}/").status_code == 404


def test_cross_org_membership_ids_are_404(world: World) -> None:
    url = f"/api/organizations/{world.org.pk}/memberships/{world.outsider.user.pk}/"
    assert world.admin.client.patch(url, {"role": "annotator"}, format="json").status_code == 404
    other_org = world.outsider.org.pk
    url = f"/api/organizations/{other_org}/memberships/{world.outsider.user.pk}/"
    assert world.admin.client.delete(url).status_code == 404


def test_malformed_json_is_clear_400(world: World) -> None:
    url = f"/api/organizations/{world.org.pk}"
    response = world.admin.client.generic(
        "PATCH", url, data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]
    wrong_type = world.admin.client.patch(url, {"title": ["a", "b"]}, format="json")
    assert wrong_type.status_code == 400
    assert "title" in wrong_type.json()["validation_errors"]


def test_hostile_strings_are_stored_as_text(world: World) -> None:
    title = "</script><script>alert(1)</script> ../../etc javascript:alert(1)"
    url = f"/api/organizations/{world.org.pk}"
    response = world.admin.client.patch(url, {"title": title}, format="json")
    assert response.status_code == 200
    assert world.admin.client.get(url).json()["title"] == title


def test_unsupported_methods_are_405(world: World) -> None:
    assert world.admin.client.delete("/api/current-user/whoami").status_code == 405
    assert world.admin.client.put("/api/version/", {}, format="json").status_code == 405


def test_unknown_api_path_is_json_404(world: World) -> None:
    response = world.member.client.get("/api/nothing-here/")
    assert response.status_code == 404
    assert response.json()["detail"] == "Not found."


def test_organization_stays_visible_when_someone_else_is_deactivated(world: World) -> None:
    url = f"/api/organizations/{world.org.pk}/memberships/{world.member.user.pk}/"
    world.admin.client.patch(url, {"role": "deactivated"}, format="json")
    orgs = world.admin.client.get("/api/organizations/").json()
    assert [o["id"] for o in orgs] == [world.org.pk]


def test_an_empty_change_writes_nothing_and_audits_nothing(world: World) -> None:
    before = AuditEvent.objects.count()
    admin = world.admin.client
    for path, method in (
        (f"/api/users/{world.admin.user.pk}/", "patch"),
        (f"/api/organizations/{world.org.pk}", "patch"),
        ("/api/jwt/settings", "post"),
    ):
        response = getattr(admin, method)(path, {}, format="json")
        assert response.status_code == 200, (path, response.content)
    assert AuditEvent.objects.count() == before

"""Every identity endpoint against every kind of caller: anonymous, outsider, each role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from labelkeep.accounts.models import Workspace
from labelkeep.accounts.roles import Role
from labelkeep.jobs.services import enqueue
from tests.conftest import World, as_actor, make_user


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: Callable[[World, dict[str, int]], str]
    minimum: Role  # lowest role allowed
    body: dict[str, Any] | None = None
    org_object: bool = False  # names an object of Org A: outsiders must get 404


RANKS = [Role.ANNOTATOR, Role.REVIEWER, Role.MANAGER, Role.ADMIN, Role.OWNER]

ENDPOINTS = [
    Endpoint("get", lambda w, o: "/api/version/", Role.ANNOTATOR),
    Endpoint("get", lambda w, o: "/api/current-user/whoami", Role.ANNOTATOR),
    Endpoint("get", lambda w, o: "/api/current-user/token", Role.ANNOTATOR),
    Endpoint("get", lambda w, o: "/api/token/", Role.ANNOTATOR),
    Endpoint("get", lambda w, o: "/api/jwt/settings", Role.ANNOTATOR),
    Endpoint("post", lambda w, o: "/api/jwt/settings", Role.ADMIN, {"api_token_ttl_days": 9}),
    Endpoint("get", lambda w, o: "/api/users/", Role.ANNOTATOR),
    Endpoint("get", lambda w, o: f"/api/users/{w.owner.user.pk}/", Role.ANNOTATOR, org_object=True),
    Endpoint("get", lambda w, o: "/api/organizations/", Role.ANNOTATOR),
    Endpoint("get", lambda w, o: f"/api/organizations/{w.org.pk}", Role.ANNOTATOR, org_object=True),
    Endpoint(
        "patch",
        lambda w, o: f"/api/organizations/{w.org.pk}",
        Role.ADMIN,
        {"title": "New"},
        org_object=True,
    ),
    Endpoint(
        "get",
        lambda w, o: f"/api/organizations/{w.org.pk}/memberships",
        Role.ANNOTATOR,
        org_object=True,
    ),
    Endpoint(
        "get",
        lambda w, o: f"/api/organizations/{w.org.pk}/memberships/{o['target']}/",
        Role.ANNOTATOR,
        org_object=True,
    ),
    Endpoint(
        "patch",
        lambda w, o: f"/api/organizations/{w.org.pk}/memberships/{o['target']}/",
        Role.ADMIN,
        {"role": "reviewer"},
        org_object=True,
    ),
    Endpoint(
        "delete",
        lambda w, o: f"/api/organizations/{w.org.pk}/memberships/{o['target']}/",
        Role.ADMIN,
        org_object=True,
    ),
    Endpoint("delete", lambda w, o: f"/api/users/{o['target']}/", Role.ADMIN, org_object=True),
    Endpoint("get", lambda w, o: "/api/invite", Role.ADMIN),
    Endpoint("post", lambda w, o: "/api/invite/reset-token", Role.ADMIN),
    Endpoint("get", lambda w, o: "/api/audit-log/", Role.ADMIN),
    Endpoint("get", lambda w, o: "/api/workspaces/", Role.ANNOTATOR),
    Endpoint("post", lambda w, o: "/api/workspaces/", Role.MANAGER, {"title": "New space"}),
    Endpoint(
        "get", lambda w, o: f"/api/workspaces/{o['workspace']}", Role.ANNOTATOR, org_object=True
    ),
    Endpoint(
        "patch",
        lambda w, o: f"/api/workspaces/{o['workspace']}",
        Role.MANAGER,
        {"title": "Renamed"},
        org_object=True,
    ),
    Endpoint(
        "delete", lambda w, o: f"/api/workspaces/{o['workspace']}", Role.MANAGER, org_object=True
    ),
    Endpoint("get", lambda w, o: f"/api/jobs/{o['job']}", Role.ANNOTATOR, org_object=True),
]


@pytest.fixture
def objects(world: World) -> dict[str, int]:
    target = make_user("target@a.example", org=world.org, role=Role.ANNOTATOR)
    workspace = Workspace.objects.create(organization=world.org, title="Space")
    job = enqueue("jobs.selftest", {"steps": 1}, organization_id=world.org.pk)
    return {"target": target.pk, "workspace": workspace.pk, "job": job.pk}


def _call(client: Any, endpoint: Endpoint, path: str) -> Any:
    method = getattr(client, endpoint.method)
    if endpoint.body is None:
        return method(path)
    return method(path, endpoint.body, format="json")


def _name(endpoint: Endpoint) -> str:
    return f"{endpoint.method}-{endpoint.minimum.value}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_name)
@pytest.mark.parametrize("role", RANKS, ids=lambda r: r.value)
def test_role_gate(world: World, objects: dict[str, int], endpoint: Endpoint, role: Role) -> None:
    user = make_user(f"{role.value}-caller@a.example", org=world.org, role=role)
    response = _call(as_actor(user).client, endpoint, endpoint.path(world, objects))
    allowed = RANKS.index(role) >= RANKS.index(endpoint.minimum)
    if allowed:
        assert response.status_code < 400, (response.status_code, response.content)
    else:
        assert response.status_code == 403, (response.status_code, response.content)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_name)
def test_outsider(world: World, objects: dict[str, int], endpoint: Endpoint) -> None:
    response = _call(world.outsider.client, endpoint, endpoint.path(world, objects))
    if endpoint.org_object:
        assert response.status_code == 404, (response.status_code, response.content)
    else:
        # Collection endpoints answer about the outsider's own organization only.
        assert response.status_code != 404
        assert b"a.example" not in response.content


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_name)
def test_anonymous_and_deactivated(
    world: World, objects: dict[str, int], endpoint: Endpoint, anon: Any
) -> None:
    path = endpoint.path(world, objects)
    assert _call(anon, endpoint, path).status_code == 401
    user = make_user("gone@a.example", org=world.org, role=Role.ADMIN)
    caller = as_actor(user)
    user.memberships.update(role=Role.DEACTIVATED)
    assert _call(caller.client, endpoint, path).status_code == 403


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.method == "get"], ids=_name)
def test_head_needs_what_get_needs(
    world: World, objects: dict[str, int], endpoint: Endpoint
) -> None:
    path = endpoint.path(world, objects)
    get = world.member.client.get(path).status_code
    head = world.member.client.head(path).status_code
    assert (head < 400) == (get < 400), (get, head)
    if get == 403:
        assert head == 403

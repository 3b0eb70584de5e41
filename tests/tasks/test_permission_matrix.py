"""Every labeling endpoint against every role (as a project member), outsiders, anonymous."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from labelkeep.accounts.roles import Role
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project, ProjectMember
from labelkeep.tasks import saved_views
from labelkeep.tasks import services as tasks
from labelkeep.tasks.models import Annotation, Prediction, Task
from tests.conftest import TEST_ORIGIN, World, as_actor, make_user
from tests.tasks.conftest import CONFIG, choice

RANKS = [Role.ANNOTATOR, Role.REVIEWER, Role.MANAGER, Role.ADMIN, Role.OWNER]
Ids = dict[str, int]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: Callable[[Ids], str]
    minimum: Role
    body: Any = None
    # What a role below the minimum gets: 403, or 404 for roles that may not even see it.
    hidden_from: tuple[Role, ...] = ()
    listing: bool = False  # outsiders get an empty answer about their own organization


ENDPOINTS = [
    Endpoint("get", lambda o: "/api/projects/", Role.ANNOTATOR, listing=True),
    Endpoint("post", lambda o: "/api/projects/", Role.MANAGER, {"title": "Made"}, listing=True),
    Endpoint("get", lambda o: "/api/projects/counts/", Role.ANNOTATOR, listing=True),
    Endpoint("get", lambda o: f"/api/projects/{o['project']}/", Role.ANNOTATOR),
    Endpoint("patch", lambda o: f"/api/projects/{o['project']}/", Role.MANAGER, {"title": "T"}),
    Endpoint("delete", lambda o: f"/api/projects/{o['project']}/", Role.MANAGER),
    Endpoint(
        "post",
        lambda o: f"/api/projects/{o['project']}/validate/",
        Role.MANAGER,
        {"label_config": CONFIG},
    ),
    Endpoint("get", lambda o: f"/api/projects/{o['project']}/members", Role.ANNOTATOR),
    Endpoint(
        "post", lambda o: f"/api/projects/{o['project']}/members", Role.MANAGER, {"users": []}
    ),
    Endpoint(
        "delete",
        lambda o: f"/api/projects/{o['project']}/members",
        Role.MANAGER,
        lambda o: {"users": [o["member"]]},
    ),
    Endpoint("get", lambda o: f"/api/tasks/?project={o['project']}", Role.ANNOTATOR),
    Endpoint(
        "post",
        lambda o: "/api/tasks/",
        Role.MANAGER,
        lambda o: {"project": o["project"], "data": {"text": "x"}},
    ),
    Endpoint("get", lambda o: f"/api/tasks/{o['task']}/", Role.ANNOTATOR),
    Endpoint("patch", lambda o: f"/api/tasks/{o['task']}/", Role.MANAGER, {"meta": {"a": 1}}),
    Endpoint("delete", lambda o: f"/api/tasks/{o['task']}/", Role.MANAGER),
    Endpoint("get", lambda o: f"/api/projects/{o['project']}/tasks/", Role.ANNOTATOR),
    Endpoint("delete", lambda o: f"/api/projects/{o['project']}/tasks/", Role.MANAGER),
    Endpoint(
        "post",
        lambda o: f"/api/dm/actions?id=delete_tasks&project={o['project']}",
        Role.MANAGER,
        lambda o: {"selectedItems": {"all": False, "included": [o["task"]]}},
    ),
    Endpoint("get", lambda o: f"/api/dm/actions?project={o['project']}", Role.MANAGER),
    Endpoint(
        "post",
        lambda o: f"/api/dm/actions?id=delete_tasks_predictions&project={o['project']}",
        Role.MANAGER,
        lambda o: {"selectedItems": {"all": False, "included": [o["task"]]}},
    ),
    Endpoint("get", lambda o: f"/api/tasks/{o['task']}/annotations/", Role.ANNOTATOR),
    Endpoint(
        "post",
        lambda o: f"/api/tasks/{o['task']}/annotations/",
        Role.ANNOTATOR,
        {"result": choice("Positive")},
    ),
    Endpoint(
        "post",
        lambda o: "/api/annotations/bulk/",
        Role.ANNOTATOR,
        lambda o: {"tasks": [o["task"]], "result": choice("Negative")},
    ),
    # Someone else's annotation: annotators cannot even see it; reviewers read it.
    Endpoint(
        "get",
        lambda o: f"/api/annotations/{o['annotation']}/",
        Role.REVIEWER,
        hidden_from=(Role.ANNOTATOR,),
    ),
    Endpoint(
        "patch",
        lambda o: f"/api/annotations/{o['annotation']}/",
        Role.MANAGER,
        {"ground_truth": True},
        hidden_from=(Role.ANNOTATOR,),
    ),
    Endpoint(
        "delete",
        lambda o: f"/api/annotations/{o['annotation']}/",
        Role.MANAGER,
        hidden_from=(Role.ANNOTATOR,),
    ),
    Endpoint(
        "post",
        lambda o: "/api/annotations/bulk-delete",
        Role.MANAGER,
        lambda o: {"ids": [o["annotation"]]},
        hidden_from=(Role.ANNOTATOR,),
    ),
    Endpoint("get", lambda o: f"/api/predictions/?task={o['task']}", Role.ANNOTATOR, listing=True),
    # No filter: every prediction the caller may see (the whole organization, for managers).
    Endpoint("get", lambda o: "/api/predictions/", Role.ANNOTATOR, listing=True),
    Endpoint(
        "post",
        lambda o: "/api/predictions/",
        Role.MANAGER,
        lambda o: {"task": o["task"], "result": choice("Neutral")},
    ),
    Endpoint("get", lambda o: f"/api/predictions/{o['prediction']}/", Role.ANNOTATOR),
    Endpoint(
        "patch", lambda o: f"/api/predictions/{o['prediction']}/", Role.MANAGER, {"score": 0.1}
    ),
    Endpoint("delete", lambda o: f"/api/predictions/{o['prediction']}/", Role.MANAGER),
    Endpoint(
        "post",
        lambda o: f"/api/projects/{o['project']}/import/predictions",
        Role.MANAGER,
        lambda o: [{"task": o["task"], "result": choice("Negative")}],
    ),
    Endpoint("get", lambda o: f"/api/projects/{o['project']}/next", Role.ANNOTATOR),
    # Drafts: everyone on the project keeps their own; a draft of a change to an annotation
    # (the admin's) needs to see it (reviewers) to list, and to change it (managers) to make.
    # One draft's own endpoints (theirs only) are in tests/tasks/test_drafts.py.
    Endpoint("get", lambda o: f"/api/tasks/{o['task']}/drafts", Role.ANNOTATOR),
    Endpoint("post", lambda o: f"/api/tasks/{o['task']}/drafts", Role.ANNOTATOR, {"result": []}),
    Endpoint(
        "get",
        lambda o: f"/api/tasks/{o['task']}/annotations/{o['annotation']}/drafts",
        Role.REVIEWER,
        hidden_from=(Role.ANNOTATOR,),
    ),
    Endpoint(
        "post",
        lambda o: f"/api/tasks/{o['task']}/annotations/{o['annotation']}/drafts",
        Role.MANAGER,
        {"result": []},
        hidden_from=(Role.ANNOTATOR,),
    ),
    Endpoint("get", lambda o: f"/api/projects/{o['project']}/annotators/", Role.REVIEWER),
    # Saved views: anyone on the project reads them and saves their own; someone else's
    # (the admin's here) only a manager changes.
    Endpoint(
        "get", lambda o: f"/api/dm/views/?project={o['project']}", Role.ANNOTATOR, listing=True
    ),
    Endpoint(
        "post",
        lambda o: "/api/dm/views/",
        Role.ANNOTATOR,
        lambda o: {"project": o["project"], "data": {"title": "Mine"}},
    ),
    Endpoint("get", lambda o: f"/api/dm/views/{o['view']}/", Role.ANNOTATOR),
    Endpoint("get", lambda o: f"/api/tasks/?view={o['view']}", Role.ANNOTATOR),
    Endpoint("patch", lambda o: f"/api/dm/views/{o['view']}/", Role.MANAGER, {"data": {}}),
    Endpoint("delete", lambda o: f"/api/dm/views/{o['view']}/", Role.MANAGER),
    Endpoint(
        "post",
        lambda o: "/api/dm/views/order/",
        Role.MANAGER,
        lambda o: {"project": o["project"], "ids": [o["view"]]},
    ),
    Endpoint("delete", lambda o: f"/api/dm/views/reset/?project={o['project']}", Role.MANAGER),
]


def _objects(world: World, project: Project) -> Ids:
    made = tasks.create_tasks(
        project,
        [
            tasks.NewTask(data={"text": "t"}, predictions=[{"result": choice("Positive")}]),
            tasks.NewTask(data={"text": "still to label"}),
        ],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    task = project_task = made.task_ids[0]
    annotation = tasks.create_annotation(
        Task.objects.get(pk=task),
        {"result": choice("Positive")},
        actor=world.admin.user,
        completed_by=world.admin.user,
        origin=TEST_ORIGIN,
    )
    prediction = Prediction.objects.get(task_id=project_task)
    view = saved_views.create_view(
        project, {"title": "Admin's"}, actor=world.admin.user, origin=TEST_ORIGIN
    )
    return {
        "view": view.pk,
        "project": project.pk,
        "task": task,
        "annotation": annotation.pk,
        "prediction": prediction.pk,
        "member": world.member.user.pk,  # an annotator on the project
    }


def _call(client: Any, endpoint: Endpoint, ids: Ids) -> Any:
    body = endpoint.body(ids) if callable(endpoint.body) else endpoint.body
    method = getattr(client, endpoint.method)
    path = endpoint.path(ids)
    return method(path) if body is None else method(path, body, format="json")


def _content(response: Any) -> bytes:
    """The body, whether streamed (the predictions list) or not."""
    return b"".join(response.streaming_content) if response.streaming else bytes(response.content)


ZERO: Ids = dict.fromkeys(("project", "task", "annotation", "prediction", "member", "view"), 0)


def _name(endpoint: Endpoint) -> str:
    return f"{endpoint.method}-{endpoint.path(ZERO)}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_name)
@pytest.mark.parametrize("role", RANKS, ids=lambda r: r.value)
def test_role_gate(world: World, project: Project, endpoint: Endpoint, role: Role) -> None:
    ids = _objects(world, project)
    user = make_user(f"{role.value}-caller@a.example", org=world.org, role=role)
    projects.add_members(project, [user], actor=world.admin.user, origin=TEST_ORIGIN)
    response = _call(as_actor(user).client, endpoint, ids)
    if RANKS.index(role) >= RANKS.index(endpoint.minimum):
        assert response.status_code < 400, (response.status_code, response.content)
    else:
        denied = 404 if role in endpoint.hidden_from else 403
        assert response.status_code == denied, (response.status_code, response.content)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_name)
def test_outsider_and_anonymous(
    world: World, project: Project, endpoint: Endpoint, anon: Any
) -> None:
    ids = _objects(world, project)
    outsider = _call(world.outsider.client, endpoint, ids)
    if endpoint.listing:
        assert outsider.status_code < 400
        content = _content(outsider)
        assert b"a.example" not in content and b'"text"' not in content
    else:
        assert outsider.status_code == 404, (outsider.status_code, outsider.content)
    assert _call(anon, endpoint, ids).status_code == 401


def test_non_member_annotator_sees_nothing(world: World, project: Project) -> None:
    ids = _objects(world, project)
    stranger = as_actor(make_user("stranger@a.example", org=world.org, role=Role.ANNOTATOR))
    for path in (
        f"/api/projects/{ids['project']}/",
        f"/api/tasks/{ids['task']}/",
        f"/api/predictions/{ids['prediction']}/",
        f"/api/projects/{ids['project']}/next",
    ):
        assert stranger.client.get(path).status_code == 404, path
    for listing in ("/api/predictions/", f"/api/predictions/?task={ids['task']}"):
        response = stranger.client.get(listing)
        assert response.status_code == 200 and _content(response) == b"[]", listing
    refused = stranger.client.post(
        "/api/annotations/bulk-delete", {"ids": [ids["annotation"]]}, format="json"
    )
    assert refused.status_code == 404
    assert Annotation.objects.filter(pk=ids["annotation"]).exists()


def test_annotators_bulk_delete_only_their_own(world: World, project: Project, anon: Any) -> None:
    ids = _objects(world, project)
    task = Task.objects.select_related("project").get(pk=ids["task"])
    own = tasks.create_annotation(
        task,
        {"result": choice("Negative")},
        actor=world.member.user,
        completed_by=world.member.user,
        origin=TEST_ORIGIN,
    ).pk
    client, path = world.member.client, "/api/annotations/bulk-delete"
    for wanted in ([ids["annotation"]], [own, ids["annotation"]]):
        refused = client.post(path, {"ids": wanted, "project": project.pk}, format="json")
        assert refused.status_code == 404, wanted  # someone else's: not even visible
    assert anon.post(path, {"ids": [own]}, format="json").status_code == 401
    assert world.outsider.client.post(path, {"ids": [own]}, format="json").status_code == 404
    assert Annotation.objects.filter(pk__in=[own, ids["annotation"]]).count() == 2  # all or none
    deleted = client.post(path, {"ids": [own], "project": project.pk}, format="json")
    assert deleted.status_code == 200 and deleted.json() == {"deleted_count": 1}
    assert not Annotation.objects.filter(pk=own).exists()


def test_removing_members_needs_a_manager(world: World, project: Project) -> None:
    ids = _objects(world, project)
    path = f"/api/projects/{ids['project']}/members"
    annotator = world.member.client
    assert (
        annotator.delete(path, {"users": [world.member.user.pk]}, format="json").status_code == 403
    )
    assert annotator.delete(f"{path}?user={world.admin.user.pk}").status_code == 403
    outsider = world.outsider.client.delete(path, {"users": [world.member.user.pk]}, format="json")
    assert outsider.status_code == 404
    assert ProjectMember.objects.filter(project=project, user=world.member.user).exists()
    assert world.admin.client.delete(f"{path}?user={world.member.user.pk}").status_code == 204
    assert not ProjectMember.objects.filter(project=project, user=world.member.user).exists()

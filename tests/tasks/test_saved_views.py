"""Saved Data Manager views (`api/dm/views/…`) and the task list read through one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labelkeep.audit.models import AuditEvent
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import saved_views
from labelkeep.tasks.models import SavedView, Task
from tests.conftest import TEST_ORIGIN, World
from tests.tasks.conftest import CONFIG

TEXT_IS = "filter:tasks:data.text"


def _filters(*items: dict[str, Any], conjunction: str = "and") -> dict[str, Any]:
    return {"conjunction": conjunction, "items": list(items)}


def _text_contains(value: str) -> dict[str, Any]:
    return {"filter": TEXT_IS, "operator": "contains", "type": "String", "value": value}


def _save(world: World, project: Project, data: Any, actor: str = "admin") -> Any:
    client = getattr(world, actor).client
    return client.post("/api/dm/views/", {"project": project.pk, "data": data}, format="json")


def every_view(client: Any) -> list[dict[str, Any]]:
    """`api/dm/views/` without a project: every view the caller sees, streamed."""
    response = client.get("/api/dm/views/")
    assert response.status_code == 200
    listed: list[dict[str, Any]] = json.loads(b"".join(response.streaming_content))
    return listed


def _ids(body: dict[str, Any]) -> list[int]:
    return [task["id"] for task in body["tasks"]]


@pytest.fixture
def odd_view(world: World, project: Project, task_ids: list[int]) -> dict[str, Any]:
    """A view of the tasks whose text contains 1 or 3, newest first."""
    data = {
        "title": "Odd ones",
        "filters": _filters(_text_contains("1"), _text_contains("3"), conjunction="or"),
        "ordering": ["-tasks:id"],
        "hiddenColumns": {"explore": ["tasks:inner_id"]},
    }
    saved = _save(world, project, data)
    assert saved.status_code == 201, saved.content
    body: dict[str, Any] = saved.json()
    return body


def test_a_saved_view_keeps_what_was_sent(
    world: World, project: Project, odd_view: dict[str, Any]
) -> None:
    assert odd_view["project"] == project.pk
    assert odd_view["user"] == world.admin.user.pk
    assert odd_view["order"] == 0
    assert odd_view["data"]["title"] == "Odd ones"
    assert odd_view["data"]["hiddenColumns"] == {"explore": ["tasks:inner_id"]}
    assert odd_view["ordering"] == ["-tasks:id"]
    got = world.member.client.get(f"/api/dm/views/{odd_view['id']}/")
    assert got.status_code == 200
    assert got.json()["data"] == odd_view["data"]
    listed = world.member.client.get(f"/api/dm/views/?project={project.pk}")
    assert [v["id"] for v in listed.json()] == [odd_view["id"]]
    assert AuditEvent.objects.filter(action="view.create", details__view=odd_view["id"]).exists()


def test_the_task_list_applies_a_views_filters_and_ordering(
    world: World, project: Project, task_ids: list[int], odd_view: dict[str, Any]
) -> None:
    # "review 1" and "review 3", newest first, with or without the project named.
    for url in (
        f"/api/tasks/?view={odd_view['id']}",
        f"/api/tasks/?project={project.pk}&view={odd_view['id']}",
        f"/api/projects/{project.pk}/tasks/?view={odd_view['id']}",
    ):
        page = world.member.client.get(url)
        assert page.status_code == 200, page.content
        assert _ids(page.json()) == [task_ids[3], task_ids[1]], url
        assert page.json()["total"] == 2


def test_a_views_selection_narrows_the_list(
    world: World, project: Project, task_ids: list[int]
) -> None:
    saved = _save(world, project, {"selectedItems": {"all": True, "excluded": task_ids[:3]}})
    page = world.admin.client.get(f"/api/tasks/?view={saved.json()['id']}")
    assert _ids(page.json()) == task_ids[3:]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        ({"filters": _filters({"filter": "filter:tasks:updated_by__password"})}, "data"),
        ({"ordering": ["tasks:updated_by__email"]}, "relation"),
        ({"ordering": ["tasks:data.a", "tasks:id"]}, "one field"),
        ({"selectedItems": {"all": "yes"}}, "selectedItems"),
        ({"title": 5}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "nul \x00"}, "NUL"),
        ({"columnsWidth": {"a": "x" * 70_000}}, "KB"),
    ],
)
def test_a_view_the_task_list_would_refuse_is_not_saved(
    world: World, project: Project, data: Any, message: str
) -> None:
    refused = _save(world, project, data)
    assert refused.status_code == 400, refused.content
    assert message in str(refused.json()["validation_errors"])
    assert not SavedView.objects.exists()


def test_changing_a_view_checks_it_again(
    world: World, project: Project, odd_view: dict[str, Any]
) -> None:
    url = f"/api/dm/views/{odd_view['id']}/"
    bad = {"data": {"ordering": ["tasks:project__title"]}}
    assert world.admin.client.patch(url, bad, format="json").status_code == 400
    assert SavedView.objects.get().data == odd_view["data"]
    moved = world.admin.client.patch(url, {"project": project.pk + 1000}, format="json")
    assert moved.status_code == 400
    changed = world.admin.client.patch(url, {"data": {"title": "Renamed"}}, format="json")
    assert changed.status_code == 200
    assert changed.json()["data"] == {"title": "Renamed"}


def test_only_the_author_or_a_manager_changes_a_view(
    world: World, project: Project, odd_view: dict[str, Any]
) -> None:
    url = f"/api/dm/views/{odd_view['id']}/"
    member = world.member.client
    assert member.patch(url, {"data": {}}, format="json").status_code == 403
    assert member.delete(url).status_code == 403
    assert member.delete(f"/api/dm/views/reset/?project={project.pk}").status_code == 403
    order = {"project": project.pk, "ids": [odd_view["id"]]}
    assert member.post("/api/dm/views/order/", order, format="json").status_code == 403
    # The member's own view is theirs to change.
    own = _save(world, project, {"title": "Mine"}, actor="member")
    assert own.status_code == 201
    own_url = f"/api/dm/views/{own.json()['id']}/"
    assert (
        member.patch(own_url, {"data": {"title": "Still mine"}}, format="json").status_code == 200
    )
    assert member.delete(own_url).status_code == 204
    assert world.admin.client.delete(url).status_code == 204
    assert not SavedView.objects.exists()


def test_another_organizations_views_are_not_found(
    world: World, project: Project, task_ids: list[int], odd_view: dict[str, Any]
) -> None:
    outsider = world.outsider.client
    url = f"/api/dm/views/{odd_view['id']}/"
    assert outsider.get(url).status_code == 404
    assert outsider.patch(url, {"data": {}}, format="json").status_code == 404
    assert outsider.delete(url).status_code == 404
    assert outsider.get(f"/api/tasks/?view={odd_view['id']}").status_code == 404
    assert every_view(outsider) == []
    assert outsider.delete(f"/api/dm/views/reset/?project={project.pk}").status_code == 404
    saving = outsider.post("/api/dm/views/", {"project": project.pk, "data": {}}, format="json")
    assert saving.status_code == 404
    assert SavedView.objects.count() == 1


def test_a_project_the_member_is_not_on_hides_its_views(
    world: World, project: Project, odd_view: dict[str, Any]
) -> None:
    projects.remove_member(project, world.member.user, actor=world.admin.user, origin=TEST_ORIGIN)
    assert world.member.client.get(f"/api/dm/views/{odd_view['id']}/").status_code == 404
    assert every_view(world.member.client) == []


def test_a_view_of_another_project_is_refused(
    world: World, project: Project, task_ids: list[int], odd_view: dict[str, Any]
) -> None:
    other = projects.create_project(
        world.org,
        {"title": "Other", "label_config": CONFIG},
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    listed = world.admin.client.get(f"/api/tasks/?project={other.pk}&view={odd_view['id']}")
    assert listed.status_code == 400
    assert "another project" in str(listed.json())
    action = world.admin.client.post(
        f"/api/dm/actions?id=delete_tasks&project={other.pk}&view={odd_view['id']}",
        {"selectedItems": {"all": True}},
        format="json",
    )
    assert action.status_code == 400
    assert Task.objects.filter(project=project).count() == len(task_ids)


def test_view_and_query_together_are_refused(
    world: World, project: Project, odd_view: dict[str, Any]
) -> None:
    listed = world.admin.client.get(f"/api/tasks/?view={odd_view['id']}&query=%7B%7D")
    assert listed.status_code == 400
    assert "not both" in str(listed.json())
    for raw in ("abc", "0", "-1", "9" * 30):
        assert world.admin.client.get(f"/api/tasks/?view={raw}").status_code == 400


def test_a_delete_action_through_a_view_deletes_only_its_tasks(
    world: World, project: Project, task_ids: list[int], odd_view: dict[str, Any]
) -> None:
    deleted = world.admin.client.post(
        f"/api/dm/actions?id=delete_tasks&project={project.pk}&view={odd_view['id']}",
        {"selectedItems": {"all": True, "excluded": [task_ids[3]]}},
        format="json",
    )
    assert deleted.status_code == 200, deleted.content
    assert deleted.json()["processed_items"] == 1
    left = set(Task.objects.filter(project=project).values_list("id", flat=True))
    assert left == set(task_ids) - {task_ids[1]}
    both = world.admin.client.post(
        f"/api/dm/actions?id=delete_tasks&project={project.pk}&view={odd_view['id']}",
        {"selectedItems": {"all": True}, "filters": _filters(_text_contains("0"))},
        format="json",
    )
    assert both.status_code == 400
    assert Task.objects.filter(project=project).count() == len(left)


def test_a_view_is_read_for_the_person_using_it(
    world: World, project: Project, task_ids: list[int]
) -> None:
    """An annotator may filter by their own annotations only, in a view as in a query."""
    others = {
        "filter": "filter:tasks:annotators",
        "operator": "contains",
        "type": "List",
        "value": [world.admin.user.pk],
    }
    saved = _save(world, project, {"filters": _filters(others)})
    assert saved.status_code == 201
    assert world.admin.client.get(f"/api/tasks/?view={saved.json()['id']}").status_code == 200
    refused = world.member.client.get(f"/api/tasks/?view={saved.json()['id']}")
    assert refused.status_code == 400
    assert "view" in refused.json()["validation_errors"]
    # Nor may the annotator save such a view: it is checked as they would use it.
    theirs = _save(world, project, {"filters": _filters(others)}, actor="member")
    assert theirs.status_code == 400
    assert "own id" in str(theirs.json()["validation_errors"]["data"])
    own = {**others, "value": [world.member.user.pk]}
    assert _save(world, project, {"filters": _filters(own)}, actor="member").status_code == 201


def test_views_go_with_their_project(
    world: World, project: Project, odd_view: dict[str, Any]
) -> None:
    assert world.admin.client.delete(f"/api/projects/{project.pk}/").status_code == 204
    assert not SavedView.objects.exists()


def test_a_project_keeps_a_bounded_number_of_views(
    world: World, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(saved_views, "MAX_VIEWS", 2)
    assert _save(world, project, {}).status_code == 201
    assert _save(world, project, {}).status_code == 201
    third = _save(world, project, {})
    assert third.status_code == 400
    assert "at most 2 views" in str(third.json())
    assert [v.order for v in SavedView.objects.order_by("id")] == [0, 1]


def test_reordering_refuses_views_of_other_projects(
    world: World, project: Project, odd_view: dict[str, Any]
) -> None:
    order = {"project": project.pk, "ids": [odd_view["id"] + 1]}
    refused = world.admin.client.post("/api/dm/views/order/", order, format="json")
    assert refused.status_code == 400
    for body in ([1], {"project": "x", "ids": [1]}, {"project": project.pk, "ids": "1"}):
        assert (
            world.admin.client.post("/api/dm/views/order/", body, format="json").status_code == 400
        )


def test_every_view_is_streamed_by_id_and_one_projects_by_tab_order(
    world: World, project: Project
) -> None:
    first = _save(world, project, {"title": "A", "ordering": "-tasks:id"}).json()
    second = _save(world, project, {"title": "B"}).json()
    order = {"project": project.pk, "ids": [second["id"], first["id"]]}
    assert world.admin.client.post("/api/dm/views/order/", order, format="json").status_code == 204
    assert [v["id"] for v in every_view(world.member.client)] == [first["id"], second["id"]]
    tabs = world.member.client.get(f"/api/dm/views/?project={project.pk}").json()
    assert [v["id"] for v in tabs] == [second["id"], first["id"]]
    # An ordering sent as one string is answered as Label Studio's list.
    assert tabs[1]["ordering"] == ["-tasks:id"]
    assert every_view(world.member.client)[0] == tabs[1]

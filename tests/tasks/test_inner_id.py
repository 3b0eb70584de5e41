"""`inner_id`: a task's number within its project (1, 2, …), handed out in creation order,
never reused, shown by the task API and the JSON export, filterable, and given to tasks
that existed before the column did (labelkeep/tasks/migrations/0006_task_inner_id.py)."""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor

from labelkeep.accounts.roles import Role
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import services
from labelkeep.tasks.models import Task
from tests.conftest import TEST_ORIGIN, World, make_user
from tests.dataio.test_export_support import body
from tests.tasks.conftest import CONFIG


def _numbers(project: Project) -> list[tuple[int, int]]:
    return list(Task.objects.filter(project=project).order_by("id").values_list("id", "inner_id"))


def _import(world: World, project: Project, count: int, start: int = 0) -> None:
    body = [{"text": f"t{n}"} for n in range(start, start + count)]
    response = world.admin.client.post(f"/api/projects/{project.pk}/import", body, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_numbers_follow_creation_within_each_project_and_are_never_reused(
    world: World, project: Project
) -> None:
    other = projects.create_project(
        world.org,
        {"title": "Other", "label_config": CONFIG},
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    _import(world, project, 3)
    _import(world, other, 2)
    made = world.admin.client.post(
        "/api/tasks/", {"project": project.pk, "data": {"text": "one more"}}, format="json"
    )
    assert made.status_code == 201, made.content
    assert made.json()["inner_id"] == 4
    assert [n for _, n in _numbers(project)] == [1, 2, 3, 4]
    assert [n for _, n in _numbers(other)] == [1, 2]

    # Deleting the newest tasks does not free their numbers.
    newest = [pk for pk, _ in _numbers(project)[-2:]]
    for pk in newest:
        assert world.admin.client.delete(f"/api/tasks/{pk}/").status_code == 204
    _import(world, project, 2, start=10)
    assert [n for _, n in _numbers(project)] == [1, 2, 5, 6]
    project.refresh_from_db()
    assert project.last_inner_id == 6


@pytest.mark.django_db
def test_a_failed_import_hands_out_no_numbers(world: World, project: Project) -> None:
    _import(world, project, 2)
    refused = world.admin.client.post(
        f"/api/projects/{project.pk}/import", [{"text": "ok"}, {"other": "x"}], format="json"
    )
    assert refused.status_code == 400, refused.content
    project.refresh_from_db()
    assert project.last_inner_id == 2
    _import(world, project, 1, start=5)
    assert [n for _, n in _numbers(project)] == [1, 2, 3]


def _listing(world: World, project: Project, **params: Any) -> dict[str, Any]:
    query = urlencode({"project": project.pk, **params})
    response = world.admin.client.get(f"/api/tasks/?{query}")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def _item(operator: str, value: Any) -> str:
    filters = {
        "conjunction": "and",
        "items": [
            {
                "filter": "filter:tasks:inner_id",
                "operator": operator,
                "type": "Number",
                "value": value,
            }
        ],
    }
    return json.dumps({"filters": filters})


@pytest.mark.django_db
def test_task_api_shows_filters_and_orders_by_inner_id(world: World, project: Project) -> None:
    _import(world, project, 5)
    numbered = dict((n, pk) for pk, n in _numbers(project))
    one = world.admin.client.get(f"/api/tasks/{numbered[3]}/")
    assert one.status_code == 200 and one.json()["inner_id"] == 3

    listed = _listing(world, project)
    assert [t["inner_id"] for t in listed["tasks"]] == [1, 2, 3, 4, 5]
    found = _listing(world, project, query=_item("greater_or_equal", 4))
    assert [t["id"] for t in found["tasks"]] == [numbered[4], numbered[5]]
    assert found["total"] == 2
    chosen = _listing(world, project, query=_item("in_list", [2, 5]))
    assert [t["inner_id"] for t in chosen["tasks"]] == [2, 5]
    backwards = _listing(world, project, ordering="-tasks:inner_id")
    assert [t["inner_id"] for t in backwards["tasks"]] == [5, 4, 3, 2, 1]
    wrong = world.admin.client.get(
        f"/api/tasks/?{urlencode({'project': project.pk, 'query': _item('equal', 'x')})}"
    )
    assert wrong.status_code == 400
    assert "inner_id" in wrong.content.decode()


@pytest.mark.django_db
def test_json_export_carries_inner_id(world: World, project: Project) -> None:
    _import(world, project, 3)
    response = world.admin.client.get(
        f"/api/projects/{project.pk}/export?exportType=JSON&download_all_tasks=true"
    )
    assert response.status_code == 200
    exported = json.loads(body(response))
    assert [(t["id"], t["inner_id"]) for t in exported] == _numbers(project)


@pytest.mark.django_db(transaction=True)
def test_migration_numbers_existing_tasks_per_project_in_id_order() -> None:
    before = [("projects", "0001_initial"), ("tasks", "0005_task_annotated_id_index")]
    after = [("projects", "0002_project_last_inner_id"), ("tasks", "0006_task_inner_id")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        organization = old.get_model("accounts", "Organization").objects.create(title="Old")
        project_model = old.get_model("projects", "Project")
        first, second, empty = (
            project_model.objects.create(organization_id=organization.pk, title=title)
            for title in ("first", "second", "empty")
        )
        task_model = old.get_model("tasks", "Task")
        # Interleaved: each project's numbers follow its own tasks' ids.
        for owner in (first, second, first, first, second):
            task_model.objects.create(project_id=owner.pk, data={"text": "x"})

        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps
        tasks = new.get_model("tasks", "Task").objects.order_by("id")
        numbered = [(t.project_id, t.inner_id) for t in tasks]
        assert numbered == [
            (first.pk, 1),
            (second.pk, 1),
            (first.pk, 2),
            (first.pk, 3),
            (second.pk, 2),
        ]
        last = dict(new.get_model("projects", "Project").objects.values_list("id", "last_inner_id"))
        assert last == {first.pk: 3, second.pk: 2, empty.pk: 0}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


WRITERS = 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_take_numbers_in_turn() -> None:
    owner = make_user("owner@n.example", role=Role.OWNER, title="Numbers")
    org = owner.active_organization
    assert org is not None
    project = projects.create_project(
        org, {"title": "N", "label_config": CONFIG}, actor=owner, origin=TEST_ORIGIN
    )
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def work(writer: int) -> None:
        try:
            start.wait()
            for batch in range(3):
                services.create_tasks(
                    project,
                    [services.NewTask(data={"text": f"{writer}/{batch}/{n}"}) for n in range(50)],
                    actor=owner,
                    origin=TEST_ORIGIN,
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    # Every number once, and in id order: the listing may order by either.
    assert [n for _, n in _numbers(project)] == list(range(1, WRITERS * 3 * 50 + 1))

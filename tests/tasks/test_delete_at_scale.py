"""Deleting tens of thousands of tasks, by every path that deletes many: more tasks than
SQLite binds parameters in one statement, with annotations, predictions and locks; and
more task ids than PostgreSQL binds, in deletes with filters and in prediction imports."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from labelkeep.audit.models import AuditEvent
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import counters, deletion, services
from labelkeep.tasks.bulk import TaskRows
from labelkeep.tasks.models import Annotation, Draft, Prediction, Task, TaskLock
from tests.conftest import TEST_ORIGIN, World
from tests.tasks.conftest import CONFIG

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stock_sqlite_limit")]

MANY = 40_000
SQLITE_DEFAULT_VARIABLES = 32_766  # SQLITE_MAX_VARIABLE_NUMBER of stock SQLite builds
COUNTERS = (
    "task_number",
    "num_tasks_with_annotations",
    "total_annotations_number",
    "total_predictions_number",
)


@pytest.fixture
def stock_sqlite_limit(db: Any) -> Iterator[None]:
    """Some distributions build SQLite with a higher limit; test against the stock one."""
    connection.ensure_connection()
    raw = connection.connection
    if not isinstance(raw, sqlite3.Connection):
        yield
        return
    was = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, SQLITE_DEFAULT_VARIABLES)
    yield
    raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, was)


def fill(project: Project, world: World, count: int = MANY) -> list[int]:
    """`count` tasks: every 4th with a finished annotation, every 8th also with a skip,
    every 2nd with a prediction; and a lock on the first."""
    rows = TaskRows()
    author = world.admin.user.pk
    result = json.dumps([])
    for n in range(count):
        done, skipped, predicted = int(n % 4 == 0), int(n % 8 == 0), int(n % 2 == 0)
        rows.tasks.append(
            (json.dumps({"text": f"t{n}"}), "{}", bool(done), done, skipped, predicted, None)
        )
        if done:
            rows.annotations.append((n, result, author, False, False, None, 0, None))
        if skipped:
            rows.annotations.append((n, result, author, True, False, None, 0, None))
        if predicted:
            rows.predictions.append((n, result, 0.5, "v1"))
    ids = services.write_task_rows(
        project, rows, actor=world.admin.user, origin=TEST_ORIGIN
    ).task_ids
    TaskLock.objects.create(
        task_id=ids[0],
        project=project,
        user=world.member.user,
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    return ids


def counters_of(project: Project) -> tuple[int, ...]:
    project.refresh_from_db()
    return tuple(getattr(project, name) for name in COUNTERS)


def recounted(project: Project) -> tuple[int, ...]:
    kept = counters_of(project)
    counters.recount_project(project.pk)
    assert counters_of(project) == kept, "the counters drifted from a recount"
    return kept


def timed(label: str, call: Any) -> Any:
    started = time.perf_counter()
    answer = call()
    print(f"{label}: {time.perf_counter() - started:.2f} s")  # shown with -s
    return answer


def nothing_left(project: Project) -> bool:
    return not (
        Task.objects.filter(project=project).exists()
        or Annotation.objects.filter(project=project).exists()
        or Prediction.objects.filter(project=project).exists()
        or TaskLock.objects.filter(project=project).exists()
    )


def project_of(world: World) -> Project:
    return projects.create_project(
        world.org,
        {"title": "Other", "label_config": CONFIG},
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )


def test_delete_all_tasks_of_a_project(world: World, project: Project) -> None:
    fill(project, world)
    other = fill(project_of(world), world, 10)  # another project's tasks stay

    response = timed(
        f"delete all {MANY} tasks",
        lambda: world.admin.client.delete(f"/api/projects/{project.pk}/tasks/"),
    )

    assert response.status_code == 204
    assert nothing_left(project)
    assert recounted(project) == (0, 0, 0, 0)
    assert Task.objects.filter(pk__in=other).count() == 10
    event = AuditEvent.objects.filter(action="tasks.delete").get()
    assert (event.details["count"], event.details["all"]) == (MANY, True)


def test_data_manager_deletes_all_but_the_excluded(world: World, project: Project) -> None:
    ids = fill(project, world)
    excluded = ids[:3] + ids[20_000:20_002] + ids[-1:]  # with annotations and a prediction
    url = f"/api/dm/actions?id=delete_tasks&project={project.pk}"

    response = timed(
        f"delete {MANY - len(excluded)} of {MANY} tasks",
        lambda: world.admin.client.post(
            url, {"selectedItems": {"all": True, "excluded": excluded}}, format="json"
        ),
    )

    assert response.status_code == 200, response.content
    assert response.json()["processed_items"] == MANY - len(excluded)
    left = sorted(Task.objects.filter(project=project).values_list("pk", flat=True))
    assert left == sorted(excluded)
    assert Annotation.objects.filter(project=project).count() == 4  # ids[0] and ids[20_000]: 2 each
    assert recounted(project) == (6, 2, 2, 3)
    event = AuditEvent.objects.filter(action="tasks.delete").get()
    assert (event.details["count"], event.details["all"]) == (MANY - len(excluded), False)


def test_data_manager_deletes_many_included(world: World, project: Project) -> None:
    ids = fill(project, world)
    chosen = ids[1 : MANY - 1]  # all but the first and the last
    url = f"/api/dm/actions?id=delete_tasks&project={project.pk}"

    response = world.admin.client.post(
        url, {"selectedItems": {"all": False, "included": chosen}}, format="json"
    )

    assert response.status_code == 200, response.content
    assert sorted(Task.objects.filter(project=project).values_list("pk", flat=True)) == [
        ids[0],
        ids[-1],
    ]
    assert recounted(project) == (2, 1, 1, 1)


# More ids than PostgreSQL binds in one statement (65,535), let alone stock SQLite.
BEYOND_ONE_STATEMENT = 70_000


def _filter(name: str, operator: str, value: Any) -> dict[str, Any]:
    return {
        "filter": f"filter:tasks:{name}",
        "operator": operator,
        "type": "Number",
        "value": value,
    }


def test_data_manager_deletes_more_included_than_a_statement_binds_with_filters(
    world: World, project: Project
) -> None:
    """70,000 chosen ids (40,000 tasks and 30,000 ids naming nothing) with filters that
    list 10,000 ids themselves: the chosen ids are matched a slice at a time."""
    ids = fill(project, world)
    nothing = range(ids[-1] + 1, ids[-1] + 1 + BEYOND_ONE_STATEMENT - MANY)
    url = f"/api/dm/actions?id=delete_tasks&project={project.pk}"
    filters = {
        "conjunction": "and",
        "items": [
            _filter("total_annotations", "equal", 0),  # not every 4th task (annotated)
            _filter("id", "not_in_list", ids[:10_000]),  # the limit: 10,000 listed values
        ],
    }
    body = {"selectedItems": {"all": False, "included": [*ids, *nothing]}, "filters": filters}

    response = world.admin.client.post(url, body, format="json")

    assert response.status_code == 200, response.content[:300]
    doomed = [pk for n, pk in enumerate(ids) if n >= 10_000 and n % 4]
    assert response.json()["processed_items"] == len(doomed) == 22_500
    left = set(Task.objects.filter(project=project).values_list("pk", flat=True))
    assert left == set(ids) - set(doomed)
    assert recounted(project)[0] == MANY - len(doomed)
    event = AuditEvent.objects.filter(action="tasks.delete").get()
    assert event.details["ids"] == doomed[:1000]
    assert (event.details["count"], event.details["filtered"]) == (len(doomed), True)


def test_data_manager_deletes_all_but_more_excluded_than_a_statement_binds_with_filters(
    world: World, project: Project
) -> None:
    ids = fill(project, world)
    nothing = range(ids[-1] + 1, ids[-1] + 1 + BEYOND_ONE_STATEMENT)
    excluded = [*ids[:5], *nothing]  # two annotated tasks among the first five
    url = f"/api/dm/actions?id=delete_tasks&project={project.pk}"
    annotated = {"items": [_filter("total_annotations", "greater", 0)]}
    body = {"selectedItems": {"all": True, "excluded": excluded}, "filters": annotated}

    response = world.admin.client.post(url, body, format="json")

    assert response.status_code == 200, response.content[:300]
    doomed = {pk for n, pk in enumerate(ids) if n >= 5 and n % 4 == 0}
    assert response.json()["processed_items"] == len(doomed) == MANY // 4 - 2
    assert set(Task.objects.filter(project=project).values_list("pk", flat=True)) == (
        set(ids) - doomed
    )
    assert recounted(project) == (MANY - len(doomed), 2, 2, MANY // 2 - len(doomed))


@pytest.mark.parametrize("operator", ["in_list", "not_in_list", "data"])
def test_filters_listing_more_values_than_a_statement_binds_are_400(
    world: World, project: Project, operator: str
) -> None:
    """Seven items of 10,000 values each: each within the limit of one list, together
    beyond what one statement binds. A 400 naming the limit, and nothing deleted."""
    ids = fill(project, world, 10)
    values = list(range(1, 10_001))
    if operator == "data":
        items = [{**_filter("data.n", "not_in", values), "type": "Number"}] * 7
    else:
        items = [_filter("id", operator, values)] * 7
    url = f"/api/dm/actions?id=delete_tasks&project={project.pk}"
    for selected in ({"all": True, "excluded": []}, {"all": False, "included": ids}):
        body = {"selectedItems": selected, "filters": {"conjunction": "or", "items": items}}
        response = world.admin.client.post(url, body, format="json")
        assert response.status_code == 400, response.content[:300]
        assert "10000 listed values" in response.content.decode()
        assert Task.objects.filter(project=project).count() == 10


def test_import_predictions_for_more_tasks_than_a_statement_binds(
    world: World, project: Project
) -> None:
    """70,000 predictions, one for each of 70,000 tasks: the tasks are looked up and
    recounted a slice at a time. Naming tasks that are not there is a 400, all or none."""
    ids = fill(project, world, BEYOND_ONE_STATEMENT)
    before = counters_of(project)
    url = f"/api/projects/{project.pk}/import/predictions"
    missing = [{"task": pk, "result": []} for pk in [*ids[1:], ids[-1] + 1]]

    refused = world.admin.client.post(url, missing, format="json")

    assert refused.status_code == 400, refused.content[:300]
    assert counters_of(project) == before
    response = timed(
        f"import {BEYOND_ONE_STATEMENT} predictions",
        lambda: world.admin.client.post(
            url, [{"task": pk, "result": [], "score": 0.5} for pk in ids], format="json"
        ),
    )
    assert response.status_code == 201, response.content[:300]
    assert response.json() == {"created": BEYOND_ONE_STATEMENT}
    every = Task.objects.filter(project=project)
    assert every.filter(total_predictions=2).count() == BEYOND_ONE_STATEMENT // 2
    assert every.filter(total_predictions=1).count() == BEYOND_ONE_STATEMENT // 2
    assert recounted(project)[3] == BEYOND_ONE_STATEMENT * 3 // 2


def test_delete_a_big_project(world: World, project: Project) -> None:
    fill(project, world)

    response = timed(
        f"delete a project of {MANY} tasks",
        lambda: world.admin.client.delete(f"/api/projects/{project.pk}/"),
    )

    assert response.status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()
    assert nothing_left(project)
    assert AuditEvent.objects.filter(action="project.delete").count() == 1


def test_every_table_that_points_at_tasks_is_emptied_first() -> None:
    # A new one is found by deletion.dependents(); a protecting one is refused there.
    found = {r.related_model for r in deletion.dependents()}
    assert found == {Annotation, Prediction, TaskLock, Draft}


def test_bulk_delete_of_more_annotations_than_sqlite_binds(world: World, project: Project) -> None:
    """`api/annotations/bulk-delete` with 36,000 ids: set-based in slices, counters moved
    by what the tasks lost, one audit entry; the annotations not named stay."""
    rows = TaskRows()
    author = world.admin.user.pk
    for n in range(36_000):
        rows.tasks.append((json.dumps({"text": f"t{n}"}), "{}", True, 1, int(n % 3 == 0), 0, None))
        rows.annotations.append((n, "[]", author, False, False, None, 0, None))
        if n % 3 == 0:
            rows.annotations.append((n, "[]", author, True, False, None, 0, None))
    services.write_task_rows(project, rows, actor=world.admin.user, origin=TEST_ORIGIN)
    every = list(
        Annotation.objects.filter(project=project, was_cancelled=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    kept, gone = every[:5], every[5:]
    response = timed(
        "bulk-delete 35,995 annotations",
        lambda: world.admin.client.post(
            "/api/annotations/bulk-delete/", {"ids": gone}, content_type="application/json"
        ),
    )
    assert response.status_code == 200, response.content[:300]
    assert response.json() == {"deleted_count": len(gone)}
    assert (
        sorted(
            Annotation.objects.filter(project=project, was_cancelled=False).values_list(
                "pk", flat=True
            )
        )
        == kept
    )
    assert Annotation.objects.filter(project=project, was_cancelled=True).count() == 12_000
    task_number, with_annotations, finished, _ = recounted(project)
    assert (task_number, finished) == (36_000, 5)
    # Only tasks with a finished annotation left count as annotated (skips do not).
    assert with_annotations == Task.objects.filter(project=project, total_annotations__gt=0).count()
    (entry,) = AuditEvent.objects.filter(action="annotations.delete_bulk")
    assert entry.details["count"] == len(gone)

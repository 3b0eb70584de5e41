"""`is_labeled` conditions seek on the (project, is_labeled, id) index on both databases.

Django writes `is_labeled=False` as `NOT is_labeled`, which SQLite cannot seek on: it
walks the whole project instead, for the task list's `is_labeled` filters and their
counts, and for the label stream's candidates."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labelkeep.db import statistics
from labelkeep.tasks.models import Task
from tests.conftest import World
from tests.tasks.test_stream_rules import annotate, make_project

pytestmark = pytest.mark.django_db

_COLUMN = '"tasks_task"."is_labeled"'


def _task_reads(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured if _COLUMN in q["sql"]]


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql.replace("%", "%%"))
        return " ".join(str(row[-1]) for row in cursor.fetchall())


def _assert_seeks(reads: list[str]) -> None:
    assert reads
    for sql in reads:
        assert f"NOT {_COLUMN}" not in sql, sql
        if connection.vendor == "sqlite":
            assert "task_project_labeled (project_id=? AND is_labeled=?" in _plan(sql), sql


@pytest.mark.parametrize(
    "query",
    [
        "is_labeled=false",
        "is_labeled=true",
        "query="
        + json.dumps(
            {
                "filters": {
                    "conjunction": "and",
                    "items": [
                        {
                            "filter": "filter:tasks:is_labeled",
                            "operator": "not_equal",
                            "type": "Boolean",
                            "value": True,
                        }
                    ],
                }
            }
        ),
    ],
)
def test_task_list_filters_seek(world: World, query: str) -> None:
    project, _ = make_project(world, 30)
    with CaptureQueriesContext(connection) as captured:
        response = world.admin.client.get(f"/api/tasks/?project={project.pk}&page=2&{query}")
    assert response.status_code == 200, response.content
    _assert_seeks(_task_reads(captured))


def test_the_label_streams_candidates_seek(world: World) -> None:
    project, _ = make_project(world, 30)
    with CaptureQueriesContext(connection) as captured:
        response = world.admin.client.get(f"/api/projects/{project.pk}/next")
    assert response.status_code == 200, response.content
    _assert_seeks(_task_reads(captured))


def test_only_annotated_counts_from_the_counter_and_skips_on_its_own_index(
    world: World,
) -> None:
    project, ids = make_project(world, 30)
    for task in ids[:12]:
        annotate(world.admin, task)
    annotate(world.admin, ids[20], skip=True)  # a skip alone does not make it annotated
    # The statistics a bulk import leaves (labelkeep/db/statistics.py); without any,
    # SQLite guesses and sorts every annotated task instead.
    statistics.analyze_if_grown(Task._meta.db_table, 10**6)
    with CaptureQueriesContext(connection) as captured:
        response = world.admin.client.get(
            f"/api/tasks/?project={project.pk}&only_annotated=true&page=2&page_size=5"
        )
    body = response.json()
    assert [t["id"] for t in body["tasks"]] == ids[5:10]
    assert body["total"] == 12
    assert not any("COUNT(" in q["sql"] for q in captured)
    windows = [q["sql"] for q in captured if "OFFSET" in q["sql"]]
    assert windows
    for sql in windows:
        # A literal 0, which the databases match with the partial index's `> 0` (a bound
        # parameter they cannot, and then read every row to check it).
        assert '"total_annotations" > (0)' in sql, sql
    if connection.vendor == "sqlite":
        for sql in windows:
            assert "task_project_annotated_id" in _plan(sql), sql

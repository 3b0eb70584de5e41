"""Uncertainty sampling walks predictions in score order on an index, never sorting a
project's predictions per `next`: (project, model_version, score, task) when the project
names a model version, (project, score, task) when it does not (tasks/models.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from labelkeep.projects.models import Project, Sampling
from labelkeep.tasks import services as tasks
from labelkeep.tasks import stream
from labelkeep.tasks.models import Task
from tests.conftest import TEST_ORIGIN, Actor, World
from tests.tasks.test_stream_rules import annotate, annotator, make_project


def plan(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql.replace("%", "%%"))
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        cursor.execute("EXPLAIN " + sql.replace("%", "%%"))
        return "\n".join(row[0] for row in cursor.fetchall())


def predict(world: World, project: Project, scores: list[tuple[int, float]], version: str) -> None:
    rows = [(Task.objects.get(pk=pk), {"score": s, "model_version": version}) for pk, s in scores]
    tasks.create_predictions(project, rows, actor=world.admin.user, origin=TEST_ORIGIN)
    project.refresh_from_db()


@pytest.mark.parametrize("version", ["v1", ""])
def test_the_score_order_is_walked_on_the_index(world: World, version: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The tables are tiny: make the planner show the plan it has for big ones.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
    project, t = make_project(world, 60, sampling=Sampling.UNCERTAINTY.value, model_version=version)
    predict(world, project, [(pk, 0.5 + n / 200) for n, pk in enumerate(t[:50])], version)
    member = annotator(world, project, "u")
    # The person now has a place, with entries behind it.
    assert [given(project, member) for _ in range(3)] == t[:3]
    predict(world, project, [(t[40], 0.1), (t[55], 0.2)], version)  # new, behind the place
    with CaptureQueriesContext(connection) as captured:
        found = stream.next_task(project, member.user)
    first = list(captured.captured_queries)  # a copy: the log moves on with later queries
    assert found is not None and found.pk == t[40]
    annotate(member, t[40])
    assert given(project, member) == t[55]
    with CaptureQueriesContext(connection) as captured:
        found = stream.next_task(project, member.user)
    then = list(captured.captured_queries)
    assert found is not None and found.pk == t[3]
    index = "prediction_version_score" if version else "prediction_score"
    # New entries are read on the (project, id) index, and only they are sorted.
    catching_up = [
        q["sql"] for q in first if '"tasks_prediction"' in q["sql"] and "IN (SELECT" in q["sql"]
    ]
    assert len(catching_up) == 1
    chosen = plan(catching_up[0])
    assert index not in chosen, chosen
    if connection.vendor == "sqlite":
        assert "prediction_project (project_id=? AND id>?)" in chosen, chosen
    # Behind the place, the place, the task from it: walked on the index, never sorted.
    walking = [
        q["sql"]
        for q in then
        if '"tasks_prediction"' in q["sql"] and "score" in q["sql"] and "IN (SELECT" not in q["sql"]
    ]
    assert len(walking) == 3, walking
    for sql in walking:
        chosen = plan(sql)
        # With a model version, a planner may still walk (project, score, task) on a tiny
        # table and check the version on each entry: in score order all the same.
        assert index in chosen or "prediction_score" in chosen, chosen
        assert "TEMP B-TREE" not in chosen and "Sort" not in chosen, chosen


def given(project: Project, member: Actor) -> int:
    """The task `next` gives, annotated at once."""
    task = stream.next_task(project, member.user)
    assert task is not None
    annotate(member, task.pk)
    return task.pk


def test_the_shared_tier_is_walked_on_its_partial_index(world: World) -> None:
    """Showing tasks with overlap first, the walks over that tier read the
    `task_project_shared` index (tasks whose overlap is above 1), not every open task."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
    project, _ = make_project(
        world, 40, show_overlap_first=True, maximum_annotations=2, overlap_cohort_percentage=10
    )
    member = annotator(world, project, "shared")
    shared = list(Task.objects.filter(project=project, overlap=2).values_list("id", flat=True))
    assert [given(project, member) for _ in range(2)] == sorted(shared)[:2]
    with CaptureQueriesContext(connection) as captured:
        found = stream.next_task(project, member.user)
    assert found is not None and found.pk == sorted(shared)[2]
    walks = [q["sql"] for q in captured.captured_queries if '"overlap" > (1)' in q["sql"]]
    assert walks, captured.captured_queries
    for sql in walks:
        chosen = plan(sql)
        assert "task_project_shared" in chosen, chosen


def test_the_score_walk_is_bounded_by_score_and_task_together(world: World) -> None:
    """Predictions that share a score are read from the bound on, not from the first of
    them: the bounds are row comparisons of (score, task) on the index (db/rows.py), not
    `score >= s` with the task checked on every entry of that score."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
    project, t = make_project(world, 30, sampling=Sampling.UNCERTAINTY.value)
    predict(world, project, [(pk, 0.8) for pk in t], "")  # one score for every task
    member = annotator(world, project, "ties")
    assert [given(project, member) for _ in range(3)] == t[:3]
    with CaptureQueriesContext(connection) as captured:
        found = stream.next_task(project, member.user)
    assert found is not None and found.pk == t[3]
    walking = [
        q["sql"]
        for q in captured.captured_queries
        if '"tasks_prediction"' in q["sql"]
        and '"score", "tasks_prediction"."task_id") ' in q["sql"]
    ]
    assert len(walking) >= 2, captured.captured_queries  # behind the place, from the place
    for sql in walking:
        chosen = plan(sql)
        if connection.vendor == "sqlite":
            assert "(score,task_id)>" in chosen, chosen
        else:
            bounds = [line for line in chosen.splitlines() if "ROW(score, task_id) >" in line]
            assert bounds and all("Index Cond" in line for line in bounds), chosen


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's generic plans")
def test_the_shared_walks_keep_their_index_in_a_generic_plan(world: World) -> None:
    """A prepared statement run often gets a generic plan, made without the parameters'
    values: the `1` of `overlap > 1` is in the SQL text, so that plan can still use the
    partial index whose condition it is."""
    project, _ = make_project(world, 5, show_overlap_first=True, maximum_annotations=2)
    member = annotator(world, project, "generic")
    values = {"project": project.pk, "user": member.user.pk, "now": timezone.now(), "pivot": 0}
    order = stream._SHARED_SEQUENTIAL
    for prepared in (order._frontier, order._ahead, stream._FIRST_SHARED_FROM):
        compiled = prepared.compiled()
        params = compiled.bind(values)
        numbered = compiled.sql.replace("%%", "%")
        for n in range(1, len(params) + 1):
            numbered = numbered.replace("%s", f"${n}", 1)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("DEALLOCATE ALL")
            cursor.execute(f"PREPARE shared_walk AS {numbered}")
            arguments = ", ".join(_literal(p) for p in params)
            cursor.execute(f"EXPLAIN EXECUTE shared_walk({arguments})")
            chosen = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("DEALLOCATE shared_walk")
        assert "task_project_shared" in chosen, chosen


def _literal(value: object) -> str:
    """A parameter as an SQL literal, for EXECUTE's arguments (test values only)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"'{value.isoformat()}'::timestamptz"
    raise TypeError(f"no literal for {value!r}")

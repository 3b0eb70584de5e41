"""Regression tests from the review of the data manager's actions and the bookkeeping
fixes: each docstring tells the fault it caught, since fixed."""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor

from labelkeep.projects.models import Project
from labelkeep.tasks import actions, counters, deletion, services
from labelkeep.tasks.models import Annotation, Prediction, Task, region_count
from tests.conftest import TEST_ORIGIN, World
from tests.dataio.test_import_support import post_json
from tests.tasks.conftest import choice
from tests.tasks.test_dm_actions import act, counters_of, everything


def _annotated(world: World, task: int, label: str = "Positive") -> int:
    answer = world.member.client.post(
        f"/api/tasks/{task}/annotations/", {"result": choice(label)}, format="json"
    )
    assert answer.status_code == 201, answer.content
    return int(answer.json()["id"])


def _pause_before_the_second_chunk(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """The action stops between its first and second chunk of annotations (where a big
    selection spends the time of a whole chunk anyway) until `go` is set."""
    between, go = threading.Event(), threading.Event()
    real = services.delete_annotation_chunks

    def paused(chunks: Iterable[list[int]], **kwargs: Any) -> int:
        def slow() -> Iterator[list[int]]:
            for n, chunk in enumerate(chunks):
                if n == 1:
                    between.set()
                    go.wait(20)
                yield chunk

        return real(slow(), **kwargs)

    monkeypatch.setattr(services, "delete_annotation_chunks", paused)
    return between, go


def _race(action: Callable[[], Any], other: Callable[[], Any], between: Any, go: Any) -> None:
    """Run `action`; once it is between chunks, `other`; let the action go on once `other`
    had time to start waiting. Neither may fail."""
    errors: list[BaseException] = []

    def run(work: Callable[[], Any], first: Any = None) -> None:
        try:
            if first is not None:
                first.wait(20)
            work()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(action,)),
        threading.Thread(target=run, args=(other, between)),
    ]
    for thread in threads:
        thread.start()
    between.wait(20)
    time.sleep(1.0)  # `other` now waits for a row the action holds
    go.set()
    for thread in threads:
        thread.join(60)
    assert not errors, errors  # fails on PostgreSQL: "deadlock detected"


@pytest.mark.django_db(transaction=True)
def test_an_annotation_saved_while_annotations_are_deleted_is_not_deadlocked(
    world: World, project: Project, task_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """labelkeep/tasks/services.py delete_annotation_chunks moves the project's counters
    after every chunk, so the project's row stays locked from the first chunk to the
    commit while later chunks go on locking tasks. Saving an annotation locks its task,
    then the project: on a task of a later chunk, each waits for the other (PostgreSQL
    aborts one, "deadlock detected"). A selection of a million tasks is a hundred chunks
    and minutes of this; any annotator at work in the project meanwhile can hit it."""
    for pk in task_ids[:2]:
        _annotated(world, pk)
    monkeypatch.setattr(deletion, "SLICE", 1)  # one chunk per task
    between, go = _pause_before_the_second_chunk(monkeypatch)
    task = Task.objects.select_related("project").get(pk=task_ids[1])

    def delete() -> None:
        chosen = actions.Selection(project, task_ids[:2])
        actions.delete_annotations(chosen, None, actor=world.admin.user, origin=TEST_ORIGIN)

    def save() -> None:
        services.create_annotation(
            task,
            {"result": choice("Negative")},
            actor=world.member.user,
            completed_by=world.member.user,
            origin=TEST_ORIGIN,
        )

    _race(delete, save, between, go)


@pytest.mark.django_db(transaction=True)
def test_deleting_annotations_locks_tasks_in_id_order(
    world: World, project: Project, task_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The action's chunks are runs of annotation ids (labelkeep/tasks/actions.py
    delete_annotations), so their tasks are locked in the order their annotations were
    made, not in task id order as every other writer locks them (counters.lock_tasks):
    here the second task first, then the first. Adding predictions to both locks the
    first, then waits for the second; the action then waits for the first: deadlock on
    PostgreSQL, whatever becomes of the project's row."""
    first, second = task_ids[:2]
    _annotated(world, second)  # the lower annotation id: the first chunk
    _annotated(world, first)
    monkeypatch.setattr(services, "DELETE_SLICE", 1)  # one chunk per annotation
    between, go = _pause_before_the_second_chunk(monkeypatch)
    tasks = list(Task.objects.filter(pk__in=[first, second]).order_by("pk"))

    def delete() -> None:
        chosen = actions.Selection(project, [first, second])
        actions.delete_annotations(chosen, None, actor=world.admin.user, origin=TEST_ORIGIN)

    def predict() -> None:
        rows = [(task, {"result": choice("Neutral"), "model_version": "v1"}) for task in tasks]
        services.create_predictions(project, rows, actor=world.admin.user, origin=TEST_ORIGIN)

    _race(delete, predict, between, go)


# A region id the labeling-config check lets through (it checks names, types and labels).
ODD_ID = [{**choice("Positive")[0], "id": {"region": 1}}]


def test_a_result_whose_region_id_is_an_object_is_not_a_500(
    world: World, project: Project, task_ids: list[int]
) -> None:
    """labelkeep/tasks/models.py region_count puts every item's `id` in a set: an id
    that is a JSON object or array is unhashable, and the TypeError is a 500 (the test
    client raises it) for creating an annotation, changing one, and importing one."""
    answer = world.member.client.post(
        f"/api/tasks/{task_ids[0]}/annotations/", {"result": ODD_ID}, format="json"
    )
    assert answer.status_code in (201, 400)


def test_an_import_with_an_object_region_id_is_not_a_500(world: World, project: Project) -> None:
    """As above, through labelkeep/dataio/prepare.py (region_count of the given result)."""
    body = [{"data": {"text": "x"}, "annotations": [{"result": ODD_ID}]}]
    answer = post_json(world.admin.client, project, body)
    assert answer.status_code in (201, 400)


def test_one_odd_prediction_does_not_break_predictions_to_annotations(
    world: World, project: Project, task_ids: list[int]
) -> None:
    """The prediction is accepted (201), then labelkeep/tasks/actions.py _annotations_of
    calls region_count on it: every predictions_to_annotations run whose selection holds
    that task is a 500, for every prediction of the selection."""
    for pk in task_ids[:2]:
        made = world.admin.client.post(
            "/api/predictions/", {"task": pk, "result": choice("Positive")}, format="json"
        )
        assert made.status_code == 201
    odd = world.admin.client.post(
        "/api/predictions/", {"task": task_ids[2], "result": ODD_ID}, format="json"
    )
    assert odd.status_code == 201, odd.content
    answer = act(world, project, "predictions_to_annotations", everything())
    assert answer.status_code == 200
    assert answer.json()["processed_items"] >= 2
    counters_of(project)


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_regions_as_writes_do() -> None:
    """Migration 0010 on PostgreSQL counts `count(DISTINCT item -> 'id')`: an `"id":
    null` is the JSON value null there, not SQL NULL, so it counts as a region of its
    own beside the items without an id, where region_count (every later write) and the
    SQLite statement count them together. The config check lets `"id": null` through."""
    before = [("tasks", "0009_task_file_upload")]
    after = [("tasks", "0010_annotation_bookkeeping")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    results = [
        [{**choice("Positive")[0], "id": None}, *choice("Negative")],
        [{**choice("Positive")[0], "id": None}, {**choice("Negative")[0], "id": None}],
    ]
    try:
        old = executor.loader.project_state(before).apps
        organization = old.get_model("accounts", "Organization").objects.create(title="Old")
        project = old.get_model("projects", "Project").objects.create(
            organization_id=organization.pk, title="old"
        )
        task = old.get_model("tasks", "Task").objects.create(
            project_id=project.pk, data={"text": "x"}, inner_id=1
        )
        for result in results:
            old.get_model("tasks", "Annotation").objects.create(
                task_id=task.pk, project_id=project.pk, result=result
            )
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps
        rows = new.get_model("tasks", "Annotation").objects.order_by("id")
        assert [a.result_count for a in rows] == [region_count(r) for r in results]  # PG: [2, 1]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_deleting_a_selections_annotations_keeps_no_list_of_all_of_them(
    world: World, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """labelkeep/tasks/services.py delete_annotation_chunks collects the id of every
    deleted annotation (`deleted`) until the commit, to list the first 1,000 in the audit
    entry: memory grows by ~60 bytes per annotation of the whole selection (a million
    tasks with three annotations each: ~180 MB in the web process), however small the
    slices. Here 40,000 annotations go in chunks of 500: the peak should stay near one
    chunk's, not grow with the selection."""
    made = services.create_tasks(
        project,
        [services.NewTask(data={"text": f"t{n}"}) for n in range(160)],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    author = world.member.user
    rows = [
        Annotation(task_id=pk, project=project, completed_by=author, result=[])
        for pk in made.task_ids
        for _ in range(250)
    ]
    Annotation.objects.bulk_create(rows, batch_size=2000)
    del rows
    counters.recount_tasks(made.task_ids)
    counters.recount_project(project.pk)
    monkeypatch.setattr(deletion, "SLICE", 1)  # 250 annotations a part
    monkeypatch.setattr(services, "DELETE_SLICE", 500)
    tracemalloc.start()
    try:
        count = actions.delete_annotations(
            actions.Selection(project, None), None, actor=world.admin.user, origin=TEST_ORIGIN
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 40_000
    assert not Prediction.objects.exists() and not Annotation.objects.exists()
    assert peak < 1_000_000, (
        f"peak {peak / 1e6:.1f} MB"
    )  # fails: ~1.9 MB (0.3 MB with a bounded list)

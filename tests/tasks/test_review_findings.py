"""Defects found in review of the task, annotation and prediction endpoints: each test
failed before its fix."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections, transaction

from labelkeep.projects.models import Project
from labelkeep.tasks import services
from labelkeep.tasks.models import Annotation, Prediction, Task
from tests.conftest import TEST_ORIGIN, World
from tests.tasks.conftest import choice
from tests.tasks.test_annotation_races import _at_once


def _predictions(project: Project, task_id: int) -> tuple[int, int, int]:
    """(the task's counter, the project's counter, the predictions there are)."""
    project.refresh_from_db()
    counted = Task.objects.values_list("total_predictions", flat=True).get(pk=task_id)
    there = Prediction.objects.filter(task_id=task_id).count()
    return counted, project.total_predictions_number, there


def _predicted(world: World, task_id: int, label: str = "Positive") -> int:
    response = world.admin.client.post(
        "/api/predictions/", {"task": task_id, "result": choice(label)}, format="json"
    )
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def test_changing_a_tasks_overlap_answers_with_its_new_done_mark(
    world: World, project: Project, task_ids: list[int]
) -> None:
    client = world.admin.client
    url = f"/api/tasks/{task_ids[0]}/"
    annotated = client.post(f"{url}annotations/", {"result": choice("Positive")}, format="json")
    assert annotated.status_code == 201
    assert client.get(url).json()["is_labeled"] is True

    raised = client.patch(url, {"overlap": 2}, format="json")
    assert raised.status_code == 200
    assert (raised.json()["overlap"], raised.json()["is_labeled"]) == (2, False)
    assert raised.json() == client.get(url).json()


def test_deleting_a_prediction_through_a_stale_copy_counts_once(
    world: World, project: Project, task_ids: list[int]
) -> None:
    """The same DELETE sent twice (a double-click, a retry): both found the prediction
    before either deleted it. The second deletes nothing and moves no counter."""
    gone = _predicted(world, task_ids[0])
    _predicted(world, task_ids[0], "Negative")
    one, other = (Prediction.objects.select_related("task", "project").get(pk=gone) for _ in "ab")
    assert services.delete_prediction(one, actor=world.admin.user, origin=TEST_ORIGIN)
    assert not services.delete_prediction(other, actor=world.admin.user, origin=TEST_ORIGIN)
    assert _predictions(project, task_ids[0]) == (1, 1, 1)


@pytest.mark.django_db(transaction=True)
def test_the_same_prediction_delete_at_once_counts_once(
    world: World, project: Project, task_ids: list[int]
) -> None:
    gone = _predicted(world, task_ids[0])
    _predicted(world, task_ids[0], "Negative")
    copies = [Prediction.objects.select_related("task", "project").get(pk=gone) for _ in range(4)]
    deleted = _at_once(
        4,
        lambda: services.delete_prediction(
            copies.pop(), actor=world.admin.user, origin=TEST_ORIGIN
        ),
    )
    assert sorted(deleted) == [False, False, False, True]
    assert _predictions(project, task_ids[0]) == (1, 1, 1)


def _deleting_first(monkeypatch: pytest.MonkeyPatch, name: str, delete: Callable[[], Any]) -> None:
    """Make `services.<name>` run `delete` (someone else's request, just now) first."""
    original: Callable[..., Any] = getattr(services, name)

    def after_it_is_gone(*args: Any, **kwargs: Any) -> Any:
        delete()
        return original(*args, **kwargs)

    monkeypatch.setattr(services, name, after_it_is_gone)


@pytest.mark.parametrize(
    ("name", "method", "route", "body"),
    [
        ("update_task", "patch", "/api/tasks/{task}/", {"meta": {"a": 1}}),
        ("update_task", "patch", "/api/tasks/{task}/", {"overlap": 2}),
        ("delete_tasks", "delete", "/api/tasks/{task}/", None),
        ("create_predictions", "post", "/api/predictions/", {"task": "{task}", "result": []}),
        (
            "create_predictions",
            "post",
            "/api/projects/{project}/import/predictions",
            [{"task": "{task}", "result": []}],
        ),
        ("update_prediction", "patch", "/api/predictions/{prediction}/", {"score": 0.5}),
        ("delete_prediction", "delete", "/api/predictions/{prediction}/", None),
    ],
)
def test_a_task_deleted_meanwhile_is_a_404_and_moves_no_counter(
    world: World,
    project: Project,
    task_ids: list[int],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    method: str,
    route: str,
    body: Any,
) -> None:
    """Found when the request began, gone when it writes: a 404 (as for annotations),
    not a 500 from the database, and the project's counters stay what its rows say."""
    task = task_ids[0]
    prediction = _predicted(world, task)
    remove = services.delete_tasks  # as it is before any patching
    _deleting_first(
        monkeypatch,
        name,
        lambda: remove(project, [task], actor=world.admin.user, origin=TEST_ORIGIN),
    )
    ids = {"task": task, "project": project.pk, "prediction": prediction}
    if isinstance(body, dict):
        body = {k: int(v.format(**ids)) if v == "{task}" else v for k, v in body.items()}
    elif isinstance(body, list):
        body = [{**row, "task": task} for row in body]
    client = world.admin.client
    url = route.format(**ids)
    response = getattr(client, method)(url, body, format="json")
    assert response.status_code == 404, response.content
    assert response.json()["status_code"] == 404
    project.refresh_from_db()
    assert not Task.objects.filter(pk=task).exists()
    # None written for the task that went (on SQLite, foreign keys are checked at commit).
    assert not Prediction.objects.filter(task_id=task).exists()
    assert project.task_number == len(task_ids) - 1
    assert project.total_predictions_number == Prediction.objects.filter(project=project).count()


def _annotated(world: World, task_id: int) -> int:
    response = world.member.client.post(
        f"/api/tasks/{task_id}/annotations/", {"result": choice("Positive")}, format="json"
    )
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def _counters(project: Project) -> dict[str, int]:
    project.refresh_from_db()
    return {
        "task_number": project.task_number,
        "num_tasks_with_annotations": project.num_tasks_with_annotations,
        "total_annotations_number": project.total_annotations_number,
        "total_predictions_number": project.total_predictions_number,
    }


def _counted(project: Project) -> dict[str, int]:
    tasks = Task.objects.filter(project=project)
    return {
        "task_number": tasks.count(),
        "num_tasks_with_annotations": tasks.filter(annotations__isnull=False).distinct().count(),
        "total_annotations_number": Annotation.objects.filter(project=project).count(),
        "total_predictions_number": Prediction.objects.filter(project=project).count(),
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("what", ["annotation", "prediction"])
def test_deleting_tasks_while_one_of_their_rows_is_deleted_counts_it_once(
    world: World, project: Project, task_ids: list[int], what: str
) -> None:
    """One request deletes an annotation (or a prediction) of a task, another deletes the
    task meanwhile. The task deletion counts what the task holds once the first is done:
    on PostgreSQL it read the task's counters before, and took the row off twice."""
    doomed, kept = task_ids[0], task_ids[1]
    if what == "annotation":
        first = _annotated(world, doomed)
        _annotated(world, doomed)
        _annotated(world, kept)
        row: Any = Annotation.objects.select_related("task", "project").get(pk=first)
    else:
        first = _predicted(world, doomed)
        _predicted(world, doomed, "Negative")
        _predicted(world, kept)
        row = Prediction.objects.select_related("task", "project").get(pk=first)
    holding, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def delete_one() -> None:
        try:
            with transaction.atomic():  # held open until the task deletion has begun
                if what == "annotation":
                    services.delete_annotations([row], actor=world.admin.user, origin=TEST_ORIGIN)
                else:
                    services.delete_prediction(row, actor=world.admin.user, origin=TEST_ORIGIN)
                holding.set()
                done.wait(10)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            holding.set()
            connections.close_all()

    def delete_task() -> None:
        try:
            holding.wait(10)
            services.delete_tasks(project, [doomed], actor=world.admin.user, origin=TEST_ORIGIN)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=delete_one), threading.Thread(target=delete_task)]
    for thread in threads:
        thread.start()
    holding.wait(10)
    time.sleep(0.5)  # the task deletion has read what it deletes, or waits to begin (SQLite)
    done.set()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert _counters(project) == _counted(project)

"""Every change to a project's tasks that a task-list filter can see moves the project's
`tasks_version`, which the remembered filtered counts and anchors depend on
(labelkeep/tasks/anchors.py); reading does not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import services
from labelkeep.tasks.models import Annotation, Prediction, Task
from tests.conftest import TEST_ORIGIN, World
from tests.tasks.conftest import choice

pytestmark = pytest.mark.django_db


def _version(project: Project) -> int:
    return Project.objects.values_list("tasks_version", flat=True).get(pk=project.pk)


@pytest.fixture
def tasks(world: World, project: Project) -> list[Task]:
    ids = services.create_tasks(
        project,
        [services.NewTask(data={"text": f"t{n}"}) for n in range(4)],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    ).task_ids
    return list(Task.objects.filter(pk__in=ids).order_by("id"))


def _annotate(world: World, task: Task, cancelled: bool = False) -> Annotation:
    return services.create_annotation(
        task,
        {"result": [] if cancelled else choice("Positive"), "was_cancelled": cancelled},
        actor=world.admin.user,
        completed_by=world.admin.user,
        origin=TEST_ORIGIN,
    )


Change = Callable[[World, Project, list[Task]], Any]


def _by_admin(world: World) -> dict[str, Any]:
    return {"actor": world.admin.user, "origin": TEST_ORIGIN}


CHANGES: dict[str, tuple[Change | None, Change]] = {
    # name: (setup, the change)
    "create tasks": (
        None,
        lambda w, p, t: services.create_tasks(
            p, [services.NewTask(data={"text": "new"})], **_by_admin(w)
        ),
    ),
    "update task data": (
        None,
        lambda w, p, t: services.update_task(t[0], {"data": {"text": "other"}}, **_by_admin(w)),
    ),
    "mark a task done": (
        None,
        lambda w, p, t: services.update_task(t[0], {"is_labeled": True}, **_by_admin(w)),
    ),
    "delete tasks": (None, lambda w, p, t: services.delete_tasks(p, [t[1].pk], **_by_admin(w))),
    "annotate": (None, lambda w, p, t: _annotate(w, t[0])),
    "skip": (None, lambda w, p, t: _annotate(w, t[0], cancelled=True)),
    "turn a skip into work": (
        lambda w, p, t: _annotate(w, t[0], cancelled=True),
        lambda w, p, t: services.update_annotation(
            Annotation.objects.get(task=t[0]),
            {"was_cancelled": False, "result": choice("Negative")},
            **_by_admin(w),
        ),
    ),
    "mark an annotation ground truth": (
        lambda w, p, t: _annotate(w, t[0]),
        lambda w, p, t: services.update_annotation(
            Annotation.objects.get(task=t[0]), {"ground_truth": True}, **_by_admin(w)
        ),
    ),
    "change an annotation's lead time": (
        lambda w, p, t: _annotate(w, t[0]),
        lambda w, p, t: services.update_annotation(
            Annotation.objects.get(task=t[0]), {"lead_time": 4.5}, **_by_admin(w)
        ),
    ),
    "delete an annotation": (
        lambda w, p, t: _annotate(w, t[0]),
        lambda w, p, t: services.delete_annotations(
            Annotation.objects.filter(task=t[0]), **_by_admin(w)
        ),
    ),
    "delete a skip": (
        lambda w, p, t: _annotate(w, t[0], cancelled=True),
        lambda w, p, t: services.delete_annotations(
            Annotation.objects.filter(task=t[0]), **_by_admin(w)
        ),
    ),
    "annotate in bulk": (
        None,
        lambda w, p, t: services.create_annotations_bulk(
            p,
            [t[0].pk, t[1].pk],
            {"result": choice("Positive")},
            actor=w.admin.user,
            completed_by=w.admin.user,
            origin=TEST_ORIGIN,
        ),
    ),
    "delete annotations in bulk": (
        lambda w, p, t: _annotate(w, t[2]),
        lambda w, p, t: services.delete_annotations_bulk(
            list(Annotation.objects.filter(task=t[2]).values_list("pk", flat=True)),
            **_by_admin(w),
        ),
    ),
    "predict": (
        None,
        lambda w, p, t: services.create_predictions(
            p, [(t[3], {"result": choice("Neutral"), "score": 0.5})], **_by_admin(w)
        ),
    ),
    "delete a prediction": (
        lambda w, p, t: services.create_predictions(
            p, [(t[3], {"result": choice("Neutral")})], **_by_admin(w)
        ),
        lambda w, p, t: services.delete_prediction(
            Prediction.objects.get(task=t[3]), **_by_admin(w)
        ),
    ),
    "rescore a prediction": (
        lambda w, p, t: services.create_predictions(
            p, [(t[3], {"result": choice("Neutral"), "score": 0.2})], **_by_admin(w)
        ),
        lambda w, p, t: services.update_prediction(
            Prediction.objects.get(task=t[3]), {"score": 0.9}, **_by_admin(w)
        ),
    ),
    "change the project's overlap": (
        None,
        lambda w, p, t: projects.update_project(p, {"maximum_annotations": 2}, **_by_admin(w)),
    ),
}


@pytest.mark.parametrize("name", CHANGES)
def test_each_change_to_the_tasks_moves_the_version(
    world: World, project: Project, tasks: list[Task], name: str
) -> None:
    setup, change = CHANGES[name]
    if setup is not None:
        setup(world, project, tasks)
    project.refresh_from_db()
    before = _version(project)
    change(world, project, tasks)
    assert _version(project) > before


def test_reading_leaves_the_version(world: World, project: Project, tasks: list[Task]) -> None:
    before = _version(project)
    for url in (
        f"/api/tasks/?project={project.pk}&fields=all",
        f"/api/tasks/{tasks[0].pk}/",
        f"/api/projects/{project.pk}/export?exportType=JSON&download_all_tasks=true",
    ):
        assert world.admin.client.get(url).status_code == 200
    assert _version(project) == before

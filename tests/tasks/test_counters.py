"""Every annotation change moves the task's and the project's counters to exactly what a
full recount gives (labelkeep/tasks/counters.py)."""

from __future__ import annotations

from typing import Any

import pytest

from labelkeep.projects.models import Project
from labelkeep.tasks import counters, services
from labelkeep.tasks.models import Annotation, Task
from tests.conftest import TEST_ORIGIN, World
from tests.tasks.conftest import choice

pytestmark = pytest.mark.django_db

FIELDS = (
    "task_number",
    "num_tasks_with_annotations",
    "total_annotations_number",
    "total_predictions_number",
)


def _state(project: Project) -> tuple[Any, ...]:
    project.refresh_from_db()
    tasks = tuple(
        Task.objects.filter(project=project)
        .order_by("id")
        .values_list("total_annotations", "cancelled_annotations", "is_labeled")
    )
    return tuple(getattr(project, name) for name in FIELDS), tasks


def _matches_recount(project: Project) -> tuple[Any, ...]:
    kept = _state(project)
    ids = list(Task.objects.filter(project=project).values_list("id", flat=True))
    counters.recount_tasks(ids)
    counters.recount_project(project.pk)
    assert _state(project) == kept
    return kept


def test_counters_follow_creates_flips_and_deletes(world: World, project: Project) -> None:
    Project.objects.filter(pk=project.pk).update(maximum_annotations=2)
    project.refresh_from_db()
    first, second = (
        Task.objects.get(pk=pk)
        for pk in services.create_tasks(
            project,
            [services.NewTask(data={"text": "a"}), services.NewTask(data={"text": "b"})],
            actor=world.admin.user,
            origin=TEST_ORIGIN,
        ).task_ids
    )

    def annotate(task: Task, **fields: Any) -> Annotation:
        return services.create_annotation(
            task,
            {"result": choice("Positive"), **fields},
            actor=world.admin.user,
            completed_by=world.admin.user,
            origin=TEST_ORIGIN,
        )

    made = annotate(first)
    assert _matches_recount(project)[0][1:3] == (1, 1)
    annotate(first)  # the second of two: now labeled
    projects, tasks = _matches_recount(project)
    assert projects[1:3] == (1, 2) and tasks[0] == (2, 0, True)
    skipped = annotate(second, was_cancelled=True)
    projects, tasks = _matches_recount(project)
    assert projects[1:3] == (1, 2) and tasks[1] == (0, 1, False)
    services.update_annotation(
        skipped, {"was_cancelled": False}, actor=world.admin.user, origin=TEST_ORIGIN
    )
    projects, tasks = _matches_recount(project)
    assert projects[1:3] == (2, 3) and tasks[1] == (1, 0, False)
    services.delete_annotations([made], actor=world.admin.user, origin=TEST_ORIGIN)
    projects, tasks = _matches_recount(project)
    assert projects[1:3] == (2, 2) and tasks[0] == (1, 0, False)
    services.delete_annotations(
        list(Annotation.objects.filter(task=second)), actor=world.admin.user, origin=TEST_ORIGIN
    )
    projects, tasks = _matches_recount(project)
    assert projects[1:3] == (1, 1) and tasks[1] == (0, 0, False)


def test_a_task_deleted_under_the_annotation_is_an_error_and_nothing_is_kept(
    world: World, project: Project
) -> None:
    task = Task.objects.get(
        pk=services.create_tasks(
            project,
            [services.NewTask(data={"text": "a"})],
            actor=world.admin.user,
            origin=TEST_ORIGIN,
        ).task_ids[0]
    )
    Task.objects.filter(pk=task.pk).delete()
    with pytest.raises(Task.DoesNotExist):
        counters.shift_annotations(task, done=1)
    project.refresh_from_db()
    assert project.total_annotations_number == 0


def test_tasks_take_the_overlap_in_force_when_they_are_written(
    world: World, project: Project
) -> None:
    """An import prepares its rows with the project as it read it; by the time a chunk is
    written, `maximum_annotations` may have changed: the rows get the value in force."""
    stale = Project.objects.get(pk=project.pk)
    Project.objects.filter(pk=project.pk).update(maximum_annotations=2)
    one_done = {"result": choice("Positive")}
    created = services.create_tasks(
        stale,
        [
            services.NewTask(data={"text": "a"}, annotations=[one_done]),
            services.NewTask(data={"text": "b"}, annotations=[one_done, one_done]),
        ],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    rows = Task.objects.filter(pk__in=created.task_ids).order_by("id")
    assert list(rows.values_list("overlap", "is_labeled")) == [(2, False), (2, True)]
    _matches_recount(project)

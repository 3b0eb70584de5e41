"""Keeping the task and project counters right, inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Case, Count, Exists, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual

from labelkeep.db.prepared import PreparedUpdate
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Prediction, Task
from labelkeep.tasks.overlap import overlap_expression

# Added to every UPDATE of a project whose tasks changed (Project.tasks_version).
NEW_VERSION: dict[str, Any] = {"tasks_version": F("tasks_version") + Value(1)}

PROJECT_COUNTERS = (
    "task_number",
    "num_tasks_with_annotations",
    "total_annotations_number",
    "total_predictions_number",
)

_SHIFT_TASK = PreparedUpdate(
    # SET expressions read the row as it was before the update, on SQLite and PostgreSQL.
    lambda pk, done, cancelled: (
        Task.objects.filter(pk=pk),
        {
            "total_annotations": F("total_annotations") + Value(done),
            "cancelled_annotations": F("cancelled_annotations") + Value(cancelled),
            "is_labeled": Case(
                When(overlap__lte=F("total_annotations") + Value(done), then=Value(True)),
                default=Value(False),
            ),
        },
    ),
    pk=int,
    done=int,
    cancelled=int,
)


def _has_more_than(task: int, count: int) -> Case:
    """1 when the task has more than `count` finished annotations, else 0."""
    above = Task.objects.filter(pk=task, total_annotations__gt=count)
    return Case(When(Exists(above), then=Value(1)), default=Value(0))


class ProjectChanged(Exception):
    """The project's row changed (its labeling config, perhaps) after the caller read it."""


def _project_shift(task: int, done: int) -> dict[str, Any]:
    # Read after the task's own update, in the same transaction: `total_annotations` is
    # the new count, and the task had annotations before iff it now has more than `done`.
    return {
        "total_annotations_number": F("total_annotations_number") + Value(done),
        "num_tasks_with_annotations": F("num_tasks_with_annotations")
        + _has_more_than(task, 0)
        - _has_more_than(task, done),
        **NEW_VERSION,
    }


_SHIFT_PROJECT_ANNOTATIONS = PreparedUpdate(
    lambda pk, task, done: (Project.objects.filter(pk=pk), _project_shift(task, done)),
    pk=int,
    task=int,
    done=int,
)
_SHIFT_PROJECT_ANNOTATIONS_AS_OF = PreparedUpdate(
    lambda pk, task, done, seen: (
        Project.objects.filter(pk=pk, updated_at=seen),
        _project_shift(task, done),
    ),
    pk=int,
    task=int,
    done=int,
    seen=dt.datetime,
)


def shift_annotations(
    task: Task, *, done: int = 0, cancelled: int = 0, project_as_of: dt.datetime | None = None
) -> None:
    """Add `done` finished and `cancelled` skipped annotations to a task's counters, and
    move its project's: two UPDATEs, which lock the task's row and then the project's.

    With `project_as_of` (the project's `updated_at` when the caller checked the result
    against its labeling config), raise ProjectChanged if the project was saved since:
    the project's UPDATE finds no row, at no extra cost, and the transaction rolls back."""
    if not _SHIFT_TASK.run(pk=task.pk, done=done, cancelled=cancelled):
        raise Task.DoesNotExist(f"task {task.pk} is gone")
    if not done:
        if project_as_of is not None:
            confirm_unchanged(task.project_id, project_as_of)
        else:
            touch(task.project_id)
    elif project_as_of is None:
        _SHIFT_PROJECT_ANNOTATIONS.run(pk=task.project_id, task=task.pk, done=done)
    elif not _SHIFT_PROJECT_ANNOTATIONS_AS_OF.run(
        pk=task.project_id, task=task.pk, done=done, seen=project_as_of
    ):
        raise ProjectChanged


def confirm_unchanged(project_id: int, seen: dt.datetime) -> None:
    """Raise ProjectChanged unless the project is as the caller read it; else hold its row
    (locked on PostgreSQL until the commit) so that a config change waits for this one."""
    if not Project.objects.filter(pk=project_id, updated_at=seen).update(
        updated_at=F("updated_at"), **NEW_VERSION
    ):
        raise ProjectChanged


def touch(project_id: int) -> None:
    """Move the project's tasks_version: its tasks changed and no counter moved."""
    Project.objects.filter(pk=project_id).update(**NEW_VERSION)


def shift_predictions(task: Task, delta: int) -> None:
    Task.objects.filter(pk=task.pk).update(total_predictions=F("total_predictions") + delta)
    Project.objects.filter(pk=task.project_id).update(
        total_predictions_number=F("total_predictions_number") + delta, **NEW_VERSION
    )


def _count(model: type[Annotation] | type[Prediction], **conditions: Any) -> Subquery:
    rows = model.objects.filter(task=OuterRef("pk"), **conditions).order_by()
    return Subquery(rows.values("task").annotate(n=Count("id")).values("n"))


# Tasks recounted per statement: an `id IN` list binds one parameter per task, and a
# statement may bind at most 65,535 on PostgreSQL, 32,766 on stock SQLite.
RECOUNT_SLICE = 10_000


def recount_tasks(task_ids: list[int]) -> None:
    """Recompute these tasks' counters from their annotations and predictions, in one
    UPDATE (a subquery per counter) per RECOUNT_SLICE tasks, however many there are.

    The rows are locked first, in id order, as every other writer of a task locks it. On
    PostgreSQL an UPDATE that waits for a row re-reads only that row, not the subqueries:
    one that waited for an annotation being saved would count as of before it, and the
    task would read as unlabeled again, free for a second person with overlap 1. Counted
    after the lock, in a statement of its own, the recount sees the annotation. Slices go
    in id order, so the locks are still taken in id order."""
    ordered = sorted(task_ids)
    for start in range(0, len(ordered), RECOUNT_SLICE):
        _recount(ordered[start : start + RECOUNT_SLICE])


def lock_tasks(task_ids: list[int]) -> int:
    """Lock these tasks' rows, in id order and RECOUNT_SLICE at a time, as every writer of
    a task's counters does; how many of them there are (deleted ones are not)."""
    ordered = sorted(task_ids)
    found = 0
    for start in range(0, len(ordered), RECOUNT_SLICE):
        found += _lock(ordered[start : start + RECOUNT_SLICE])
    return found


def _lock(task_ids: list[int]) -> int:
    locked = Task.objects.select_for_update().filter(pk__in=task_ids).order_by("pk")
    return len(list(locked.values_list("pk")))


def _recount(task_ids: list[int]) -> None:
    """recount_tasks for at most RECOUNT_SLICE tasks: lock them, then one UPDATE."""
    _lock(task_ids)
    done = Coalesce(_count(Annotation, was_cancelled=False), Value(0))
    Task.objects.filter(pk__in=task_ids).update(
        total_annotations=done,
        cancelled_annotations=Coalesce(_count(Annotation, was_cancelled=True), Value(0)),
        total_predictions=Coalesce(_count(Prediction), Value(0)),
        is_labeled=Case(When(overlap__lte=done, then=Value(True)), default=Value(False)),
    )


def add_predictions(project_id: int, task_ids: list[int], count: int) -> None:
    """`count` new predictions on these tasks: recount the tasks, move the project."""
    recount_tasks(task_ids)
    Project.objects.filter(pk=project_id).update(
        total_predictions_number=F("total_predictions_number") + count, **NEW_VERSION
    )


def recount_project(project_id: int) -> None:
    """Recompute a project's counters from its tasks (after bulk changes)."""
    tasks = Task.objects.filter(project_id=project_id)
    Project.objects.filter(pk=project_id).update(
        task_number=tasks.count(),
        num_tasks_with_annotations=tasks.filter(total_annotations__gt=0).count(),
        total_annotations_number=Annotation.objects.filter(
            project_id=project_id, was_cancelled=False
        ).count(),
        total_predictions_number=Prediction.objects.filter(project_id=project_id).count(),
        **NEW_VERSION,
    )


def apply_overlap(project: Project) -> int:
    """Give every task of the project the overlap its settings give it (the project's
    `maximum_annotations`, for `overlap_cohort_percentage` of them), and relabel
    `is_labeled`; how many tasks changed."""
    overlap = overlap_expression(project.maximum_annotations, project.overlap_cohort_percentage)
    # SET expressions read the row as it was: the new overlap is computed twice.
    labeled: GreaterThanOrEqual[int] = GreaterThanOrEqual(F("total_annotations"), overlap)
    is_labeled = Case(When(labeled, then=Value(True)), default=Value(False))
    # Rows already right are left alone: PostgreSQL writes a new version of every row an
    # UPDATE names, changed or not, with an entry in each of the tasks' indexes.
    stale = Task.objects.filter(project=project).exclude(
        Q(overlap=overlap) & Q(is_labeled=is_labeled)
    )
    changed = stale.update(overlap=overlap, is_labeled=is_labeled)
    touch(project.pk)
    # The caller answers with this project: its counts are remembered per tasks_version.
    project.refresh_from_db(fields=["tasks_version"])
    return changed

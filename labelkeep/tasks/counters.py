"""Keeping the task and project counters right, inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, Count, F, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce

from labelkeep.db.prepared import PreparedSelect, PreparedUpdate
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Prediction, Task

_LOCKED_COUNTERS = PreparedSelect(
    lambda pk: Task.objects.select_for_update()
    .only("id", "project_id", "overlap", "total_annotations", "cancelled_annotations")
    .filter(pk=pk)
    .order_by()[:1],
    pk=int,
)
_SET_TASK_COUNTERS = PreparedUpdate(
    lambda pk, done, cancelled: (
        Task.objects.filter(pk=pk),
        {
            "total_annotations": Value(done),
            "cancelled_annotations": Value(cancelled),
            "is_labeled": Case(
                When(overlap__lte=Value(done), then=Value(True)), default=Value(False)
            ),
        },
    ),
    pk=int,
    done=int,
    cancelled=int,
)
_SHIFT_PROJECT_ANNOTATIONS = PreparedUpdate(
    lambda pk, done, tasks: (
        Project.objects.filter(pk=pk),
        {
            "total_annotations_number": F("total_annotations_number") + Value(done),
            "num_tasks_with_annotations": F("num_tasks_with_annotations") + Value(tasks),
        },
    ),
    pk=int,
    done=int,
    tasks=int,
)


def shift_annotations(task: Task, *, done: int = 0, cancelled: int = 0) -> None:
    """Add `done` finished and `cancelled` skipped annotations to a task's counters."""
    locked = _LOCKED_COUNTERS.first(pk=task.pk)
    if locked is None:
        raise Task.DoesNotExist(f"task {task.pk} is gone")
    before = locked.total_annotations
    after = before + done
    _SET_TASK_COUNTERS.run(
        pk=task.pk, done=after, cancelled=locked.cancelled_annotations + cancelled
    )
    with_annotations = int(after > 0) - int(before > 0)
    if done or with_annotations:
        _SHIFT_PROJECT_ANNOTATIONS.run(pk=locked.project_id, done=done, tasks=with_annotations)


def shift_predictions(task: Task, delta: int) -> None:
    Task.objects.filter(pk=task.pk).update(total_predictions=F("total_predictions") + delta)
    Project.objects.filter(pk=task.project_id).update(
        total_predictions_number=F("total_predictions_number") + delta
    )


def _count(model: type[Annotation] | type[Prediction], **conditions: Any) -> Subquery:
    rows = model.objects.filter(task=OuterRef("pk"), **conditions).order_by()
    return Subquery(rows.values("task").annotate(n=Count("id")).values("n"))


def recount_tasks(task_ids: list[int]) -> None:
    """Recompute these tasks' counters from their annotations and predictions, in one
    UPDATE (a subquery per counter), however many tasks there are."""
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
        total_predictions_number=F("total_predictions_number") + count
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
    )


def apply_overlap(project: Project) -> None:
    """Give every task of the project the project's overlap, and relabel `is_labeled`."""
    overlap = project.maximum_annotations
    Task.objects.filter(project=project).update(
        overlap=overlap,
        is_labeled=Case(
            When(total_annotations__gte=overlap, then=Value(True)), default=Value(False)
        ),
    )

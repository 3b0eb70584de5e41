"""Which tasks and annotations an export covers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from labelkeep.tasks.models import Annotation, Task, labeled

ID_SLICE = 1000


@dataclass(frozen=True)
class Selection:
    """A project's tasks to export, and which of their annotations and how to render them.

    `ids` (sorted, unique) limits the tasks; `only_annotated` keeps tasks with at least one
    annotation, skipped ones included (Label Studio's `download_all_tasks=false`).
    `task_filters` and `annotation_filters` are a snapshot's Label Studio filter options;
    `condition`, the filters and selection of the saved view they name.
    """

    project_id: int
    ids: tuple[int, ...] | None = None
    only_annotated: bool = False
    task_filters: Mapping[str, Any] = field(default_factory=dict)
    annotation_filters: Mapping[str, Any] = field(default_factory=dict)
    expand_predictions: bool = False
    expand_completed_by: bool = False
    expand_drafts: bool = False
    # A saved view's filters and selection, as read for the snapshot's requester.
    condition: Q | None = None

    def tasks(self, among: Sequence[int] | None = None) -> QuerySet[Task]:
        """The selected tasks, unordered, and not limited by `ids`: callers pass one slice of
        them as `among` (a query carries at most `ID_SLICE` ids; SQLite takes 32766)."""
        tasks = Task.objects.filter(project_id=self.project_id)
        if among is not None:
            tasks = tasks.filter(id__in=among)
        if self.only_annotated:
            tasks = tasks.filter(_has_annotation())
        if self.condition is not None:
            tasks = tasks.filter(self.condition)
        return _apply_task_filters(tasks, self.task_filters)

    def id_slices(self, size: int = ID_SLICE) -> Iterator[tuple[int, ...]]:
        ids = self.ids or ()
        return (ids[start : start + size] for start in range(0, len(ids), size))

    def tally(self) -> dict[str, int]:
        """How many tasks, annotations (done and skipped) and predictions are selected."""
        totals = dict.fromkeys(("tasks", "annotations", "skipped", "predictions"), 0)
        parts = (
            [self.tasks(s) for s in self.id_slices()] if self.ids is not None else [self.tasks()]
        )
        for part in parts:
            found = part.aggregate(
                tasks=Count("id"),
                annotations=Sum("total_annotations"),
                skipped=Sum("cancelled_annotations"),
                predictions=Sum("total_predictions"),
            )
            for key, value in found.items():
                totals[key] += int(value or 0)
        return totals

    def annotations(self, among: Q) -> QuerySet[Annotation]:
        """The annotations to include of the tasks `among` selects: a condition on `task_id`
        that keeps to this project's tasks (a chunk of them). There is deliberately no
        `project_id` condition beside it: given one, SQLite reads every annotation of the
        project through the (project, author, task) index for each chunk, instead of the
        chunk's stretch of the (task, id) index."""
        wanted = []
        if self.annotation_filters.get("usual"):
            wanted.append(Q(was_cancelled=False, ground_truth=False))
        if self.annotation_filters.get("ground_truth"):
            wanted.append(Q(ground_truth=True))
        if self.annotation_filters.get("skipped"):
            wanted.append(Q(was_cancelled=True))
        annotations = Annotation.objects.filter(among)
        return annotations.filter(reduce(or_, wanted)) if wanted else annotations


def _has_annotation(**conditions: Any) -> Exists:
    return Exists(Annotation.objects.filter(task_id=OuterRef("id"), **conditions))


def _apply_task_filters(tasks: QuerySet[Task], options: Mapping[str, Any]) -> QuerySet[Task]:
    """Label Studio's snapshot task filters: each mode is "only", "exclude" or absent."""
    # name -> (the condition of "only", the condition of "exclude")
    annotated, skipped = _has_annotation(was_cancelled=False), _has_annotation(was_cancelled=True)
    conditions = {
        "annotated": (annotated, ~annotated),
        "skipped": (skipped, ~skipped),
        # Equalities both ways, which SQLite seeks on (NOT is_labeled it cannot).
        "finished": (labeled(True), labeled(False)),
    }
    for name, (only, exclude) in conditions.items():
        mode = options.get(name)
        if mode == "only":
            tasks = tasks.filter(only)
        elif mode == "exclude":
            tasks = tasks.filter(exclude)
    if options.get("only_with_annotations"):
        tasks = tasks.filter(_has_annotation())
    return tasks

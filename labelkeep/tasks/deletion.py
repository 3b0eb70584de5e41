"""Deleting many tasks: a few set-based statements per slice of tasks, whatever the count.

Django's `QuerySet.delete()` collects before it deletes: tasks have dependents (annotations,
predictions, locks), so it loads every task, deletes the dependents batch by batch and the
tasks a hundred ids at a time, and a `pk__in` list of every id binds one parameter per task,
more than one statement may have (32,766 on stock SQLite, 65,535 on PostgreSQL). Here the
tasks go in slices of at most SLICE: per slice, one `DELETE … WHERE task_id IN (SELECT id
FROM task WHERE <slice>)` per dependent table, then one DELETE of the tasks. A slice is an
id range of one project's tasks, or a list of at most SLICE ids where a range won't do.
With the data manager's filters, `matched` finds the tasks that match a slice at a time,
and they go the same way. Nothing here commits, counts or audits: the caller's transaction
holds the slices together.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from typing import Any

from django.db import models
from django.db.models import Count, Q, QuerySet, Sum

from labelkeep.tasks.models import Task

SLICE = 10_000


def dependents() -> list[Any]:
    """Every relation whose rows point at a task (hidden `related_name="+"` ones too)."""
    return [
        f
        for f in Task._meta.get_fields(include_hidden=True)
        if f.auto_created and not f.concrete and (f.one_to_many or f.one_to_one)
    ]


def delete_slice(tasks: QuerySet[Task]) -> int:
    """Delete these tasks (a bounded queryset) and their dependents; how many tasks went."""
    ids = tasks.values("pk")
    for relation in dependents():
        rows = relation.related_model._base_manager.filter(**{f"{relation.field.name}__in": ids})
        if relation.on_delete is models.CASCADE:
            # Models with no signals and no dependents of their own take Django's fast
            # path: one DELETE, no instances. Others are collected, one slice at a time.
            rows.delete()
        elif relation.on_delete is models.SET_NULL:
            rows.update(**{relation.field.name: None})
        elif relation.on_delete is not models.DO_NOTHING:
            raise TypeError(f"{relation} protects tasks; delete_slice cannot delete them")
    return tasks._raw_delete(tasks.db)


def slices(
    project_id: int, task_ids: Iterable[int] | None, excluded: Collection[int] = ()
) -> Iterator[QuerySet[Task]]:
    """The project's tasks with these ids (or, with None, all but `excluded`), in slices of
    at most SLICE. Delete each slice before asking for the next."""
    tasks = Task.objects.filter(project_id=project_id)
    if task_ids is not None:
        chosen = sorted(set(task_ids))
        for start in range(0, len(chosen), SLICE):
            yield _slice(tasks, chosen[start : start + SLICE])
        return
    keep = set(excluded)
    after = 0
    while True:
        window = list(
            tasks.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:SLICE]
        )
        if not window:
            return
        after = window[-1]
        doomed = [pk for pk in window if pk not in keep]
        if len(doomed) == len(window):  # every task of the project in this id range
            yield tasks.filter(pk__range=(window[0], after))
        elif doomed:
            yield _slice(tasks, doomed)


def matched(
    project_id: int, matching: Q, task_ids: Iterable[int] | None, excluded: Collection[int] = ()
) -> Iterator[list[int]]:
    """The ids of the project's tasks that match `matching` (the data manager's filters)
    among these (or, with None, all but `excluded`), ascending, at most SLICE at a time.
    Delete each part before asking for the next.

    `matching` binds up to about 10,000 parameters (labelkeep/tasks/filters.py), so the
    chosen ids go SLICE at a time too, and the excluded ones are left out here, never
    sent: with every task chosen, the project's matches are walked in id order instead."""
    tasks = Task.objects.filter(project_id=project_id).filter(matching).order_by("pk")
    if task_ids is not None:
        chosen = sorted(set(task_ids))
        for start in range(0, len(chosen), SLICE):
            found = tasks.filter(pk__in=chosen[start : start + SLICE])
            part = list(found.values_list("pk", flat=True))
            if part:
                yield part
        return
    keep = set(excluded)
    after = 0
    while True:
        window = list(tasks.filter(pk__gt=after).values_list("pk", flat=True)[:SLICE])
        if not window:
            return
        after = window[-1]
        doomed = [pk for pk in window if pk not in keep]
        if doomed:
            yield doomed


def _slice(tasks: QuerySet[Task], ids: list[int]) -> QuerySet[Task]:
    """Sorted, distinct ids: a range where they are one, else the list."""
    if ids[-1] - ids[0] + 1 == len(ids):
        return tasks.filter(pk__range=(ids[0], ids[-1]))
    return tasks.filter(pk__in=ids)


def tally(tasks: QuerySet[Task]) -> dict[str, int]:
    """What these tasks add to their project's counters (from the tasks' own counters)."""
    totals = tasks.aggregate(
        task_number=Count("pk"),
        num_tasks_with_annotations=Count("pk", filter=Q(total_annotations__gt=0)),
        total_annotations_number=Sum("total_annotations"),
        total_predictions_number=Sum("total_predictions"),
    )
    return {name: int(value or 0) for name, value in totals.items()}

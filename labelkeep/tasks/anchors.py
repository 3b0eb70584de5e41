"""Deep pages of a project's task list in id order, without stepping over every row.

`LIMIT 100 OFFSET 500000` makes the database walk half a million index entries: about
40 ms at a million tasks on SQLite, and a script that reads every page of such a project
(the official client does) pays that on every one of ten thousand pages. Instead, each
process remembers, per project and direction, the ids it has found at positions that are
multiples of ANCHOR_EVERY. A page starts from the anchor at or before it (`id >= anchor`)
and skips fewer than ANCHOR_EVERY entries. A missing anchor is found by skipping from the
nearest known one below it, never more than OFFSET itself would skip, so reading pages in
order costs a short skip each, and any page read twice costs one.

Anchors describe one set of task ids. For the unfiltered list they are kept while the
project's task counter and its highest task id stay what they were: ids only grow, so
every insert moves the highest id and every delete moves the counter, and either change
forgets the anchors (annotating does not). A filtered list in id order (`is_labeled=false`,
`only_annotated`, any data-manager filter) keeps its own anchors, and its match count for
`total`, while the project's `tasks_version` stays what it was: every change to the
project's tasks moves it (tasks/counters.py). A filtered list is known by the text and
parameters of its SQL, so two requests share anchors only when they ask for the same rows.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet

from labelkeep.projects.models import Project
from labelkeep.tasks.models import Task

ANCHOR_EVERY = 1000
DEEP = 10_000  # below this offset, skipping on the index is already cheap
_KEPT = 64  # (project, direction) pairs kept per process


Signature = tuple[str, str] | None
"""A filtered list's SQL text and parameters (as text); None for the unfiltered list."""

NOTHING: tuple[str, str] = ("", "matches nothing")
"""The signature of every filtered list Django knows to be empty without asking."""


@dataclass
class _Anchors:
    version: tuple[object, ...]  # (created_at, …): a project's pk may come back in tests
    slots: list[int] = field(default_factory=list)  # sorted positions // ANCHOR_EVERY
    ids: dict[int, int] = field(default_factory=dict)  # slot -> id at that position


_cache: OrderedDict[tuple[str, int, bool, Signature], _Anchors] = OrderedDict()
_totals: OrderedDict[tuple[str, int, Signature], tuple[object, int]] = OrderedDict()
_lock = threading.Lock()


def forget() -> None:
    """Drop every remembered anchor and count (tests start from nothing)."""
    with _lock:
        _cache.clear()
        _totals.clear()


def signature(tasks: QuerySet[Task]) -> tuple[str, str]:
    """What identifies a filtered list: its SQL and parameters (values, not code).

    Django writes no SQL for a list it knows matches nothing, such as `total_annotations
    = -1` (the column holds no negative number; on PostgreSQL none beyond 32 bits
    either): it raises EmptyResultSet, which running the query turns into no rows. All
    such lists are the same empty list."""
    try:
        sql, params = tasks.order_by().values("id").query.sql_with_params()
    except EmptyResultSet:
        return NOTHING
    return sql, repr(params)


def _highest(project_id: int) -> int | None:
    found = Task.objects.filter(project_id=project_id).order_by("-id").values_list("id")[:1]
    return next((row[0] for row in found), None)


def _from(
    tasks: QuerySet[Task], descending: bool, anchor: int | None, skip: int, count: int
) -> list[int]:
    """`count` ids of the list, after skipping `skip` from `anchor` (or from its start)."""
    if anchor is not None:
        tasks = tasks.filter(id__lte=anchor) if descending else tasks.filter(id__gte=anchor)
    ordered = tasks.order_by("-id" if descending else "id").values_list("id", flat=True)
    return list(ordered[skip : skip + count])


def _anchors(project: Project, descending: bool, filtered: Signature) -> _Anchors:
    key = (connection.alias, project.pk, descending, filtered)
    version: tuple[object, ...]
    if filtered is None:
        highest = _highest(project.pk)
        version = (project.created_at, project.task_number, highest)
    else:
        version = (project.created_at, project.tasks_version)
    with _lock:
        known = _cache.get(key)
        if known is None or known.version != version:
            known = _cache[key] = _Anchors(version)
        _cache.move_to_end(key)
        while len(_cache) > _KEPT:
            _cache.popitem(last=False)
    return known


def total(project: Project, tasks: QuerySet[Task], filtered: tuple[str, str]) -> int:
    """How many tasks a filtered list holds: counted once per `tasks_version`."""
    key = (connection.alias, project.pk, filtered)
    version = (project.created_at, project.tasks_version)
    with _lock:
        known = _totals.get(key)
    if known is not None and known[0] == version:
        return known[1]
    count = tasks.count()
    with _lock:
        _totals[key] = (version, count)
        _totals.move_to_end(key)
        while len(_totals) > _KEPT:
            _totals.popitem(last=False)
    return count


def page_ids(
    project: Project,
    tasks: QuerySet[Task],
    descending: bool,
    start: int,
    size: int,
    filtered: Signature = None,
) -> list[int] | None:
    """The ids of the page of `tasks` (the project's, filtered as `filtered` says) in id
    order that starts at position `start`, or None to use OFFSET."""
    if start < DEEP:
        return None
    known = _anchors(project, descending, filtered)
    slot = start // ANCHOR_EVERY
    with _lock:
        anchor = known.ids.get(slot)
        below = bisect.bisect_right(known.slots, slot) - 1
        base = known.slots[below] if below >= 0 else None
    if anchor is None:
        base_id = None if base is None else known.ids[base]
        walked = _from(
            tasks,
            descending,
            base_id,
            (slot - (base or 0)) * ANCHOR_EVERY,
            1,
        )
        if not walked:
            return []
        anchor = walked[0]
        with _lock:
            if slot not in known.ids:
                known.ids[slot] = anchor
                bisect.insort(known.slots, slot)
    return _from(tasks, descending, anchor, start - slot * ANCHOR_EVERY, size)

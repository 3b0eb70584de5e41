"""Deep pages of a project's task list in id order, without stepping over every row.

`LIMIT 100 OFFSET 500000` makes the database walk half a million index entries: about
40 ms at a million tasks on SQLite, and a script that reads every page of such a project
(the official client does) pays that on every one of ten thousand pages. Instead, each
process remembers, per project and direction, the ids it has found at positions that are
multiples of ANCHOR_EVERY. A page starts from the anchor at or before it (`id >= anchor`)
and skips fewer than ANCHOR_EVERY entries. A missing anchor is found by skipping from the
nearest known one below it, never more than OFFSET itself would skip, so reading pages in
order costs a short skip each, and any page read twice costs one.

Anchors describe one set of task ids. They are kept only while the project's task counter
and its highest task id stay what they were: ids only grow, so every insert moves the
highest id and every delete moves the counter, and either change forgets the anchors.
Only the unfiltered list ordered by id (either way) uses them.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from django.db import connection

from labelkeep.projects.models import Project
from labelkeep.tasks.models import Task

ANCHOR_EVERY = 1000
DEEP = 10_000  # below this offset, skipping on the index is already cheap
_KEPT = 64  # (project, direction) pairs kept per process


@dataclass
class _Anchors:
    version: tuple[int, int | None]  # (task counter, highest id)
    slots: list[int] = field(default_factory=list)  # sorted positions // ANCHOR_EVERY
    ids: dict[int, int] = field(default_factory=dict)  # slot -> id at that position


_cache: OrderedDict[tuple[str, int, bool], _Anchors] = OrderedDict()
_lock = threading.Lock()


def _highest(project_id: int) -> int | None:
    found = Task.objects.filter(project_id=project_id).order_by("-id").values_list("id")[:1]
    return next((row[0] for row in found), None)


def _from(
    project_id: int, descending: bool, anchor: int | None, skip: int, count: int
) -> list[int]:
    """`count` ids of the list, after skipping `skip` from `anchor` (or from its start)."""
    tasks = Task.objects.filter(project_id=project_id)
    if anchor is not None:
        tasks = tasks.filter(id__lte=anchor) if descending else tasks.filter(id__gte=anchor)
    ordered = tasks.order_by("-id" if descending else "id").values_list("id", flat=True)
    return list(ordered[skip : skip + count])


def _anchors(project: Project, descending: bool) -> _Anchors:
    key = (connection.alias, project.pk, descending)
    version = (project.task_number, _highest(project.pk))
    with _lock:
        known = _cache.get(key)
        if known is None or known.version != version:
            known = _cache[key] = _Anchors(version)
        _cache.move_to_end(key)
        while len(_cache) > _KEPT:
            _cache.popitem(last=False)
    return known


def page_ids(project: Project, descending: bool, start: int, size: int) -> list[int] | None:
    """The ids of the page that starts at position `start`, or None to use OFFSET."""
    if start < DEEP:
        return None
    known = _anchors(project, descending)
    slot = start // ANCHOR_EVERY
    with _lock:
        anchor = known.ids.get(slot)
        below = bisect.bisect_right(known.slots, slot) - 1
        base = known.slots[below] if below >= 0 else None
    if anchor is None:
        base_id = None if base is None else known.ids[base]
        walked = _from(
            project.pk,
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
    return _from(project.pk, descending, anchor, start - slot * ANCHOR_EVERY, size)

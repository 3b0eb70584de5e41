"""Deep pages of a project's task list in id order, without stepping over every row.

`LIMIT 100 OFFSET 500000` makes the database walk half a million index entries: about
40 ms at a million tasks on SQLite, and a script that reads every page of such a project
(the official client does) does that ten thousand times. Instead, each process keeps, per
project and direction, the id found at every ANCHOR_EVERY-th position of the ordered list,
read in one pass. Page p then starts from the nearest anchor before it (`id >= anchor`)
and skips fewer than ANCHOR_EVERY entries.

Anchors describe one set of task ids. They are used only while the project's task counter
and its highest task id are what they were when the anchors were read: ids only grow, so
every insert moves the highest id and every delete moves the counter, and the anchors are
read again after either. Only the unfiltered list ordered by id (either way) uses them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from django.db import connection

from labelkeep.projects.models import Project
from labelkeep.tasks.models import Task

ANCHOR_EVERY = 1000
DEEP = 10_000  # below this offset, skipping on the index is already cheap
_KEPT = 64  # (project, direction) pairs kept per process


@dataclass(frozen=True)
class Anchors:
    total: int
    highest: int | None
    ids: list[int]  # ids[k]: the id at position k * ANCHOR_EVERY


_cache: OrderedDict[tuple[str, int, bool], Anchors] = OrderedDict()
_lock = threading.Lock()


def _read(project_id: int, descending: bool) -> Anchors:
    """Every ANCHOR_EVERY-th id, the count and the highest id, in one statement (one
    snapshot). Identifiers come from the model and are quoted by the backend."""
    quote = connection.ops.quote_name
    table, pk = quote(Task._meta.db_table), quote(Task._meta.pk.column)
    project = quote(Task._meta.get_field("project").column)
    direction = "DESC" if descending else "ASC"
    sql = (
        f"SELECT id, total, highest FROM ("  # noqa: S608 (identifiers quoted, values bound)
        f"SELECT {pk} AS id, ROW_NUMBER() OVER (ORDER BY {pk} {direction}) AS position, "
        f"COUNT(*) OVER () AS total, MAX({pk}) OVER () AS highest "
        f"FROM {table} WHERE {project} = %s) numbered "
        f"WHERE (position - 1) %% %s = 0 ORDER BY position"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [project_id, ANCHOR_EVERY])
        rows = cursor.fetchall()
    if not rows:
        return Anchors(0, None, [])
    return Anchors(int(rows[0][1]), int(rows[0][2]), [int(row[0]) for row in rows])


def _highest(project_id: int) -> int | None:
    found = Task.objects.filter(project_id=project_id).order_by("-id").values_list("id")[:1]
    return next((row[0] for row in found), None)


def anchors_for(project: Project, descending: bool) -> Anchors | None:
    """Current anchors of the project's id-ordered task list; None when the project's
    counter disagrees with its rows (then plain OFFSET is used)."""
    key = (connection.alias, project.pk, descending)
    highest = _highest(project.pk)
    with _lock:
        known = _cache.get(key)
        if known is not None:
            _cache.move_to_end(key)
    if known is not None and known.total == project.task_number and known.highest == highest:
        return known
    fresh = _read(project.pk, descending)
    if fresh.total != project.task_number:
        return None
    with _lock:
        _cache[key] = fresh
        _cache.move_to_end(key)
        while len(_cache) > _KEPT:
            _cache.popitem(last=False)
    return fresh


def page_ids(project: Project, descending: bool, start: int, size: int) -> list[int] | None:
    """The ids of the page that starts at position `start`, or None to use OFFSET."""
    if start < DEEP:
        return None
    anchors = anchors_for(project, descending)
    if anchors is None:
        return None
    slot = start // ANCHOR_EVERY
    if slot >= len(anchors.ids):
        return []
    skip = start - slot * ANCHOR_EVERY
    tasks = Task.objects.filter(project_id=project.pk)
    if descending:
        tasks = tasks.filter(id__lte=anchors.ids[slot]).order_by("-id")
    else:
        tasks = tasks.filter(id__gte=anchors.ids[slot]).order_by("id")
    return list(tasks.values_list("id", flat=True)[skip : skip + size])

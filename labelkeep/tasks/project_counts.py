"""Counting a project's finished tasks, skips and ground truths (`projects.counts`).

Each count is one index range: finished tasks on (project, is_labeled, id), skipped and
ground-truth annotations on partial indexes that hold only those rows, and a person's own
annotations on (project, completed_by, task). A project's counts are taken in one
statement together with its `tasks_version`, so they describe that version exactly, and
each process remembers them until the version moves: every change to a project's tasks
or annotations moves it (tasks/counters.py), and a page of projects that nobody is
working in costs no counting at all.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Count, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from labelkeep.accounts.models import User
from labelkeep.projects.counts import STORED, Counts
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Task

_KEPT = 1024  # (project, person) entries kept per process
_Key = tuple[str, int, int | None]  # (database alias, project id, user id or None)
_cache: OrderedDict[_Key, tuple[tuple[object, ...], Counts]] = OrderedDict()
_lock = threading.Lock()


def _number(rows: QuerySet[Any], distinct: str | None = None) -> Coalesce:
    """How many `rows` (or distinct values of `distinct` among them): a subquery."""
    counted = Count(distinct, distinct=True) if distinct else Count("pk")
    one = rows.order_by().values("project").annotate(n=counted).values("n")
    return Coalesce(Subquery(one), Value(0))


def _counted() -> dict[str, Any]:
    mine = Annotation.objects.filter(project=OuterRef("pk"))
    return {
        "finished": _number(Task.objects.filter(project=OuterRef("pk"), is_labeled=True)),
        "skipped": _number(mine.filter(was_cancelled=True)),
        "ground_truth": _number(mine.filter(ground_truth=True)),
        "kept_ground_truth": _number(mine.filter(ground_truth=True, was_cancelled=False)),
    }


def _personal(user: User) -> dict[str, Any]:
    theirs = Annotation.objects.filter(project=OuterRef("pk"), completed_by=user)
    return {
        "done": _number(theirs, "task"),
        # The task's project named too: without it PostgreSQL may join the user's
        # annotations to every unfinished task of every project.
        "done_open": _number(
            theirs.filter(task__project=OuterRef("pk"), task__is_labeled=False), "task"
        ),
    }


class TaskCounts:
    """The tasks app's `projects.counts.CountReader`."""

    def counts(self, projects: Sequence[Project], user: User | None) -> dict[int, Counts]:
        found: dict[int, Counts] = {}
        stale: list[int] = []
        with _lock:
            for project in projects:
                known = _cache.get(_key(project.pk, user))
                if known is not None and known[0] == _version(project):
                    found[project.pk] = known[1]
                    _cache.move_to_end(_key(project.pk, user))
                else:
                    stale.append(project.pk)
        if not stale:
            return found
        rows = Project.objects.filter(pk__in=stale).annotate(
            **_counted(), **(_personal(user) if user is not None else {})
        )
        for row in rows.values(
            "pk", "created_at", "tasks_version", *STORED,
            *_counted(), *(("done", "done_open") if user is not None else ()),
        ).order_by():  # fmt: skip
            counts = {
                # The stored counters as of the same moment as the counted ones.
                **{name: row[name] for name in STORED},
                "finished_task_number": row["finished"],
                "skipped_annotations_number": row["skipped"],
                "ground_truth_number": row["ground_truth"],
                # Label Studio's "useful": finished, not skipped, not ground truth.
                "useful_annotation_number": row["total_annotations_number"]
                - row["kept_ground_truth"],
            }
            if user is not None:
                # The tasks they worked on, and those still open to them: unfinished
                # tasks they have not annotated or skipped.
                open_tasks = row["task_number"] - row["finished"]
                counts["queue_done"] = row["done"]
                counts["queue_total"] = open_tasks - row["done_open"] + row["done"]
            found[row["pk"]] = counts
            with _lock:
                key = _key(row["pk"], user)
                _cache[key] = ((row["created_at"], row["tasks_version"]), counts)
                _cache.move_to_end(key)
                while len(_cache) > _KEPT:
                    _cache.popitem(last=False)
        return found


def _key(project_id: int, user: User | None) -> _Key:
    return (connection.alias, project_id, user.pk if user is not None else None)


def _version(project: Project) -> tuple[object, ...]:
    # created_at too: in tests, a project's id may come back after a rollback.
    return (project.created_at, project.tasks_version)


def forget() -> None:
    """Drop every remembered count (tests that rewrite rows behind the services' back)."""
    with _lock:
        _cache.clear()


READER = TaskCounts()

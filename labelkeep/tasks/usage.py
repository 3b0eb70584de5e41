"""What a project's annotations and tasks hold, read for checking a config change."""

from __future__ import annotations

from collections.abc import Iterator
from functools import reduce
from operator import or_

from django.db.models import Q, TextField
from django.db.models.functions import Cast

from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Task

CHUNK = 1000  # results held in memory at once


class TaskWork:
    """The tasks app's `projects.usage.WorkReader`.

    Only annotations count as work in use: predictions are a model's output and can be
    made again; drafts are unfinished work, checked when they become annotations (Label
    Studio checks drafts too)."""

    def results(self, project: Project, needles: frozenset[str] | None) -> Iterator[object]:
        rows = Annotation.objects.filter(project=project).order_by()
        if needles is not None:
            # A LIKE on the JSON text runs in the database, so only results that mention
            # a removed name are decoded here.
            found = reduce(or_, (Q(result_text__contains=n) for n in sorted(needles)), Q())
            rows = rows.annotate(result_text=Cast("result", TextField())).filter(found)
        return rows.values_list("result", flat=True).iterator(chunk_size=CHUNK)

    def task_data(self, project: Project, size: int) -> list[tuple[int, object]]:
        tasks = Task.objects.filter(project=project).values_list("id", "data")
        oldest = list(tasks.order_by("id")[:size])
        newest = list(tasks.order_by("-id")[:size])
        return sorted(dict(oldest + newest).items())


READER = TaskWork()

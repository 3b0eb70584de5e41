"""A project's uploaded files as records: listed and deleted (Label Studio's `file-uploads`).

Deleting never breaks a task or an import. A media file that a task's data still names
(`/data/upload/<project>/<name>`, alone or in a full URL, percent-encoded or not, in any
project of the organization) is kept and the deletion refused, naming it; so is any file
of an import that has not finished. Files that only carried tasks (a JSON or CSV file
whose rows were imported) go freely.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote

from django.db import transaction
from django.db.models import Max, Min, Q, QuerySet, TextField
from django.db.models.functions import Cast

from labelkeep.accounts.models import User
from labelkeep.audit.services import LISTED_IDS, Origin, record
from labelkeep.dataio import uploads
from labelkeep.dataio.models import FileUpload, ProjectImport, RunStatus
from labelkeep.projects.models import Project
from labelkeep.tasks import counters
from labelkeep.tasks.models import Task
from labelkeep.tasks.serializers import timestamp

SCAN_CHUNK = 5000  # tasks read per statement
DELETE_CHUNK = 1000  # uploads looked up or deleted per statement
_NAMED = re.compile(r"/data/upload/(\d+/[0-9a-f]{32}\.[a-z0-9]{1,8})")


Row = tuple[int, str]  # an upload's id and original name


class InUse(Exception):
    """Uploads that cannot go; the message names them."""


COLUMNS = (
    "id",
    "path",
    "original_name",
    "content_type",
    "size",
    "project_id",
    "created_by_id",
    "created_at",
)


def upload_json(row: dict[str, Any]) -> dict[str, Any]:
    """An upload's record (a row of COLUMNS) as the API answers it."""
    return {
        "id": row["id"],
        "file": uploads.URL_PREFIX + row["path"],
        "original_name": row["original_name"],
        "content_type": row["content_type"],
        "size": row["size"],
        "project": row["project_id"],
        "created_by": row["created_by_id"],
        "created_at": timestamp(row["created_at"]),
    }


def _task_texts(project: Project) -> Iterator[list[str]]:
    """The data of one project's tasks that may name an upload (mentioning it, or holding
    a percent-encoding), as stored text, read by id ranges of SCAN_CHUNK (never the whole
    project at once)."""
    bounds = Task.objects.filter(project=project).aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return
    texts = (
        Task.objects.filter(project=project)
        .annotate(text=Cast("data", TextField()))
        .filter(Q(text__contains=uploads.URL_PREFIX) | Q(text__contains="%"))
    )
    for start in range(bounds["low"], bounds["high"] + 1, SCAN_CHUNK):
        chunk = texts.filter(id__gte=start, id__lt=start + SCAN_CHUNK)
        yield list(chunk.values_list("text", flat=True))


def _named(text: str) -> set[str]:
    """The upload paths a task's data names, as written or percent-encoded (the server
    decodes a path before it routes it, so `%2F` and `%61` name the file too)."""
    found = set(_NAMED.findall(text))
    if "%" in text:
        found.update(_NAMED.findall(unquote(text)))
    return found


def _named_by_tasks(project: Project) -> Iterator[list[str]]:
    """The upload paths named by the tasks of the project's organization, a chunk of tasks
    at a time: a task copied to another project (exported, then imported) still shows the
    file to whoever sees both."""
    siblings = Project.objects.filter(organization_id=project.organization_id).order_by("pk")
    for sibling in siblings.only("pk"):
        for texts in _task_texts(sibling):
            found = {path for text in texts for path in _named(text)}
            if found:
                yield sorted(found)


def _among(chosen: QuerySet[FileUpload], field: str, values: Iterable[Any]) -> Iterator[Row]:
    """The (id, original name) of the `chosen` uploads whose `field` is among `values`, asked a
    slice of values at a time (a statement binds at most 65,535 parameters)."""
    ordered = list(values)
    for start in range(0, len(ordered), DELETE_CHUNK):
        part = ordered[start : start + DELETE_CHUNK]
        found = chosen.filter(**{f"{field}__in": part}).order_by("id")
        yield from found.values_list("id", "original_name")


def _refuse_if_kept(project: Project, doomed: QuerySet[FileUpload]) -> None:
    busy = _among(doomed, "pk", sorted(_held_by_imports(project)))
    if named := _names(busy):
        raise InUse(f"An import that has not finished uses {named}.")
    used = (row for paths in _named_by_tasks(project) for row in _among(doomed, "path", paths))
    if named := _names(used):
        raise InUse(f"Tasks still show {named}; delete those tasks first.")


def _held_by_imports(project: Project) -> set[int]:
    """The uploads of the project's imports that have not finished."""
    held: set[int] = set()
    running = ProjectImport.objects.filter(
        project=project, status__in=(RunStatus.CREATED, RunStatus.IN_PROGRESS)
    ).select_related("job")
    for found in running:
        held.update(found.file_upload_ids)
        if found.job is not None:
            held.update(found.job.payload.get("uploads", ()))
    return held


def delete_uploads(
    project: Project, chosen: QuerySet[FileUpload], *, actor: User, origin: Origin
) -> int:
    """Delete the chosen uploads of `project`, all or none: InUse when a task still
    names one or an unfinished import holds one. 0 when none of them is there (any more)."""
    with transaction.atomic():
        _unlink_tasks(project, chosen.filter(project=project))
        # Task writes update the project's row first: a write naming an upload either
        # commits before the tasks are read below or waits until this deletion is done.
        # A second deletion of the same uploads waits too, then finds them gone.
        list(Project.objects.select_for_update().filter(pk=project.pk).values_list("pk"))
        doomed = chosen.filter(project=project)
        if not doomed.exists():
            return 0
        _refuse_if_kept(project, doomed)
        count, last, listed = 0, 0, list[int]()
        while True:  # a slice at a time: memory and each statement stay small
            after = doomed.filter(pk__gt=last).order_by("pk")
            ids = list(after.values_list("pk", flat=True)[:DELETE_CHUNK])
            if not ids:
                break
            FileUpload.objects.filter(pk__in=ids).delete()  # files go once this commits
            count, last = count + len(ids), ids[-1]
            listed.extend(ids[: LISTED_IDS - len(listed)])
        # Their tasks lost their `file_upload`: what the task list remembers of filters
        # on it (counts, deep pages) is out of date.
        counters.touch(project.pk)
        record(
            "uploads.delete",
            actor=actor,
            origin=origin,
            organization_id=project.organization_id,
            target=project,
            count=count,
            ids=listed,
        )
    return count


def _unlink_tasks(project: Project, doomed: QuerySet[FileUpload]) -> None:
    """The tasks read from these uploads forget them (undone if the deletion is refused).

    Before the project's row is locked, and SCAN_CHUNK tasks at a time in id order: every
    writer of a task locks it before its project, and writers of many lock them in id
    order; locked the other way round, an annotation saved meanwhile would wait on this
    deletion while it waits on the annotation (PostgreSQL aborts one of the two)."""
    linked = Task.objects.filter(project=project, file_upload__in=doomed.values("pk"))
    after = 0
    while True:
        ids = list(
            linked.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:SCAN_CHUNK]
        )
        if not ids:
            return
        list(Task.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
        Task.objects.filter(pk__in=ids).update(file_upload=None)
        after = ids[-1]


def _names(found: Iterable[Row]) -> str:
    """The first ten uploads named, and how many more there are ("" for none)."""
    shown, more, seen = list[str](), 0, set[int]()
    for pk, name in found:
        if pk in seen:  # named by tasks of more than one chunk
            continue
        seen.add(pk)
        if len(shown) < 10:
            shown.append(f"{name} (upload {pk})")
        else:
            more += 1
    return ", ".join(shown) + (f" and {more} more" if more else "")


def uploads_of(project: Project, ids: Iterable[int] | None) -> QuerySet[FileUpload]:
    """The project's uploads, or those of them among `ids`."""
    found = FileUpload.objects.filter(project=project)
    return found if ids is None else found.filter(pk__in=list(ids))

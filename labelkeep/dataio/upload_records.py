"""A project's uploaded files as records: listed and deleted (Label Studio's `file-uploads`).

Deleting never breaks a task or an import. A media file that a task's data still names
(`/data/upload/<project>/<name>`, alone or in a full URL) is kept and the deletion
refused, naming it; so is any file of an import that has not finished. Files that only
carried tasks (a JSON or CSV file whose rows were imported) go freely.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Max, Min, QuerySet, TextField
from django.db.models.functions import Cast

from labelkeep.accounts.models import User
from labelkeep.audit.services import LISTED_IDS, Origin, record
from labelkeep.dataio import uploads
from labelkeep.dataio.models import FileUpload, ProjectImport, RunStatus
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Task
from labelkeep.tasks.serializers import timestamp

SCAN_CHUNK = 5000
_NAMED = re.compile(r"/data/upload/(\d+/[0-9a-f]{32}\.[a-z0-9]{1,8})")


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


def _task_texts(project: Project) -> Iterator[str]:
    """The data of the project's tasks that mention an upload, as stored text, read by
    id ranges of SCAN_CHUNK (never the whole project at once)."""
    bounds = Task.objects.filter(project=project).aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return
    texts = (
        Task.objects.filter(project=project)
        .annotate(text=Cast("data", TextField()))
        .filter(text__contains=uploads.URL_PREFIX)
    )
    for start in range(bounds["low"], bounds["high"] + 1, SCAN_CHUNK):
        chunk = texts.filter(id__gte=start, id__lt=start + SCAN_CHUNK)
        yield from chunk.values_list("text", flat=True)


def _named_by_tasks(project: Project) -> set[str]:
    return {path for text in _task_texts(project) for path in _NAMED.findall(text)}


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
    names one or an unfinished import holds one."""
    with transaction.atomic():
        doomed = list(chosen.filter(project=project).order_by("id"))
        if not doomed:
            return 0
        held = _held_by_imports(project)
        busy = [u for u in doomed if u.pk in held]
        if busy:
            raise InUse(f"An import that has not finished uses {_names(busy)}.")
        named = _named_by_tasks(project)
        used = [u for u in doomed if u.path in named]
        if used:
            raise InUse(f"Tasks still show {_names(used)}; delete those tasks first.")
        ids = [u.pk for u in doomed]
        FileUpload.objects.filter(pk__in=ids).delete()  # files go once this commits
        record(
            "uploads.delete",
            actor=actor,
            origin=origin,
            organization_id=project.organization_id,
            target=project,
            count=len(ids),
            ids=ids[:LISTED_IDS],
        )
    return len(ids)


def _names(found: Sequence[FileUpload]) -> str:
    shown = ", ".join(f"{u.original_name} (upload {u.pk})" for u in found[:10])
    more = f" and {len(found) - 10} more" if len(found) > 10 else ""
    return shown + more


def uploads_of(project: Project, ids: Iterable[int] | None) -> QuerySet[FileUpload]:
    """The project's uploads, or those of them among `ids`."""
    found = FileUpload.objects.filter(project=project)
    return found if ids is None else found.filter(pk__in=list(ids))

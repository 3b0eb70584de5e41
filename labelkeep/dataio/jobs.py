"""The import job: runs imports too large for one request, and every import from a URL.

It checks every task again (the labeling config may have changed while the import waited),
then writes CHUNK tasks per transaction and reports progress after each. If anything
fails, it deletes the tasks it wrote and the import's files, and records why in words
fit for the user: a failed import leaves nothing behind. Each chunk's transaction also
records the ids it wrote, as runs, on the import: if the worker dies mid-import, the
jobs' recovery (`recover_stale`) calls `abandoned`, which deletes them the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labelkeep.accounts.models import User
from labelkeep.audit.services import Origin
from labelkeep.dataio import formats, services, uploads
from labelkeep.dataio.formats import FormatError
from labelkeep.dataio.models import FileUpload, ProjectImport, RunStatus
from labelkeep.dataio.prepare import Refused
from labelkeep.jobs.models import Job
from labelkeep.jobs.registry import register_job
from labelkeep.jobs.services import JobContext, JobFailed, JobGone, JobTimedOut
from labelkeep.projects.models import Project
from labelkeep.projects.services import StoredConfigError
from labelkeep.security import http
from labelkeep.tasks.services import delete_tasks, write_task_rows

logger = logging.getLogger(__name__)

CHUNK = 10_000  # tasks per transaction: progress shows after each


class ImportFailed(JobFailed):
    """A queued import failed; the message is the one its record shows the user."""


@dataclass
class _Run:
    """A queued import being run: what it has made so far, to undo on failure."""

    ctx: JobContext
    done: ProjectImport
    actor: User
    origin: Origin
    stored: list[FileUpload] = field(default_factory=list)
    created: list[int] = field(default_factory=list)

    @property
    def project(self) -> Project:
        return self.done.project


def abandoned(job: Job) -> None:
    """The worker died while running this import: delete what its committed chunks wrote
    and its files, and record it failed (called by the jobs' recovery, in a transaction)."""
    done = ProjectImport.objects.select_related("project", "created_by").filter(
        pk=job.payload.get("import")
    )
    record = done.first()
    if job.payload.get("url"):
        _forget_signature(job, job.payload)
    if record is None or record.status in (RunStatus.COMPLETED, RunStatus.FAILED):
        return
    origin = _origin(job.payload)
    if record.written:
        ids = chain.from_iterable(range(first, last + 1) for first, last in record.written)
        delete_tasks(record.project, ids, actor=record.created_by, origin=origin)
    given = {*job.payload.get("uploads", ()), *record.file_upload_ids}
    uploads.delete(FileUpload.objects.filter(project=record.project, pk__in=sorted(given)))
    _fail(record, "The worker running the import stopped before it finished; nothing was imported.")
    services.audit_import(record, record.created_by, origin)


@register_job(services.JOB_KIND, timeout=3600, abandoned=abandoned)
def run_import(ctx: JobContext) -> dict[str, Any]:
    """Fetch (for a URL), check and write one queued import; on failure, undo it."""
    started = time.monotonic()
    payload = ctx.payload
    done = ProjectImport.objects.select_related("project", "created_by").get(pk=payload["import"])
    if done.created_by is None:
        _fail(done, "The person who started the import no longer exists.")
        raise ImportFailed(done.error)
    run = _Run(ctx, done, done.created_by, _origin(payload))
    _update(done, status=RunStatus.IN_PROGRESS)
    given_uploads = FileUpload.objects.filter(project=run.project, pk__in=payload["uploads"])
    run.stored = list(given_uploads.order_by("pk"))
    try:
        _run(run, payload, started)
    except JobGone:
        # Recovery failed the import and ran its clean-up (`abandoned`) meanwhile; what this
        # run wrote since (a chunk at most) goes too, and the recorded outcome stays.
        _undo(run)
        raise
    except Exception as error:
        message = _message(error, done)
        _undo(run)
        _fail(done, message)
        services.audit_import(done, run.actor, run.origin)
        raise ImportFailed(message) from error
    finally:
        if payload.get("staged"):
            uploads.delete(run.stored)
        if payload.get("url"):
            _forget_signature(ctx.job, payload)
    return {"import": done.pk, "task_count": done.task_count}


def _forget_signature(job: Job, payload: dict[str, Any]) -> None:
    """The download is over: the job's record keeps the URL as the import's does, without
    the query string (a pre-signed URL's signature, a token)."""
    shown = {**payload, "url": services.display_url(payload["url"])}
    Job.objects.filter(pk=job.pk).update(payload=shown)


def _origin(payload: dict[str, Any]) -> Origin:
    given = payload.get("origin") or {}
    return Origin(given.get("ip_address"), given.get("user_agent", ""))


def _run(run: _Run, payload: dict[str, Any], started: float) -> None:
    done = run.done
    if payload.get("url"):
        fetched = _fetch(run, payload["url"])
        run.stored.append(fetched)
        done.file_upload_ids = [upload.pk for upload in run.stored]
        with transaction.atomic():
            # Recorded now: a worker that dies from here on leaves a file to delete. Under
            # the project's lock, which deleting uploads takes (upload_records): such a
            # deletion either sees the file held by this import, or took it first.
            Project.objects.select_for_update().filter(pk=run.project.pk).first()
            if not FileUpload.objects.filter(pk=fetched.pk).exists():
                raise FormatError(
                    "The downloaded file was deleted before it could be read; import it again."
                )
            _update(done, file_upload_ids=done.file_upload_ids)
    read = services.read_uploads(run.project, run.stored, link=not payload.get("staged"))
    run.ctx.progress(0, read.count, f"checking {read.count} tasks")
    options = services.Options(
        preannotated_from_fields=tuple(payload.get("preannotated_from_fields", ()))
    )
    prepared = services.checker_for(run.project, options, run.actor).prepare(read.sources)
    commit = bool(payload.get("commit", True))
    total = len(prepared.tasks) if commit else 0
    for start in range(0, total, CHUNK):
        part = prepared.part(start, start + CHUNK)
        with transaction.atomic():
            written = write_task_rows(run.project, part, actor=run.actor, origin=run.origin)
            done.written = add_runs(done.written, written.task_ids)
            _update(done, written=done.written)
        run.created.extend(written.task_ids)
        run.ctx.progress(len(run.created), total, f"imported {len(run.created)} of {total} tasks")
    with transaction.atomic():
        done.status = RunStatus.COMPLETED
        if not payload.get("staged"):  # a staged body's record says what the request did
            done.found_formats = dict(read.formats)
            done.could_be_tasks_list = read.could_be_tasks_list
        done.data_columns = sorted(prepared.data_columns)
        done.task_count = total
        # Without commit_to_project nothing was created: the record says so, as in the request.
        done.annotation_count = prepared.annotation_count if commit else 0
        done.prediction_count = prepared.prediction_count if commit else 0
        done.task_ids = run.created
        done.duration = time.monotonic() - started
        done.finished_at = timezone.now()
        done.save()
        services.audit_import(done, run.actor, run.origin, commit=commit)


def _update(done: ProjectImport, **values: Any) -> None:
    """Write some fields of the record, and when it changed (`update` skips auto_now)."""
    ProjectImport.objects.filter(pk=done.pk).update(updated_at=timezone.now(), **values)


def _fetch(run: _Run, url: str) -> FileUpload:
    limit, timeout = int(settings.IMPORT_MAX_FILE_SIZE), float(settings.IMPORT_URL_TIMEOUT)
    with http.open_stream(url, max_bytes=limit, timeout=timeout) as stream:
        path = urlsplit(stream.final_url).path
        ext = url_format(path, stream.headers.get("content-type", ""), stream.final_url)
        name = unquote(path.rsplit("/", 1)[-1]) or "download"
        return uploads.store(
            run.project,
            name,
            ext,
            stream.iter_bytes(),
            actor=run.actor,
            content_type=stream.headers.get("content-type", ""),
        )


def url_format(path: str, content_type: str, url: str) -> str:
    ext = formats.extension(path)
    if ext in formats.ACCEPTED:
        return ext
    by_type = formats.CONTENT_TYPES.get(content_type.split(";", 1)[0].strip().lower())
    if by_type:
        return by_type
    host = urlsplit(url).hostname or "the server"
    raise FormatError(
        f"Could not tell what kind of file {host} sent: give a URL whose name ends in "
        ".json, .jsonl, .csv, .tsv or .txt, or a media file."
    )


def _message(error: Exception, done: ProjectImport) -> str:
    if isinstance(error, Refused):
        return "; ".join(error.messages)
    if isinstance(error, StoredConfigError):
        return " ".join(error.messages)
    if isinstance(error, FormatError | http.FetchError):
        return str(error)  # guarded-client messages never quote the upstream body
    if isinstance(error, JobTimedOut):
        return "The import took longer than its time limit; nothing was imported."
    logger.exception("import %s failed", done.pk)
    return "The import failed because of an internal error; nothing was imported."


def add_runs(runs: list[list[int]], ids: Iterable[int]) -> list[list[int]]:
    """`runs` ([first, last] of consecutive ids) with `ids` added; ids in ascending order
    (as inserts return them) extend the last run, so one chunk is usually one run."""
    runs = [list(run) for run in runs]
    for pk in ids:
        if runs and pk == runs[-1][1] + 1:
            runs[-1][1] = pk
        else:
            runs.append([pk, pk])
    return runs


def _undo(run: _Run) -> None:
    """Delete what a failed import wrote, and the files it was given or fetched."""
    try:
        if run.created:
            delete_tasks(run.project, run.created, actor=run.actor, origin=run.origin)
        uploads.delete(run.stored)
    except Exception:
        logger.exception("could not undo the failed import %s", run.done.pk)
        raise


def _fail(done: ProjectImport, message: str) -> None:
    done.status = RunStatus.FAILED
    done.error = message
    done.task_ids, done.task_count, done.file_upload_ids = [], 0, []  # all deleted
    done.written = []
    done.annotation_count = done.prediction_count = 0
    done.finished_at = timezone.now()
    done.save()

"""Importing tasks into a project: from a request body, uploaded files or a URL.

Everything is read and checked before anything is written. Imports up to
IMPORT_SYNC_MAX_TASKS tasks are written in the request, in one transaction. Larger ones,
and every import from a URL, are queued as a `dataio.import` job (labelkeep/dataio/jobs.py)
that commits chunk by chunk, so its progress shows, and undoes everything if it fails.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from labelkeep.accounts.models import User
from labelkeep.audit.services import Origin, record
from labelkeep.dataio import formats, uploads
from labelkeep.dataio.formats import FormatError, Parsed
from labelkeep.dataio.models import FileUpload, ProjectImport, RunStatus
from labelkeep.dataio.prepare import Checker, Prepared, Refused
from labelkeep.jobs.services import enqueue
from labelkeep.projects.models import Project
from labelkeep.projects.services import stored_config
from labelkeep.security import http
from labelkeep.tasks.services import write_task_rows

JOB_KIND = "dataio.import"  # run by labelkeep/dataio/jobs.py


@dataclass(frozen=True)
class Options:
    """The import's query parameters."""

    commit: bool = True
    return_task_ids: bool = False
    preannotated_from_fields: tuple[str, ...] = ()

    def recorded(self) -> dict[str, Any]:
        """The options as the import's record keeps them."""
        return {
            "commit_to_project": self.commit,
            "return_task_ids": self.return_task_ids,
            "preannotated_from_fields": list(self.preannotated_from_fields),
        }


@dataclass
class Report:
    """What an import did (or, queued, will do): the response body's fields."""

    task_ids: list[int] = field(default_factory=list)
    task_count: int = 0
    annotation_count: int = 0
    prediction_count: int = 0
    duration: float = 0.0
    file_upload_ids: list[int] = field(default_factory=list)
    could_be_tasks_list: bool = False
    found_formats: dict[str, int] = field(default_factory=dict)
    data_columns: list[str] = field(default_factory=list)
    queued: ProjectImport | None = None


@dataclass
class _Read:
    """Sources read from stored files, with what the response says about them."""

    sources: list[Parsed] = field(default_factory=list)
    formats: Counter[str] = field(default_factory=Counter)
    could_be_tasks_list: bool = False

    @property
    def count(self) -> int:
        return sum(len(source.items) for source in self.sources)


# --- Limits ---------------------------------------------------------------------------


def check_count(count: int) -> None:
    limit = int(settings.IMPORT_MAX_TASKS)
    if count > limit:
        # Files are read only this far (read_uploads): `count` may be short of the total.
        raise Refused(
            [f"The import holds more than IMPORT_MAX_TASKS ({limit}) tasks; split it up."]
        )


def check_extension(name: str) -> str:
    ext = formats.extension(name)
    if ext not in formats.ACCEPTED:
        known = " ".join(sorted(formats.ACCEPTED))
        shown = uploads.display_name(name)
        raise Refused([f"{shown}: this type of file is not accepted ({known})."])
    return ext


# --- Reading stored files ---------------------------------------------------------------


def _single_key(project: Project) -> str:
    keys = stored_config(project).data_keys
    if len(keys) > 1:
        listed = ", ".join(f"${k}" for k in keys)
        raise FormatError(
            f"A text file fills one data key, but the labeling config reads {listed}: "
            "import JSON or CSV instead."
        )
    return keys[0] if keys else "text"


def _media_key(project: Project, kind: str) -> str:
    config = stored_config(project)
    tags = formats.KIND_TAGS.get(kind, frozenset())
    for key, tag in config.data_types.items():
        if tag.lower() in tags:
            return key
    return config.data_keys[0] if config.data_keys else kind


def read_uploads(project: Project, stored: Sequence[FileUpload], *, link: bool = True) -> _Read:
    """Tasks from task files; one task per media file, referring to its served URL.
    With `link`, each task names the file it came from (not for a request body the
    server staged as a file). Refused past IMPORT_MAX_TASKS, as soon as reading gets there."""
    read, limit = _Read(), int(settings.IMPORT_MAX_TASKS)
    for upload in stored:
        ext = formats.extension(upload.path)
        read.formats[ext] += 1
        if ext in formats.TASK_FORMATS:
            read.could_be_tasks_list |= ext in formats.LIST_FORMATS
            source = formats.read_tasks(
                upload.original_name,
                uploads.read(upload),
                ext,
                lambda: _single_key(project),
                most=limit - read.count,
            )
        else:
            key = _media_key(project, formats.MEDIA_KINDS[ext])
            item = {key: uploads.url_of(upload)}
            source = Parsed(upload.original_name, ext, [item], only_data=True)
        if link:
            source.upload_id = upload.pk
        read.sources.append(source)
        check_count(read.count)
    return read


# --- Synchronous imports, or queueing ---------------------------------------------------


def import_items(
    project: Project, items: list[Any], options: Options, *, actor: User, origin: Origin
) -> Report:
    """Tasks given in the request body (a JSON array, or one object)."""
    started = time.monotonic()
    check_count(len(items))
    prepared = checker_for(project, options, actor).prepare([Parsed("request body", "", items)])
    if options.commit and len(items) > int(settings.IMPORT_SYNC_MAX_TASKS):
        return Report(queued=_stage(project, items, options, actor=actor, origin=origin))
    report = Report(found_formats={})
    return _commit(project, prepared, report, options, actor=actor, origin=origin, start=started)


def _stage(
    project: Project, items: list[Any], options: Options, *, actor: User, origin: Origin
) -> ProjectImport:
    """Queue a large body, stored as a file for the worker (and removed if queueing fails)."""
    staged: list[FileUpload] = []
    with _removed_on_failure(staged), transaction.atomic():
        body = [json.dumps(items).encode()]
        staged.append(uploads.store(project, "request-body.json", ".json", body, actor=actor))
        return _queue(project, staged, options, actor=actor, origin=origin, staged=True)


@contextmanager
def _removed_on_failure(stored: list[FileUpload]) -> Iterator[None]:
    """The files of `stored` (filled inside the block) are removed if the block fails:
    the transaction inside it rolled their rows back."""
    try:
        yield
    except BaseException:
        uploads.delete(FileUpload(path=s.path) for s in stored)
        raise


def import_files(
    project: Project,
    files: Sequence[UploadedFile],
    options: Options,
    *,
    actor: User,
    origin: Origin,
) -> Report:
    """Tasks in uploaded files (stored, and kept with the project)."""
    started = time.monotonic()
    names = [(f, check_extension(f.name or "")) for f in files]
    stored: list[FileUpload] = []
    with _removed_on_failure(stored), transaction.atomic():
        for given, ext in names:
            stored.append(
                uploads.store(
                    project,
                    given.name or "",
                    ext,
                    given.chunks(),
                    actor=actor,
                    content_type=given.content_type or "",
                )
            )
        read = read_uploads(project, stored)
        prepared = checker_for(project, options, actor).prepare(read.sources)
        if options.commit and read.count > int(settings.IMPORT_SYNC_MAX_TASKS):
            lists = read.could_be_tasks_list
            queued = _queue(project, stored, options, actor=actor, origin=origin, lists=lists)
            return Report(queued=queued)
        report = _report_of(read, stored)
        return _commit(
            project, prepared, report, options, actor=actor, origin=origin, start=started
        )


def import_url(
    project: Project, url: str, options: Options, *, actor: User, origin: Origin
) -> Report:
    """A file at a URL, fetched by a job through the guarded client (checked here first)."""
    if url.lstrip()[:1] in ("[", "{"):  # Label Studio's form field may hold tasks as JSON
        try:
            loaded = formats.loads(url)
        except ValueError:
            raise Refused(["url holds neither a URL nor valid JSON tasks."]) from None
        items = loaded if isinstance(loaded, list) else [loaded]
        return import_items(project, items, options, actor=actor, origin=origin)
    try:
        http.check_url(url)
    except http.FetchError as error:  # BlockedURL included; messages never quote upstream
        raise Refused([str(error)]) from None
    with transaction.atomic():
        queued = _queue(project, [], options, actor=actor, origin=origin, url=url)
    return Report(queued=queued)


def checker_for(project: Project, options: Options, actor: User) -> Checker:
    return Checker(project, actor=actor, preannotated_from_fields=options.preannotated_from_fields)


def _report_of(read: _Read, stored: Sequence[FileUpload]) -> Report:
    return Report(
        file_upload_ids=[upload.pk for upload in stored],
        could_be_tasks_list=read.could_be_tasks_list,
        found_formats=dict(read.formats),
    )


def _commit(
    project: Project,
    prepared: Prepared,
    report: Report,
    options: Options,
    *,
    actor: User,
    origin: Origin,
    start: float,
) -> Report:
    report.data_columns = sorted(prepared.data_columns)
    report.task_count = len(prepared.tasks)
    report.annotation_count = prepared.annotation_count
    report.prediction_count = prepared.prediction_count
    with transaction.atomic():
        if options.commit:
            report.task_ids = write_task_rows(
                project, prepared, actor=actor, origin=origin
            ).task_ids
        report.duration = time.monotonic() - start
        done = ProjectImport.objects.create(
            project=project,
            created_by=actor,
            status=RunStatus.COMPLETED,
            file_upload_ids=report.file_upload_ids,
            found_formats=report.found_formats,
            data_columns=report.data_columns,
            task_count=len(report.task_ids),
            annotation_count=report.annotation_count if options.commit else 0,
            prediction_count=report.prediction_count if options.commit else 0,
            task_ids=report.task_ids,
            could_be_tasks_list=report.could_be_tasks_list,
            duration=report.duration,
            finished_at=timezone.now(),
            **options.recorded(),
        )
        audit_import(done, actor, origin, commit=options.commit)
    return report


def _queue(
    project: Project,
    stored: Sequence[FileUpload],
    options: Options,
    *,
    actor: User,
    origin: Origin,
    url: str = "",
    staged: bool = False,
    lists: bool = False,
) -> ProjectImport:
    """A ProjectImport and the job that will run it (call inside a transaction). `lists`:
    whether the stored files could be task lists (a URL's file: the job says, once read)."""
    queued = ProjectImport.objects.create(
        project=project,
        created_by=actor,
        source_url=display_url(url),
        file_upload_ids=[] if staged else [upload.pk for upload in stored],
        could_be_tasks_list=lists,
        **options.recorded(),
    )
    payload = {
        "import": queued.pk,
        "url": url,
        "uploads": [upload.pk for upload in stored],
        "staged": staged,
        "commit": options.commit,
        "preannotated_from_fields": list(options.preannotated_from_fields),
        "origin": {"ip_address": origin.ip_address, "user_agent": origin.user_agent},
    }
    queued.job = enqueue(JOB_KIND, payload, actor=actor, organization_id=project.organization_id)
    queued.save(update_fields=["job"])
    return queued


def display_url(url: str) -> str:
    """The URL as records show it: no credentials, query string or fragment (they may
    hold signatures or tokens)."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    try:
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:  # a port that is not a number: check_url refuses the URL anyway
        netloc = host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))[:2000]


def audit_import(done: ProjectImport, actor: User | None, origin: Origin, **details: Any) -> None:
    record(
        "project.import",
        actor=actor,
        origin=origin,
        organization_id=done.project.organization_id,
        target=done.project,
        import_id=done.pk,
        status=done.status,
        url=done.source_url,
        formats=done.found_formats,
        tasks=done.task_count,
        annotations=done.annotation_count,
        predictions=done.prediction_count,
        **details,
    )

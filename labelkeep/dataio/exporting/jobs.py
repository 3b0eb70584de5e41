"""The jobs that write export snapshots and their converted files.

A worker that dies mid-export cannot record anything: the jobs' recovery (`recover_stale`)
then calls the kind's `abandoned` hook, which fails the snapshot (or the conversion
entry) with the message a JobGone failure shows, audits it like any export failure, and
removes the partial file the dead worker left (`.part-<name>-*`, see `files.write`).
"""

from __future__ import annotations

import glob
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from labelkeep.audit.services import Origin, record
from labelkeep.dataio.exporting import files
from labelkeep.dataio.exporting.context import ExportContext
from labelkeep.dataio.exporting.formats import Format, get_format
from labelkeep.dataio.exporting.selection import Selection
from labelkeep.dataio.exporting.source import DatabaseSource, FileSource
from labelkeep.dataio.exporting.text import write_json
from labelkeep.dataio.models import ExportSnapshot, RunStatus
from labelkeep.jobs.models import Job
from labelkeep.jobs.registry import register_job
from labelkeep.jobs.services import JobContext, JobFailed, JobGone, JobTimedOut
from labelkeep.projects.services import StoredConfigError, stored_config
from labelkeep.tasks import filters
from labelkeep.tasks.saved_views import read_query

logger = logging.getLogger(__name__)

TIMEOUT = 6 * 3600
PROGRESS_EVERY = 1.0  # seconds between progress records


SNAPSHOT_KIND = "dataio.export_snapshot"
CONVERT_KIND = "dataio.export_convert"
WORKER_STOPPED = "The worker running the export stopped before it finished."


class ExportFailed(JobFailed):
    """A snapshot or conversion job failed; the message is the one its record shows."""


def failure_message(exc: Exception, ctx: JobContext, what: str) -> str:
    """What a failed export's record says: never the exception's own text, which may name
    paths or internals; the log has that (logged here, with the job's id)."""
    if isinstance(exc, JobTimedOut):
        return f"The export took longer than its time limit ({TIMEOUT // 3600} hours)."
    if isinstance(exc, JobGone):
        return WORKER_STOPPED
    if isinstance(exc, StoredConfigError):
        return " ".join(exc.messages)
    logger.exception("%s failed (job %s)", what, ctx.job.pk)
    return (
        f"The export failed because of an internal error (job {ctx.job.pk}); "
        "the server's log has the details."
    )


def _expanded(options: dict[str, Any], key: str) -> bool:
    """Label Studio: an option present without a true `only_id` asks for full objects."""
    option = options.get(key)
    return isinstance(option, dict) and not option.get("only_id")


def _view_condition(snapshot: ExportSnapshot) -> Q | None:
    """The copy of a saved view's filters and selection the snapshot was asked with."""
    query = (snapshot.task_filter_options or {}).get("view_query")
    if query is None:
        return None
    scope = filters.Scope(project=snapshot.project, user=snapshot.created_by, own_only=False)
    return read_query(query, scope, "view").matching


def selection_of(snapshot: ExportSnapshot) -> Selection:
    serialization = snapshot.serialization_options or {}
    return Selection(
        snapshot.project_id,
        task_filters=snapshot.task_filter_options or {},
        annotation_filters=snapshot.annotation_filter_options or {},
        expand_predictions=_expanded(serialization, "predictions"),
        expand_completed_by=_expanded(serialization, "annotations__completed_by"),
        expand_drafts=_expanded(serialization, "drafts"),
        condition=_view_condition(snapshot),
    )


def _every_so_often(report: Callable[[], None]) -> Callable[[], None]:
    last = [0.0]

    def tick() -> None:
        if time.monotonic() - last[0] >= PROGRESS_EVERY:
            last[0] = time.monotonic()
            report()

    return tick


def _audit(
    snapshot: ExportSnapshot,
    payload: dict[str, Any],
    action: str = "project.export",
    /,
    **details: Any,
) -> None:
    record(
        action,
        actor=snapshot.created_by,
        origin=Origin(**payload.get("origin", {})),
        organization_id=snapshot.project.organization_id,
        target=snapshot.project,
        snapshot=snapshot.pk,
        **details,
    )


def _snapshot(payload: dict[str, Any]) -> ExportSnapshot | None:
    """The job's snapshot; None when it was deleted before the job ran."""
    snapshot_id = payload.get("snapshot")
    if not isinstance(snapshot_id, int):
        return None
    return (
        ExportSnapshot.objects.select_related("project", "created_by")
        .filter(pk=snapshot_id)
        .first()
    )


def _snapshot_file(snapshot: ExportSnapshot) -> str:
    return f"{snapshot.project_id}/export-{snapshot.pk}.json"


def _converted_file(snapshot: ExportSnapshot, entry_id: int, export_format: Format) -> str:
    return f"{snapshot.project_id}/export-{snapshot.pk}-{entry_id}.{export_format.extension}"


def abandoned_snapshot(job: Job) -> None:
    """The worker died while writing this snapshot (called by the jobs' recovery, in a
    transaction): fail it, audit that, and remove what the dead worker left on disk."""
    snapshot = _snapshot(job.payload)
    if snapshot is None:
        return
    if _fail(snapshot.pk, WORKER_STOPPED):
        _remove(_snapshot_file(snapshot))  # renamed into place just before it died
        _audit(snapshot, job.payload, "project.export_failed", format="JSON", error=WORKER_STOPPED)
    _remove_partials(_snapshot_file(snapshot))


def abandoned_conversion(job: Job) -> None:
    """The worker died while converting: fail the conversion entry (as `abandoned_snapshot`
    fails a snapshot), audit it and remove the dead worker's files."""
    snapshot = _snapshot(job.payload)
    entry_id = int(job.payload.get("converted", 0))
    entries = [e for e in snapshot.converted_formats if e["id"] == entry_id] if snapshot else []
    if snapshot is None or not entries:
        return
    export_format = get_format(entries[0]["export_type"])
    if export_format is None:
        return
    relative = _converted_file(snapshot, entry_id, export_format)
    if _fail_entry(snapshot.pk, entry_id, WORKER_STOPPED):
        _remove(relative)
        _audit(
            snapshot,
            job.payload,
            "project.export_failed",
            format=export_format.name,
            error=WORKER_STOPPED,
        )
    _remove_partials(relative)


def _remove_partials(relative: str) -> None:
    """Delete the partial files of the export file `relative` that the dead worker left
    (`files.write` names them after their target; a later run of the same export writes
    under another snapshot or entry id, so none of these is live)."""
    target = files.absolute(relative)
    try:
        partials = list(target.parent.glob(f"{glob.escape(files.partial_prefix(target.name))}*"))
    except OSError:
        return
    for path in partials:
        path.unlink(missing_ok=True)


def _remove(relative: str) -> None:
    """Remove a failed export's file; a failure to (the exports root unusable, which may be
    why the export failed) is logged, not raised over the failure being recorded."""
    try:
        files.remove(relative)
    except OSError:
        logger.warning("could not remove %s of a failed export", relative, exc_info=True)


GONE = {"skipped": "the export was deleted before the job ran"}
DELETED = {"skipped": "the export was deleted while the job ran"}


@register_job(SNAPSHOT_KIND, timeout=TIMEOUT, abandoned=abandoned_snapshot)
def build_snapshot(ctx: JobContext) -> dict[str, Any]:
    """Write a snapshot as JSON, one task per line, under the exports root."""
    snapshot = _snapshot(ctx.payload)
    if snapshot is None:
        return GONE
    try:
        counters = _write_snapshot(snapshot, ctx)
    except Exception as exc:
        _give_up(
            snapshot,
            ctx,
            exc,
            "JSON",
            lambda message: _fail(snapshot.pk, message),
            _snapshot_file(snapshot),
        )
    if counters is None:
        return DELETED
    _audit(snapshot, ctx.payload, format="JSON", **counters)
    return counters


def _write_snapshot(snapshot: ExportSnapshot, ctx: JobContext) -> dict[str, int] | None:
    """Write the snapshot's file and complete it; None when it was deleted meanwhile (its
    file, written after the deletion removed the snapshot's files, is removed here)."""
    ExportSnapshot.objects.filter(pk=snapshot.pk).update(status=RunStatus.IN_PROGRESS)
    selection = selection_of(snapshot)
    total = selection.tally()["tasks"]
    source = DatabaseSource(selection, settings.EXPORT_CHUNK_SIZE)
    config = stored_config(snapshot.project)
    relative = _snapshot_file(snapshot)
    tick = _every_so_often(lambda: ctx.progress(source.counts.tasks, total, "exporting tasks"))
    md5 = files.write(
        relative, write_json(ExportContext(source, config, snapshot.project_id)), tick
    )
    # The last chance to time out or be given up for dead: before the snapshot is completed.
    ctx.progress(source.counts.tasks, total, "completed")
    counters = source.counts.as_dict()
    completed = ExportSnapshot.objects.filter(pk=snapshot.pk, status__in=UNFINISHED).update(
        status=RunStatus.COMPLETED,
        path=relative,
        md5=md5,
        counters=counters,
        finished_at=timezone.now(),
    )
    if not completed:
        _remove(relative)
        return None
    return counters


def _give_up(
    snapshot: ExportSnapshot,
    ctx: JobContext,
    exc: Exception,
    format_name: str,
    mark: Callable[[str], bool],
    relative: str,
) -> NoReturn:
    """Record a failed snapshot or conversion (`mark` stores the message, unless the
    record is finished already), audit it, and end the job with the same message.

    A job given up for dead (JobGone) was failed and audited by the recovery's `abandoned`
    hook already: `mark` then changes nothing and nothing is audited twice. Its file goes
    either way: it may have been renamed into place just before the failure."""
    what = "snapshot" if format_name == "JSON" else f"{format_name} conversion"
    message = failure_message(exc, ctx, f"export {snapshot.pk}: {what}")
    _remove(relative)
    if mark(message):
        _audit(snapshot, ctx.payload, "project.export_failed", format=format_name, error=message)
    if isinstance(exc, JobGone):
        raise exc  # the worker knows the job is over already
    raise ExportFailed(message) from exc


UNFINISHED = (RunStatus.CREATED, RunStatus.IN_PROGRESS)


def _fail(snapshot_id: int, message: str) -> bool:
    """Fail the snapshot unless it has finished (completed, or failed by someone else)."""
    return bool(
        ExportSnapshot.objects.filter(pk=snapshot_id, status__in=UNFINISHED).update(
            status=RunStatus.FAILED, error=message, finished_at=timezone.now()
        )
    )


def _fail_entry(snapshot_id: int, entry_id: int, message: str) -> bool:
    """Fail the conversion entry unless it has finished; False when it had (or is gone).

    `traceback` is Label Studio's name for the field; it holds the message only."""
    failed = {"status": RunStatus.FAILED.value, "traceback": message}
    return _finish_entry(snapshot_id, entry_id, failed)


def _finish_entry(snapshot_id: int, entry_id: int, fields: dict[str, Any]) -> bool:
    """Set the fields of a conversion entry that has not finished; False when it had
    (failed by the recovery, say) or is gone with its snapshot."""
    with transaction.atomic():
        locked = ExportSnapshot.objects.select_for_update().filter(pk=snapshot_id).first()
        entries = [e for e in locked.converted_formats if e["id"] == entry_id] if locked else []
        if locked is None or not entries or entries[0]["status"] not in UNFINISHED:
            return False
        locked.converted_formats = [
            entry | fields if entry["id"] == entry_id else entry
            for entry in locked.converted_formats
        ]
        locked.save(update_fields=["converted_formats"])
    return True


def _update_entry(snapshot_id: int, entry_id: int, **fields: Any) -> None:
    with transaction.atomic():
        locked = ExportSnapshot.objects.select_for_update().filter(pk=snapshot_id).first()
        if locked is None:
            return  # deleted while the job ran: nothing left to mark
        locked.converted_formats = [
            entry | fields if entry["id"] == entry_id else entry
            for entry in locked.converted_formats
        ]
        locked.save(update_fields=["converted_formats"])


def _counted(blocks: Iterable[bytes], size: list[int]) -> Iterator[bytes]:
    for block in blocks:
        size[0] += len(block)
        yield block


@register_job(CONVERT_KIND, timeout=TIMEOUT, abandoned=abandoned_conversion)
def convert_snapshot(ctx: JobContext) -> dict[str, Any]:
    """Write a completed snapshot in another format, reading the snapshot file line by line."""
    snapshot = _snapshot(ctx.payload)
    entry_id = int(ctx.payload["converted"])
    entries = [e for e in snapshot.converted_formats if e["id"] == entry_id] if snapshot else []
    export_format = get_format(entries[0]["export_type"]) if entries else None
    if snapshot is None or export_format is None:
        return GONE
    try:
        size = _write_conversion(snapshot, ctx, entry_id, export_format)
    except Exception as exc:
        _give_up(
            snapshot,
            ctx,
            exc,
            export_format.name,
            lambda message: _fail_entry(snapshot.pk, entry_id, message),
            _converted_file(snapshot, entry_id, export_format),
        )
    if size is None:
        return DELETED
    _audit(snapshot, ctx.payload, format=export_format.name, bytes=size, **snapshot.counters)
    return {"converted_format": entry_id, "bytes": size}


def _write_conversion(
    snapshot: ExportSnapshot, ctx: JobContext, entry_id: int, export_format: Format
) -> int | None:
    """Write the converted file and mark its entry completed; the bytes written, or None
    when the snapshot (or the entry) was deleted meanwhile: the file is removed then."""
    _update_entry(snapshot.pk, entry_id, status=RunStatus.IN_PROGRESS.value)
    context = ExportContext(
        FileSource(files.absolute(snapshot.path)),
        stored_config(snapshot.project),
        snapshot.project_id,
        download_resources=bool(ctx.payload.get("download_resources")),
    )
    relative = _converted_file(snapshot, entry_id, export_format)
    size = [0]
    tick = _every_so_often(lambda: ctx.progress(size[0], None, "bytes written"))
    files.write(relative, _counted(export_format.write(context), size), tick)
    # The last chance to time out or be given up for dead: before the entry is completed.
    ctx.progress(size[0], None, "completed")
    completed = {"status": RunStatus.COMPLETED.value, "path": relative}
    if not _finish_entry(snapshot.pk, entry_id, completed):
        _remove(relative)
        return None
    return size[0]

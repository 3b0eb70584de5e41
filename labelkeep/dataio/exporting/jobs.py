"""The jobs that write export snapshots and their converted files."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labelkeep.audit.services import Origin, record
from labelkeep.dataio.exporting import files
from labelkeep.dataio.exporting.context import ExportContext
from labelkeep.dataio.exporting.formats import get_format
from labelkeep.dataio.exporting.selection import Selection
from labelkeep.dataio.exporting.source import DatabaseSource, FileSource
from labelkeep.dataio.exporting.text import write_json
from labelkeep.dataio.models import ExportSnapshot, RunStatus
from labelkeep.jobs.registry import register_job
from labelkeep.jobs.services import JobContext
from labelkeep.projects.services import label_config_of

TIMEOUT = 6 * 3600
PROGRESS_EVERY = 1.0  # seconds between progress records


def _expanded(options: dict[str, Any], key: str) -> bool:
    """Label Studio: an option present without a true `only_id` asks for full objects."""
    option = options.get(key)
    return isinstance(option, dict) and not option.get("only_id")


def selection_of(snapshot: ExportSnapshot) -> Selection:
    serialization = snapshot.serialization_options or {}
    return Selection(
        snapshot.project_id,
        task_filters=snapshot.task_filter_options or {},
        annotation_filters=snapshot.annotation_filter_options or {},
        expand_predictions=_expanded(serialization, "predictions"),
        expand_completed_by=_expanded(serialization, "annotations__completed_by"),
    )


def _every_so_often(report: Callable[[], None]) -> Callable[[], None]:
    last = [0.0]

    def tick() -> None:
        if time.monotonic() - last[0] >= PROGRESS_EVERY:
            last[0] = time.monotonic()
            report()

    return tick


def _audit(snapshot: ExportSnapshot, ctx: JobContext, **details: Any) -> None:
    record(
        "project.export",
        actor=snapshot.created_by,
        origin=Origin(**ctx.payload.get("origin", {})),
        organization_id=snapshot.project.organization_id,
        target=snapshot.project,
        snapshot=snapshot.pk,
        **details,
    )


def _snapshot(ctx: JobContext) -> ExportSnapshot | None:
    """The job's snapshot; None when it was deleted before the job ran."""
    return (
        ExportSnapshot.objects.select_related("project", "created_by")
        .filter(pk=ctx.payload["snapshot"])
        .first()
    )


GONE = {"skipped": "the export was deleted before the job ran"}


@register_job("dataio.export_snapshot", timeout=TIMEOUT)
def build_snapshot(ctx: JobContext) -> dict[str, Any]:
    """Write a snapshot as JSON, one task per line, under the exports root."""
    snapshot = _snapshot(ctx)
    if snapshot is None:
        return GONE
    ExportSnapshot.objects.filter(pk=snapshot.pk).update(status=RunStatus.IN_PROGRESS)
    selection = selection_of(snapshot)
    total = selection.tally()["tasks"]
    source = DatabaseSource(selection, settings.EXPORT_CHUNK_SIZE)
    config = label_config_of(snapshot.project.label_config)
    relative = f"{snapshot.project_id}/export-{snapshot.pk}.json"
    tick = _every_so_often(lambda: ctx.progress(source.counts.tasks, total, "exporting tasks"))
    try:
        md5 = files.write(
            relative, write_json(ExportContext(source, config, snapshot.project_id)), tick
        )
    except Exception as exc:
        _fail(snapshot.pk, exc)
        raise
    counters = source.counts.as_dict()
    ExportSnapshot.objects.filter(pk=snapshot.pk).update(
        status=RunStatus.COMPLETED,
        path=relative,
        md5=md5,
        counters=counters,
        finished_at=timezone.now(),
    )
    ctx.progress(source.counts.tasks, total, "completed")
    _audit(snapshot, ctx, format="JSON", **counters)
    return counters


def _fail(snapshot_id: int, exc: Exception) -> None:
    ExportSnapshot.objects.filter(pk=snapshot_id).update(
        status=RunStatus.FAILED,
        error=f"{type(exc).__name__}: {exc}"[:5000],
        finished_at=timezone.now(),
    )


def _update_entry(snapshot_id: int, entry_id: int, **fields: Any) -> None:
    with transaction.atomic():
        locked = ExportSnapshot.objects.select_for_update().get(pk=snapshot_id)
        locked.converted_formats = [
            entry | fields if entry["id"] == entry_id else entry
            for entry in locked.converted_formats
        ]
        locked.save(update_fields=["converted_formats"])


def _counted(blocks: Iterable[bytes], size: list[int]) -> Iterator[bytes]:
    for block in blocks:
        size[0] += len(block)
        yield block


@register_job("dataio.export_convert", timeout=TIMEOUT)
def convert_snapshot(ctx: JobContext) -> dict[str, Any]:
    """Write a completed snapshot in another format, reading the snapshot file line by line."""
    snapshot = _snapshot(ctx)
    entry_id = int(ctx.payload["converted"])
    entries = [e for e in snapshot.converted_formats if e["id"] == entry_id] if snapshot else []
    export_format = get_format(entries[0]["export_type"]) if entries else None
    if snapshot is None or export_format is None:
        return GONE
    _update_entry(snapshot.pk, entry_id, status=RunStatus.IN_PROGRESS.value)
    context = ExportContext(
        FileSource(files.absolute(snapshot.path)),
        label_config_of(snapshot.project.label_config),
        snapshot.project_id,
        download_resources=bool(ctx.payload.get("download_resources")),
    )
    relative = f"{snapshot.project_id}/export-{snapshot.pk}-{entry_id}.{export_format.extension}"
    size = [0]
    tick = _every_so_often(lambda: ctx.progress(size[0], None, "bytes written"))
    try:
        files.write(relative, _counted(export_format.write(context), size), tick)
    except Exception as exc:
        _update_entry(
            snapshot.pk, entry_id, status=RunStatus.FAILED.value, traceback=str(exc)[:2000]
        )
        raise
    _update_entry(snapshot.pk, entry_id, status=RunStatus.COMPLETED.value, path=relative)
    _audit(snapshot, ctx, format=export_format.name, bytes=size[0], **snapshot.counters)
    return {"converted_format": entry_id, "bytes": size[0]}

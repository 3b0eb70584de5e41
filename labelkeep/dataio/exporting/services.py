"""Starting exports: sync downloads and snapshots (created, converted, downloaded, deleted).

Every export is audited here or in the job that makes it: `project.export` names the
format and counts what left the server; a snapshot or conversion is also audited when it
is asked for (`project.export_request`), and when its job fails (`project.export_failed`).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labelkeep.accounts.models import User
from labelkeep.audit.services import Origin, record
from labelkeep.dataio.exporting import files
from labelkeep.dataio.exporting.context import ExportContext
from labelkeep.dataio.exporting.formats import Format
from labelkeep.dataio.exporting.selection import Selection
from labelkeep.dataio.exporting.source import DatabaseSource
from labelkeep.dataio.models import ExportSnapshot, RunStatus
from labelkeep.jobs.services import enqueue
from labelkeep.projects.labelconfig import LabelConfig
from labelkeep.projects.models import Project
from labelkeep.projects.services import stored_config
from labelkeep.tasks import filters
from labelkeep.tasks.models import SavedView
from labelkeep.tasks.saved_views import query_of, read_query


class ExportError(Exception):
    """A refused export request, with a message fit to show the user."""


class NotReady(ExportError):
    """The snapshot or converted file asked for does not exist (yet)."""


@dataclass(frozen=True)
class ExportOptions:
    """What `GET api/projects/{id}/export` asks for."""

    format: Format
    only_annotated: bool = True
    download_resources: bool = False
    ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    stream: Iterator[bytes]


def config_for(project: Project, export_format: Format) -> LabelConfig:
    config = stored_config(project)
    if not export_format.fits(config):
        raise ExportError(
            f"{export_format.name} does not fit this project's labeling config; "
            "GET api/projects/{id}/export/formats lists the formats that do."
        )
    return config


def filename(project: Project, export_format: Format) -> str:
    """A download name made only of letters, digits, dashes and underscores."""
    stamp = timezone.now().strftime("%Y-%m-%d-%H-%M")
    tag = secrets.token_hex(4)
    return f"project-{project.pk}-at-{stamp}-{tag}-{export_format.name}.{export_format.extension}"


def start_export(
    project: Project, options: ExportOptions, *, actor: User, origin: Origin
) -> Export:
    """The export as a stream of bytes; audited before the first byte leaves."""
    config = config_for(project, options.format)
    selection = Selection(project.pk, options.ids, options.only_annotated)
    bundle = options.download_resources or options.format.bundles_images
    record(
        "project.export",
        actor=actor,
        origin=origin,
        organization_id=project.organization_id,
        target=project,
        format=options.format.name,
        download_all_tasks=not options.only_annotated,
        download_resources=bundle,
        ids=len(options.ids) if options.ids is not None else None,
        **selection.tally(),
    )
    source = DatabaseSource(selection, settings.EXPORT_CHUNK_SIZE)
    context = ExportContext(source, config, project.pk, download_resources=bundle)
    return Export(
        filename(project, options.format),
        options.format.content_type,
        options.format.write(context),
    )


def _origin_payload(origin: Origin) -> dict[str, Any]:
    return dataclasses.asdict(origin)


def create_snapshot(
    project: Project,
    options: Mapping[str, Any],
    *,
    view: SavedView | None = None,
    actor: User,
    origin: Origin,
) -> ExportSnapshot:
    """Record a snapshot and queue the job that writes it. A saved `view` (of `project`)
    lends its filters and selection as they are now: the snapshot keeps a copy
    (`task_filter_options.view_query`), so later changes to the view do not change it."""
    task_filters = dict(options.get("task_filter_options") or {})
    if view is not None:
        scope = filters.Scope(project=project, user=actor, own_only=False)
        read_query(view.data, scope, "view")  # refused now, not in the job
        task_filters["view_query"] = query_of(view)
    with transaction.atomic():
        snapshot = ExportSnapshot.objects.create(
            project=project,
            created_by=actor,
            title=options.get("title") or "",
            task_filter_options=task_filters,
            annotation_filter_options=dict(options.get("annotation_filter_options") or {}),
            serialization_options=dict(options.get("serialization_options") or {}),
        )
        payload = {"snapshot": snapshot.pk, "origin": _origin_payload(origin)}
        snapshot.job = enqueue(
            "dataio.export_snapshot", payload, actor=actor, organization_id=project.organization_id
        )
        snapshot.save(update_fields=["job"])
        record(
            "project.export_request",
            actor=actor,
            origin=origin,
            organization_id=project.organization_id,
            target=project,
            snapshot=snapshot.pk,
            format="JSON",
            job=snapshot.job.pk,
            task_filter_options=snapshot.task_filter_options,
            annotation_filter_options=snapshot.annotation_filter_options,
        )
    return snapshot


def convert_snapshot(
    snapshot: ExportSnapshot,
    export_format: Format,
    *,
    download_resources: bool,
    actor: User,
    origin: Origin,
) -> dict[str, Any]:
    """Queue a conversion of a completed snapshot; an existing one of that format is reused.
    The entry, with the id of the job just queued for it (`job`) when one was."""
    config_for(snapshot.project, export_format)
    with transaction.atomic():
        locked = ExportSnapshot.objects.select_for_update().filter(pk=snapshot.pk).first()
        if locked is None:  # deleted since the request read it
            raise NotReady("No such export: it was deleted.")
        if locked.status != RunStatus.COMPLETED:
            raise ExportError(f"The export is {locked.status}; convert it once it is completed.")
        for entry in locked.converted_formats:
            if entry["export_type"] == export_format.name and entry["status"] != RunStatus.FAILED:
                return dict(entry)
        entry = {
            "id": max((e["id"] for e in locked.converted_formats), default=0) + 1,
            "export_type": export_format.name,
            "status": RunStatus.CREATED.value,
            "path": "",
            "traceback": "",
        }
        locked.converted_formats = [
            e for e in locked.converted_formats if e["export_type"] != export_format.name
        ] + [entry]
        locked.save(update_fields=["converted_formats"])
        payload = {
            "snapshot": locked.pk,
            "converted": entry["id"],
            "download_resources": download_resources or export_format.bundles_images,
            "origin": _origin_payload(origin),
        }
        job = enqueue(
            "dataio.export_convert",
            payload,
            actor=actor,
            organization_id=locked.project.organization_id,
        )
        record(
            "project.export_request",
            actor=actor,
            origin=origin,
            organization_id=locked.project.organization_id,
            target=locked.project,
            snapshot=locked.pk,
            format=export_format.name,
            job=job.pk,
            converted=entry["id"],
            download_resources=payload["download_resources"],
        )
    return {**entry, "job": job.pk}


def snapshot_file(
    snapshot: ExportSnapshot, name: str, *, actor: User, origin: Origin, audited: bool = True
) -> tuple[Path, str]:
    """(path, download name) of a snapshot (format `name` JSON) or its conversion to the
    format `name` (a format's canonical name); audited as a download unless `audited` is
    false (a HEAD request, which sends no byte of it)."""
    if name == "JSON":
        relative = snapshot.path if snapshot.status == RunStatus.COMPLETED else ""
    else:
        done = [
            e
            for e in snapshot.converted_formats
            if e["export_type"] == name and e["status"] == RunStatus.COMPLETED
        ]
        relative = done[0]["path"] if done else ""
    path = files.absolute(relative) if relative else None
    if path is None or not path.is_file():
        raise NotReady(f"No {name} file for this export yet: create or convert it first.")
    if audited:
        record(
            "project.export_download",
            actor=actor,
            origin=origin,
            organization_id=snapshot.project.organization_id,
            target=snapshot.project,
            snapshot=snapshot.pk,
            format=name,
        )
    extension = path.suffix or ".json"
    return path, f"project-{snapshot.project_id}-export-{snapshot.pk}-{name}{extension}"


def delete_snapshot(snapshot: ExportSnapshot, *, actor: User, origin: Origin) -> None:
    """Delete the snapshot and, once committed, its files."""
    with transaction.atomic():
        record(
            "project.export_delete",
            actor=actor,
            origin=origin,
            organization_id=snapshot.project.organization_id,
            target=snapshot.project,
            snapshot=snapshot.pk,
        )
        snapshot.delete()

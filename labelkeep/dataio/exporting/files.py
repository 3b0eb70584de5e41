"""Snapshot files under the exports root: written atomically, removed with their record."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from labelkeep.dataio.models import ExportSnapshot


def root() -> Path:
    return Path(settings.EXPORTS_ROOT).resolve()


def absolute(relative: str) -> Path:
    """The file a stored relative path names; never anything outside the exports root."""
    base = root()
    path = (base / relative).resolve()
    if not relative or not path.is_relative_to(base) or path == base:
        raise ValueError(f"not a path inside the exports root: {relative!r}")
    return path


def partial_prefix(name: str) -> str:
    """The start of the name of a file being written to become `name`."""
    return f".part-{name}-"


def write(
    relative: str, blocks: Iterable[bytes], on_block: Callable[[], None] = lambda: None
) -> str:
    """Write the blocks to the file, replacing it only once complete; returns the MD5."""
    target = absolute(relative)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    digest = hashlib.md5(usedforsecurity=False)
    # Named after the target, so that a dead worker's partial file can be told apart
    # (dataio/exporting/jobs.py, `_remove_partials`).
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115
        dir=target.parent, prefix=partial_prefix(target.name), delete=False
    )
    try:
        with handle:
            for block in blocks:
                handle.write(block)
                digest.update(block)
                on_block()
            handle.flush()
            os.fsync(handle.fileno())
        Path(handle.name).replace(target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def remove(relative: str) -> None:
    if relative:
        absolute(relative).unlink(missing_ok=True)


def snapshot_files(project_id: int, snapshot_id: int) -> list[Path]:
    """Every file of a snapshot, found by name rather than by what its record says (a
    record read while a job ran names none of the files it wrote since): the snapshot
    (`export-<id>.json`), its conversions (`export-<id>-<n>.<ext>`), and the partial
    files of either (see `write`)."""
    folder = root() / str(project_id)
    names = (f"export-{snapshot_id}.json", f"export-{snapshot_id}-*")
    patterns = [*names, *(partial_prefix(name) + "*" for name in names)]
    try:
        return [path for pattern in patterns for path in folder.glob(pattern)]
    except OSError:
        return []


@receiver(post_delete, sender=ExportSnapshot)
def _remove_files(sender: Any, instance: ExportSnapshot, **kwargs: Any) -> None:
    """A deleted snapshot (alone or with its project) takes its files along, once committed.

    A job still writing one of them then fails to put it in place, or finds its record gone
    and removes the file itself (`jobs._write_snapshot`, `jobs._write_conversion`)."""
    project_id, snapshot_id = instance.project_id, instance.pk

    def remove_all() -> None:
        for path in snapshot_files(project_id, snapshot_id):
            path.unlink(missing_ok=True)

    transaction.on_commit(remove_all)

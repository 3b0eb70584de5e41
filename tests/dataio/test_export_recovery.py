"""An export whose worker died in the middle is failed by the jobs' recovery, audited like
any export failure, and leaves no partial file behind (as imports are undone)."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from labelkeep.audit.models import AuditEvent
from labelkeep.dataio.exporting import formats, jobs
from labelkeep.dataio.models import ExportSnapshot, RunStatus
from labelkeep.jobs.models import Job, JobStatus
from labelkeep.jobs.services import GONE, JobGone, execute, recover_stale
from labelkeep.jobs.worker import run_batch
from tests.conftest import World
from tests.dataio.test_export_support import TEXT_CONFIG, add_tasks, annotate, choice, make_project

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the job gets to handle it."""


@pytest.fixture
def exports_root(tmp_path: Path, settings: Any) -> Path:
    settings.EXPORTS_ROOT = tmp_path / "exports"
    settings.JOB_STALE_AFTER = 300
    return tmp_path / "exports"


@pytest.fixture
def project(world: World, exports_root: Path) -> Any:
    made = make_project(world, TEXT_CONFIG)
    (task,) = add_tasks(made, world, [{"text": "fine"}])
    annotate(task, choice("Positive"), world)
    return made


def snapshots(project: Any, tail: str = "") -> str:
    return f"/api/projects/{project.pk}/exports/{tail}"


def dies_while_writing(*args: Any) -> Iterator[bytes]:
    yield b'[{"id": 1}'
    raise WorkerKilled


def kill_mid_write(job_id: int, monkeypatch: pytest.MonkeyPatch, folder: Path, target: str) -> Path:
    """Run the job until its worker 'dies'; the partial file of `target` a real SIGKILL
    would leave (the stand-in runs `files.write`'s clean-up, which SIGKILL never would)."""
    with monkeypatch.context() as killed, pytest.raises(WorkerKilled):
        killed.setattr(jobs, "write_json", dies_while_writing)
        csv = dataclasses.replace(formats.FORMATS["CSV"], write=dies_while_writing)
        killed.setitem(formats.FORMATS, "CSV", csv)
        execute(job_id)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = folder / f".part-{target}-dead1234"
    partial.write_bytes(b'[{"id": 1}')
    return partial


def go_stale(job_id: int) -> None:
    Job.objects.filter(pk=job_id).update(heartbeat_at=timezone.now() - timedelta(seconds=301))


def failed_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="project.export_failed").order_by("id"))


def test_a_snapshot_whose_worker_died_is_failed_by_the_recovery(
    world: World, project: Any, exports_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = world.admin.client.post(snapshots(project), {}, format="json").json()
    snapshot = ExportSnapshot.objects.get(pk=created["id"])
    assert snapshot.job is not None
    folder = exports_root / str(project.pk)
    partial = kill_mid_write(snapshot.job.pk, monkeypatch, folder, f"export-{snapshot.pk}.json")
    snapshot.refresh_from_db()
    assert snapshot.status == RunStatus.IN_PROGRESS
    assert recover_stale() == []  # its heartbeat is fresh: it may be alive

    go_stale(snapshot.job.pk)
    assert recover_stale() == [snapshot.job.pk]

    snapshot.refresh_from_db()
    assert (snapshot.status, snapshot.error) == (RunStatus.FAILED, jobs.WORKER_STOPPED)
    assert snapshot.finished_at is not None
    job = Job.objects.get(pk=snapshot.job.pk)
    assert (job.status, job.error) == (JobStatus.FAILED, GONE)
    assert not partial.exists()
    (failed,) = failed_events()
    assert failed.details == {
        "snapshot": snapshot.pk,
        "format": "JSON",
        "error": jobs.WORKER_STOPPED,
    }
    assert failed.actor_id == world.admin.user.pk
    shown = world.admin.client.get(snapshots(project, str(snapshot.pk))).json()
    assert (shown["status"], shown["error"]) == ("failed", jobs.WORKER_STOPPED)
    assert recover_stale() == []  # once only
    assert len(failed_events()) == 1


@pytest.mark.django_db(transaction=True)  # the worker that writes the snapshot first
def test_a_conversion_whose_worker_died_is_failed_by_the_recovery(
    world: World, project: Any, exports_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot_id = world.admin.client.post(snapshots(project), {}, format="json").json()["id"]
    run_batch()
    world.admin.client.post(
        snapshots(project, f"{snapshot_id}/convert"), {"export_type": "CSV"}, format="json"
    )
    job = Job.objects.get(kind=jobs.CONVERT_KIND)
    folder = exports_root / str(project.pk)
    partial = kill_mid_write(job.pk, monkeypatch, folder, f"export-{snapshot_id}-1.csv")
    go_stale(job.pk)

    assert recover_stale() == [job.pk]

    snapshot = ExportSnapshot.objects.get(pk=snapshot_id)
    assert snapshot.status == RunStatus.COMPLETED  # the snapshot itself is fine
    (entry,) = snapshot.converted_formats
    assert (entry["status"], entry["traceback"]) == ("failed", jobs.WORKER_STOPPED)
    assert not partial.exists()
    assert (exports_root / snapshot.path).is_file()
    (failed,) = failed_events()
    assert failed.details == {
        "snapshot": snapshot_id,
        "format": "CSV",
        "error": jobs.WORKER_STOPPED,
    }
    # A failed conversion may be asked for again.
    again = world.admin.client.post(
        snapshots(project, f"{snapshot_id}/convert"), {"export_type": "CSV"}, format="json"
    )
    assert again.json() == {"converted_format": 2, "export_type": "CSV"}


def test_a_live_exports_partial_file_is_kept(
    world: World, project: Any, exports_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead_id = world.admin.client.post(snapshots(project), {}, format="json").json()["id"]
    live_id = world.admin.client.post(snapshots(project), {}, format="json").json()["id"]
    dead, live = ExportSnapshot.objects.get(pk=dead_id), ExportSnapshot.objects.get(pk=live_id)
    assert dead.job is not None and live.job is not None
    folder = exports_root / str(project.pk)
    partial = kill_mid_write(dead.job.pk, monkeypatch, folder, f"export-{dead.pk}.json")
    # The other export is running (fresh heartbeat) and writing its own partial file, as
    # old as you like: partial files are named after their target, so it is told apart.
    Job.objects.filter(pk=live.job.pk).update(status=JobStatus.RUNNING, heartbeat_at=timezone.now())
    writing = folder / f".part-export-{live.pk}.json-live5678"
    writing.write_bytes(b"[")
    long_ago = time.time() - 3600
    os.utime(writing, (long_ago, long_ago))
    go_stale(dead.job.pk)

    assert recover_stale() == [dead.job.pk]

    assert writing.exists() and not partial.exists()
    live.refresh_from_db()
    assert live.status == RunStatus.CREATED


def test_a_run_given_up_for_dead_is_failed_and_audited_once(
    world: World, project: Any, exports_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker was alive after all: another worker's recovery failed its export; its
    next progress report stops it, and nothing is recorded or audited a second time."""
    created = world.admin.client.post(snapshots(project), {}, format="json").json()
    snapshot = ExportSnapshot.objects.get(pk=created["id"])
    assert snapshot.job is not None
    job_id = snapshot.job.pk

    def given_up_midway(*args: Any) -> Iterator[bytes]:
        yield b"["
        go_stale(job_id)
        assert recover_stale() == [job_id]
        yield b"]"

    monkeypatch.setattr(jobs, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr(jobs, "write_json", given_up_midway)
    with pytest.raises(JobGone):  # the queue's record of the run stays failed
        execute(job_id)

    snapshot.refresh_from_db()
    assert (snapshot.status, snapshot.error) == (RunStatus.FAILED, jobs.WORKER_STOPPED)
    assert len(failed_events()) == 1
    folder = exports_root / str(project.pk)
    assert list(folder.iterdir()) == []  # neither a partial nor the finished file

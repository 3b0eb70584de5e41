"""A failed import job leaves nothing behind whatever its size, and neither does one whose
worker died in the middle (found by the jobs' recovery)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from labelkeep.audit.models import AuditEvent
from labelkeep.dataio import jobs, uploads
from labelkeep.dataio.models import ProjectImport, RunStatus
from labelkeep.jobs.models import Job, JobStatus
from labelkeep.jobs.services import GONE, execute, recover_stale
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Prediction, Task
from labelkeep.tasks.services import write_task_rows
from tests.conftest import World
from tests.dataio.test_import_support import (
    choice,
    make_project,
    nothing_imported,
    post_json,
    stored_files,
    use_uploads_root,
)
from tests.tasks.test_delete_at_scale import SQLITE_DEFAULT_VARIABLES, stock_sqlite_limit

__all__ = ["stock_sqlite_limit"]  # a fixture: SQLite's stock limit of bound variables


pytestmark = pytest.mark.django_db


@pytest.fixture
def project(world: World) -> Project:
    return make_project(world)


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    settings.IMPORT_SYNC_MAX_TASKS = 10
    return use_uploads_root(settings, tmp_path)


def body(count: int) -> list[dict[str, Any]]:
    """Tasks; every 10th with an annotation, every 5th with a prediction."""
    return [
        {
            "data": {"text": f"t{n}"},
            "annotations": [{"result": choice("Positive")}] if n % 10 == 0 else [],
            "predictions": [{"result": choice("Negative")}] if n % 5 == 0 else [],
        }
        for n in range(count)
    ]


def fail_on_call(monkeypatch: pytest.MonkeyPatch, call: int, error: BaseException) -> None:
    calls: list[int] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == call:
            raise error
        return write_task_rows(*args, **kwargs)

    monkeypatch.setattr("labelkeep.dataio.jobs.write_task_rows", failing)


def all_gone(project: Project, root: Path) -> bool:
    project.refresh_from_db()
    return (
        nothing_imported(project, root)
        and not Annotation.objects.filter(project=project).exists()
        and not Prediction.objects.filter(project=project).exists()
        and (
            project.num_tasks_with_annotations,
            project.total_annotations_number,
            project.total_predictions_number,
        )
        == (0, 0, 0)
    )


@pytest.mark.usefixtures("stock_sqlite_limit")
def test_a_big_import_that_fails_late_is_undone(
    world: World, project: Project, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More tasks written before the failure than one statement can name.
    count = (SQLITE_DEFAULT_VARIABLES // jobs.CHUNK + 1) * jobs.CHUNK + 1000
    queued = post_json(world.admin.client, project, body(count)).json()
    # The last chunk fails: every chunk before it has been committed.
    fail_on_call(monkeypatch, -(-count // jobs.CHUNK), RuntimeError("disk full, say"))

    execute(queued["job"])

    done = ProjectImport.objects.get(pk=queued["import"])
    assert done.status == RunStatus.FAILED
    assert done.error == "The import failed because of an internal error; nothing was imported."
    assert all_gone(project, root)
    assert Job.objects.get(pk=queued["job"]).status == JobStatus.FAILED
    undo = AuditEvent.objects.get(action="tasks.delete")
    assert undo.details["count"] == (count // jobs.CHUNK) * jobs.CHUNK


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the job gets to handle it."""


def test_an_import_whose_worker_died_is_undone_by_the_recovery(
    world: World, project: Project, root: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    monkeypatch.setattr(jobs, "CHUNK", 4)
    queued = post_json(world.admin.client, project, body(12)).json()
    fail_on_call(monkeypatch, 3, WorkerKilled())
    with monkeypatch.context() as killed, pytest.raises(WorkerKilled):
        killed.setattr(uploads, "delete", lambda stored: None)  # no `finally` either
        execute(queued["job"])
    # What a killed worker leaves: two committed chunks, a running job, a staged file.
    assert Task.objects.filter(project=project).count() == 8
    assert ProjectImport.objects.get(pk=queued["import"]).status == RunStatus.IN_PROGRESS
    assert len(stored_files(root)) == 1
    job = Job.objects.get(pk=queued["job"])
    assert job.status == JobStatus.RUNNING

    assert recover_stale() == []  # its heartbeat is fresh: it may be alive
    settings.JOB_STALE_AFTER = 300
    stale = timezone.now() - timedelta(seconds=301)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=stale)
    assert recover_stale() == [job.pk]

    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.FAILED, GONE)
    done = ProjectImport.objects.get(pk=queued["import"])
    assert done.status == RunStatus.FAILED
    assert done.error.startswith("The worker running the import stopped")
    assert all_gone(project, root)
    assert AuditEvent.objects.get(action="tasks.delete").details["count"] == 8
    (imported,) = AuditEvent.objects.filter(action="project.import")
    assert imported.details["status"] == "failed"
    assert recover_stale() == []  # once only


def test_recovery_leaves_a_finished_import_alone(
    world: World, project: Project, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "CHUNK", 4)
    queued = post_json(world.admin.client, project, body(12)).json()
    execute(queued["job"])
    # As if the worker died between committing the import and recording the job's end.
    long_ago = timezone.now() - timedelta(days=1)
    Job.objects.filter(pk=queued["job"]).update(status=JobStatus.RUNNING, heartbeat_at=long_ago)

    assert recover_stale() == [queued["job"]]

    assert ProjectImport.objects.get(pk=queued["import"]).status == RunStatus.COMPLETED
    assert Task.objects.filter(project=project).count() == 12


def test_runs_of_ids() -> None:
    assert jobs.add_runs([], [5, 6, 7, 9]) == [[5, 7], [9, 9]]
    assert jobs.add_runs([[5, 7], [9, 9]], [10, 11, 20]) == [[5, 7], [9, 11], [20, 20]]
    assert json.loads(json.dumps(jobs.add_runs([], range(1, 10_001)))) == [[1, 10_000]]

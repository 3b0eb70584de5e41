"""Imports too large for one request run as a job: status, progress, and full undo on failure."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from labelkeep.audit.models import AuditEvent
from labelkeep.dataio import jobs
from labelkeep.dataio.models import FileUpload, ProjectImport, RunStatus
from labelkeep.jobs.models import Job, JobStatus
from labelkeep.jobs.services import GONE, JobGone, execute, recover_stale
from labelkeep.jobs.worker import run_batch
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Task
from labelkeep.tasks.services import delete_tasks, write_task_rows
from tests.conftest import TEST_ORIGIN, World
from tests.dataio.test_import_support import (
    choice,
    make_project,
    nothing_imported,
    post_files,
    post_json,
    stored_files,
    use_uploads_root,
)

DAY = timedelta(days=1)


@pytest.fixture
def project(world: World) -> Project:
    return make_project(world)


@pytest.fixture
def root(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    settings.IMPORT_SYNC_MAX_TASKS = 10
    monkeypatch.setattr(jobs, "CHUNK", 4)
    return use_uploads_root(settings, tmp_path)


def status_of(world: World, project: Project, pk: int) -> dict[str, Any]:
    response = world.admin.client.get(f"/api/projects/{project.pk}/imports/{pk}/")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def tasks(count: int) -> list[dict[str, Any]]:
    return [{"text": f"review {n}"} for n in range(count)]


def test_large_body_is_queued_then_imported_with_progress(
    world: World, project: Project, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = post_json(world.admin.client, project, tasks(11), "return_task_ids=true")
    assert response.status_code == 201, response.json()
    queued = response.json()
    assert set(queued) == {"import", "job", "status", "file_upload_ids"}
    assert queued["status"] == "created" and queued["file_upload_ids"] == []
    assert not Task.objects.exists()  # nothing until the job runs
    before = status_of(world, project, queued["import"])
    assert before["status"] == "created" and before["job"] == queued["job"]
    assert len(stored_files(root)) == 1  # the body, staged for the worker

    seen: list[dict[str, Any]] = []
    real_write = write_task_rows

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(status_of(world, project, queued["import"]))
        return real_write(*args, **kwargs)

    monkeypatch.setattr("labelkeep.dataio.jobs.write_task_rows", watched)
    execute(queued["job"])

    assert [s["status"] for s in seen] == ["in_progress"] * 3
    assert [s["progress"]["done"] for s in seen] == [0, 4, 8]  # committed chunk by chunk
    assert {s["progress"]["total"] for s in seen} == {11}
    done = status_of(world, project, queued["import"])
    assert done["status"] == "completed" and done["error"] == ""
    made = list(Task.objects.filter(project=project).order_by("id"))
    assert done["task_ids"] == [t.pk for t in made]
    assert [t.data for t in made] == tasks(11)
    assert done["task_count"] == 11 and done["finished_at"] is not None
    assert done["progress"] == {"done": 11, "total": 11, "message": "imported 11 of 11 tasks"}
    assert Job.objects.get(pk=queued["job"]).status == JobStatus.SUCCEEDED
    project.refresh_from_db()
    assert project.task_number == 11
    assert stored_files(root) == []  # the staged body is gone
    assert AuditEvent.objects.filter(action="project.import", actor=world.admin.user).exists()


def test_failure_while_writing_deletes_everything(
    world: World, project: Project, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = [
        {"data": {"text": f"t{n}"}, "annotations": [{"result": choice("Positive")}]}
        for n in range(12)
    ]
    queued = post_json(world.admin.client, project, body).json()
    real_write, calls = write_task_rows, []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full, say")
        return real_write(*args, **kwargs)

    monkeypatch.setattr("labelkeep.dataio.jobs.write_task_rows", failing)
    execute(queued["job"])

    done = status_of(world, project, queued["import"])
    assert done["status"] == "failed"
    assert done["error"] == (
        "The import failed because of an internal error; nothing was imported."
    )
    assert done["task_ids"] == [] and done["task_count"] == 0
    assert nothing_imported(project, root)  # 8 tasks had been committed: all deleted
    assert not Annotation.objects.exists()
    project.refresh_from_db()
    assert (project.total_annotations_number, project.num_tasks_with_annotations) == (0, 0)
    job = Job.objects.get(pk=queued["job"])
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("ImportFailed: The import failed")


def _failing_with_a_busy_undo(monkeypatch: pytest.MonkeyPatch, undo_failures: int) -> None:
    """The third chunk fails, and then the import's own undo fails `undo_failures` times
    (a database busy for longer than its timeout, say) before it works."""
    real_write, writes = write_task_rows, []

    def failing_write(*args: Any, **kwargs: Any) -> Any:
        writes.append(1)
        if len(writes) == 3:
            raise RuntimeError("disk full, say")
        return real_write(*args, **kwargs)

    real_delete, deletes = delete_tasks, []

    def busy_delete(*args: Any, **kwargs: Any) -> Any:
        deletes.append(1)
        if len(deletes) <= undo_failures:
            raise OperationalError("database is locked")
        return real_delete(*args, **kwargs)

    monkeypatch.setattr("labelkeep.dataio.jobs.write_task_rows", failing_write)
    monkeypatch.setattr("labelkeep.dataio.jobs.delete_tasks", busy_delete)


def test_an_import_whose_undo_fails_is_undone_by_the_jobs_clean_up(
    world: World, project: Project, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its committed chunks would otherwise stay, the import `in_progress` for good."""
    queued = post_json(world.admin.client, project, tasks(12)).json()
    _failing_with_a_busy_undo(monkeypatch, undo_failures=1)
    execute(queued["job"])
    assert status_of(world, project, queued["import"])["status"] == "failed"
    assert nothing_imported(project, root)
    assert Job.objects.get(pk=queued["job"]).status == JobStatus.FAILED


def test_when_the_clean_up_fails_too_the_recovery_finishes_it(
    world: World, project: Project, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = post_json(world.admin.client, project, tasks(12)).json()
    _failing_with_a_busy_undo(monkeypatch, undo_failures=2)
    execute(queued["job"])
    # Still running on record: neither the run nor its clean-up could undo the import.
    assert Job.objects.get(pk=queued["job"]).status == JobStatus.RUNNING
    assert status_of(world, project, queued["import"])["status"] == "in_progress"
    Job.objects.filter(pk=queued["job"]).update(heartbeat_at=timezone.now() - DAY)
    assert recover_stale() == [queued["job"]]
    assert status_of(world, project, queued["import"])["status"] == "failed"
    assert nothing_imported(project, root)


def test_an_import_given_up_for_dead_keeps_the_recoverys_outcome(
    world: World, project: Project, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its worker was alive after all: the run stops at its next report without undoing
    or failing the import a second time, and the job stays failed as recovery left it."""
    queued = post_json(world.admin.client, project, tasks(11)).json()
    real_write, calls = write_task_rows, []

    def given_up_midway(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # another worker's sweep finds the heartbeat stale
            Job.objects.filter(pk=queued["job"]).update(heartbeat_at=timezone.now() - DAY)
            assert recover_stale() == [queued["job"]]
        return real_write(*args, **kwargs)

    monkeypatch.setattr("labelkeep.dataio.jobs.write_task_rows", given_up_midway)
    with pytest.raises(JobGone):
        execute(queued["job"])
    done = status_of(world, project, queued["import"])
    assert done["status"] == "failed"
    assert done["error"].startswith("The worker running the import stopped")
    job = Job.objects.get(pk=queued["job"])
    assert (job.status, job.error) == (JobStatus.FAILED, GONE)
    assert AuditEvent.objects.filter(action="project.import").count() == 1
    assert nothing_imported(project, root)


def test_large_file_is_queued_and_its_file_kept(world: World, project: Project, root: Path) -> None:
    content = ("text\n" + "\n".join(f"row {n}" for n in range(25)) + "\n").encode()
    response = post_files(world.admin.client, project, {"many.csv": content})
    assert response.status_code == 201
    queued = response.json()
    (upload,) = FileUpload.objects.filter(project=project)
    assert queued["file_upload_ids"] == [upload.pk]
    execute(queued["job"])
    done = status_of(world, project, queued["import"])
    assert done["status"] == "completed"
    assert done["found_formats"] == {".csv": 1} and done["data_columns"] == ["text"]
    assert Task.objects.filter(project=project).count() == 25
    assert len(stored_files(root)) == 1


def test_bad_row_in_a_large_file_is_refused_before_queueing(
    world: World, project: Project, root: Path
) -> None:
    rows = [f"row {n}" for n in range(30)]
    rows[15] = '"unclosed'
    content = ("text\n" + "\n".join(rows) + "\n").encode()
    response = post_files(world.admin.client, project, {"many.csv": content})
    assert response.status_code == 400
    assert not Job.objects.exists() and not ProjectImport.objects.exists()
    assert nothing_imported(project, root)


@pytest.mark.parametrize("kind", ["body", "file"])
def test_a_queue_that_cannot_take_the_job_leaves_nothing(
    world: World, project: Project, root: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    def queue_down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the queue is down")

    monkeypatch.setattr("labelkeep.dataio.services.enqueue", queue_down)
    world.admin.client.raise_request_exception = False
    if kind == "body":
        response = post_json(world.admin.client, project, tasks(11))
    else:
        response = post_files(
            world.admin.client, project, {"t.json": json.dumps(tasks(11)).encode()}
        )
    assert response.status_code == 500
    assert not ProjectImport.objects.exists() and not Job.objects.exists()
    assert nothing_imported(project, root)  # the staged body is not left on disk either


def test_job_checks_again_and_fails_cleanly(world: World, project: Project, root: Path) -> None:
    queued = post_files(
        world.admin.client, project, {"t.json": json.dumps(tasks(20)).encode()}
    ).json()
    # The config changes while the import waits: its tasks no longer fit.
    projects.update_project(
        project,
        {"label_config": '<View><Text name="t" value="$body"/></View>'},
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    execute(queued["job"])
    done = status_of(world, project, queued["import"])
    assert done["status"] == "failed"
    assert done["error"].startswith('t.json, task 0: the task data has no "body"')
    assert nothing_imported(project, root)  # the uploaded file is removed too


def test_job_time_limit_undoes_the_import(
    world: World, project: Project, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = post_json(world.admin.client, project, tasks(12)).json()
    monkeypatch.setattr("labelkeep.jobs.registry.REGISTRY", dict(_registry_with_timeout(0)))
    execute(queued["job"])
    done = status_of(world, project, queued["import"])
    assert done["status"] == "failed"
    assert "time limit" in done["error"]
    assert nothing_imported(project, root)


def _registry_with_timeout(seconds: int) -> dict[str, Any]:
    from dataclasses import replace

    from labelkeep.jobs.registry import REGISTRY

    return {name: replace(kind, timeout=seconds) for name, kind in REGISTRY.items()}


@pytest.mark.django_db(transaction=True)
def test_worker_runs_a_queued_import(world: World, root: Path) -> None:
    project = make_project(world)
    queued = post_json(world.admin.client, project, tasks(15), "return_task_ids=true").json()
    run_batch()
    done = ProjectImport.objects.get(pk=queued["import"])
    assert done.status == RunStatus.COMPLETED
    assert Task.objects.filter(project=project).count() == 15
    assert sorted(done.task_ids) == sorted(Task.objects.values_list("pk", flat=True))

"""The job interface in-process: enqueue, run by a batch worker, progress, failure, checks."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks
from django_tasks_db.models import DBTaskResult

from labelkeep.jobs import services
from labelkeep.jobs.apps import check_queue_backend
from labelkeep.jobs.cli import check as jobs_check
from labelkeep.jobs.models import Job, JobStatus
from labelkeep.jobs.registry import REGISTRY
from labelkeep.jobs.worker import run_batch


@pytest.mark.django_db
def test_enqueue_records_a_queued_job() -> None:
    job = services.enqueue("jobs.selftest", {"steps": 2}, organization_id=7)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert (job.progress, job.total, job.started_at, job.finished_at) == (0, None, None, None)
    assert job.payload == {"steps": 2}
    assert job.organization_id == 7
    queued = DBTaskResult.objects.get(id=job.task_result_id)
    assert queued.args_kwargs == {"args": [job.pk], "kwargs": {}}


@pytest.mark.django_db
def test_unknown_kind_is_refused_at_enqueue() -> None:
    with pytest.raises(LookupError, match=r"no\.such\.kind"):
        services.enqueue("no.such.kind", {})
    assert not Job.objects.exists()
    assert not DBTaskResult.objects.exists()


@pytest.mark.django_db
def test_payload_must_be_json() -> None:
    with pytest.raises(TypeError):
        services.enqueue("jobs.selftest", {"steps": object()})
    assert not Job.objects.exists()


def test_builtin_kinds_are_registered_by_app_loading() -> None:
    # Without this, a process that never imported the worker (`--no-worker`, the CLI)
    # could not enqueue anything.
    assert "jobs.selftest" in REGISTRY


@pytest.mark.django_db(transaction=True)
def test_worker_runs_the_job_and_records_progress() -> None:
    job = services.enqueue("jobs.selftest", {"steps": 4})
    run_batch()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert (job.progress, job.total, job.message) == (4, 4, "step 4 of 4")
    assert job.result == {"steps": 4}
    assert job.error == ""
    assert job.started_at is not None and job.finished_at is not None
    assert job.started_at <= job.finished_at


@pytest.mark.django_db(transaction=True)
def test_failing_job_records_failed_with_its_error() -> None:
    job = services.enqueue("jobs.selftest", {"steps": 2, "fail": True})
    run_batch()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == "JobFailed: failure requested by the payload"
    assert job.result is None
    assert job.progress == 2  # progress made before the failure stays visible
    assert job.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_an_internal_failure_is_recorded_without_its_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Anyone in the organization reads a job; an unplanned exception's text (paths,
    queries) goes to the log only."""
    job = services.enqueue("jobs.selftest", {"steps": 1, "fail": "internal"})
    run_batch()
    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.FAILED, services.INTERNAL_ERROR)
    assert "/srv/secret" in caplog.text


@pytest.mark.django_db
def test_progress_is_recorded_and_the_time_limit_enforced() -> None:
    job = Job.objects.create(kind="jobs.selftest", status=JobStatus.RUNNING)
    services.JobContext(job, timeout=60).progress(3, 10, "three of ten")
    job.refresh_from_db()
    assert (job.progress, job.total, job.message) == (3, 10, "three of ten")
    with pytest.raises(services.JobTimedOut):
        services.JobContext(job, timeout=-1).progress(4, 10)
    job.refresh_from_db()
    assert job.progress == 3


@pytest.mark.django_db
def test_execute_runs_a_job_only_once() -> None:
    job = Job.objects.create(kind="jobs.selftest", status=JobStatus.SUCCEEDED, result={"x": 1})
    services.execute(job.pk)
    job.refresh_from_db()
    assert (job.status, job.result) == (JobStatus.SUCCEEDED, {"x": 1})


@pytest.mark.django_db
def test_wait_for_returns_the_last_state_at_the_timeout() -> None:
    job = services.enqueue("jobs.selftest", {})
    seen: list[str] = []
    last = services.wait_for(job.pk, 0.3, interval=0.05, on_change=lambda j: seen.append(j.status))
    assert last.status == JobStatus.QUEUED
    assert seen == [JobStatus.QUEUED]  # reported once: nothing changed


@pytest.mark.django_db(transaction=True)
def test_wait_for_returns_once_finished() -> None:
    job = services.enqueue("jobs.selftest", {"steps": 1})
    run_batch()
    assert services.wait_for(job.pk, 5).status == JobStatus.SUCCEEDED


@pytest.mark.django_db
def test_jobs_check_without_a_worker_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert jobs_check(0.2) == 1
    out, err = capsys.readouterr()
    job = Job.objects.get()
    assert f"Queued jobs.selftest job {job.pk}" in out
    assert f"no worker picked up job {job.pk}" in err
    assert job.status == JobStatus.QUEUED


def test_queue_backend_check_accepts_the_database_backend() -> None:
    assert check_queue_backend(None) == []


@pytest.mark.parametrize(
    "backend",
    [
        "django_tasks.backends.immediate.ImmediateBackend",
        "django_tasks.backends.dummy.DummyBackend",
    ],
)
def test_system_check_refuses_inline_backends(settings: Any, backend: str) -> None:
    settings.TASKS = {"default": {"BACKEND": backend}}
    errors = [message for message in checks.run_checks() if message.id == "labelkeep.E001"]
    assert len(errors) == 1
    assert errors[0].level == checks.ERROR
    assert backend in errors[0].msg

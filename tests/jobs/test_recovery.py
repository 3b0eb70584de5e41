"""A running job whose worker died (no heartbeat for JOB_STALE_AFTER) is recorded failed by
the next worker, once; a live one never is."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db.models.functions import Now
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from labelkeep.jobs import services
from labelkeep.jobs.apps import check_stale_after
from labelkeep.jobs.models import Job, JobStatus
from labelkeep.jobs.registry import REGISTRY, JobKind
from labelkeep.jobs.worker import run_batch


def running(*, beat: timedelta | None, started: timedelta = timedelta(0)) -> Job:
    now = timezone.now()
    return Job.objects.create(
        kind="jobs.selftest",
        status=JobStatus.RUNNING,
        started_at=now - started,
        heartbeat_at=None if beat is None else now - beat,
    )


@pytest.mark.django_db
def test_only_jobs_without_a_recent_heartbeat_are_failed(settings: Any) -> None:
    settings.JOB_STALE_AFTER = 300
    alive = running(beat=timedelta(seconds=100), started=timedelta(hours=2))
    dead = running(beat=timedelta(seconds=400))
    never_beat = running(beat=None, started=timedelta(seconds=400))

    assert services.recover_stale() == [dead.pk, never_beat.pk]

    for job in (alive, dead, never_beat):
        job.refresh_from_db()
    assert alive.status == JobStatus.RUNNING
    assert (dead.status, dead.error) == (JobStatus.FAILED, services.GONE)
    assert dead.finished_at is not None and never_beat.status == JobStatus.FAILED
    assert services.recover_stale() == []


@pytest.mark.django_db
def test_a_job_given_up_for_dead_stops_at_its_next_report() -> None:
    job = running(beat=timedelta(days=1))
    services.recover_stale()
    with pytest.raises(services.JobGone):
        services.JobContext(job, timeout=60).progress(1, 2)
    services._finish(job, JobStatus.SUCCEEDED, result={"late": True})
    job.refresh_from_db()
    assert (job.status, job.result) == (JobStatus.FAILED, None)  # the recovery's outcome stays


@pytest.mark.django_db(transaction=True)
def test_a_starting_worker_recovers_dead_workers_jobs() -> None:
    dead = running(beat=timedelta(days=1))
    run_batch()
    dead.refresh_from_db()
    assert dead.status == JobStatus.FAILED


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_moves_while_a_job_runs(settings: Any) -> None:
    settings.JOB_HEARTBEAT_INTERVAL = 0.05
    job = running(beat=timedelta(hours=1))
    with services.Heartbeat(job.pk):
        time.sleep(0.5)
    job.refresh_from_db()
    assert job.heartbeat_at is not None
    assert timezone.now() - job.heartbeat_at < timedelta(seconds=5)


def test_stale_after_must_leave_room_for_heartbeats(settings: Any) -> None:
    settings.JOB_HEARTBEAT_INTERVAL, settings.JOB_STALE_AFTER = 30, 60
    assert [e.id for e in check_stale_after(None)] == ["labelkeep.E002"]
    settings.JOB_STALE_AFTER = 90
    assert check_stale_after(None) == []


@pytest.mark.django_db
def test_heartbeats_are_judged_by_the_database_clock_not_the_workers(settings: Any) -> None:
    """A worker whose clock runs an hour fast must not fail a live job on another machine,
    nor one whose clock runs an hour slow keep a dead one."""
    settings.JOB_STALE_AFTER = 300
    alive = running(beat=timedelta(seconds=10))
    dead = running(beat=timedelta(seconds=400))
    real_now = timezone.now
    for skew in (timedelta(hours=1), -timedelta(hours=1)):
        with mock.patch("django.utils.timezone.now", lambda skew=skew: real_now() + skew):
            recovered = services.recover_stale()
        assert alive.pk not in recovered
    alive.refresh_from_db()
    dead.refresh_from_db()
    assert (alive.status, dead.status) == (JobStatus.RUNNING, JobStatus.FAILED)


@pytest.mark.django_db
def test_the_queues_own_record_of_a_dead_run_fails_with_the_job() -> None:
    job = services.enqueue("jobs.selftest", {})
    record = DBTaskResult.objects.get(pk=job.task_result_id)
    record.claim("a-worker-that-dies")
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(days=1)
    )

    assert services.recover_stale() == [job.pk]

    record.refresh_from_db()
    assert record.status == TaskResultStatus.FAILED
    assert record.finished_at is not None and services.GONE in record.traceback


@pytest.mark.django_db
def test_a_job_whose_reports_stop_is_recovered(settings: Any) -> None:
    """Heartbeats written by the database (its own timestamp format) compare right."""
    job = running(beat=None)
    Job.objects.filter(pk=job.pk).update(started_at=Now())
    services.JobContext(job, timeout=60).progress(1, 2)
    settings.JOB_STALE_AFTER = 0.2
    assert services.recover_stale() == []
    time.sleep(0.3)
    assert services.recover_stale() == [job.pk]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("ending", ["raises", "wraps", "returns"])
def test_a_run_given_up_for_dead_leaves_the_queues_record_failed(
    settings: Any, ending: str
) -> None:
    """The worker was alive after all: its run stops at the next report, and the queue's
    record stays failed with the job instead of being marked successful, whether the job
    kind lets JobGone through, wraps it in its own error, or swallows it and returns."""

    def slow(ctx: services.JobContext) -> None:
        Job.objects.filter(pk=ctx.job.pk).update(heartbeat_at=timezone.now() - timedelta(days=1))
        assert services.recover_stale() == [ctx.job.pk]  # another worker's sweep
        try:
            ctx.progress(1, 2)
        except services.JobGone as gone:
            if ending == "raises":
                raise
            if ending == "wraps":
                raise RuntimeError("the import failed") from gone

    with mock.patch.dict(REGISTRY, {"tests.slow": JobKind("tests.slow", slow, 60)}):
        job = services.enqueue("tests.slow", {})
        run_batch()
    job.refresh_from_db()
    record = DBTaskResult.objects.get(pk=job.task_result_id)
    assert (job.status, job.error) == (JobStatus.FAILED, services.GONE)
    assert record.status == TaskResultStatus.FAILED
    assert record.exception_class_path.endswith("JobGone")

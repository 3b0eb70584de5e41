"""A worker stopped in the middle of a job records the job failed (with its kind's
clean-up) instead of leaving it `running` until another worker's recovery."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any
from unittest import mock

import pytest
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from labelkeep.jobs import services
from labelkeep.jobs.models import JobStatus
from labelkeep.jobs.registry import REGISTRY, JobKind
from labelkeep.jobs.worker import make_worker, start_thread, stop_thread

pytestmark = pytest.mark.django_db(transaction=True)


class Blocking:
    """A job kind that runs until released, then reports progress once."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.abandoned: list[int] = []

    def run(self, ctx: services.JobContext) -> dict[str, Any]:
        self.started.set()
        self.release.wait(10)
        ctx.progress(1, 1)
        return {"done": True}

    def kind(self) -> JobKind:
        return JobKind("tests.blocking", self.run, 60, lambda job: self.abandoned.append(job.pk))


@pytest.fixture
def blocking(settings: Any) -> Any:
    # The worker thread's recovery sweeper (a daemon) must not wake in a later test.
    settings.JOB_STALE_AFTER = 10**7
    job_kind = Blocking()
    with mock.patch.dict(REGISTRY, {"tests.blocking": job_kind.kind()}):
        yield job_kind


def _wait(condition: Any) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_job_that_finishes_within_the_grace_succeeds(blocking: Blocking) -> None:
    job = services.enqueue("tests.blocking", {})
    thread, worker = start_thread(0.05)
    assert blocking.started.wait(10)
    threading.Timer(0.2, blocking.release.set).start()
    stop_thread(thread, worker, grace=5)
    assert not thread.is_alive()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and blocking.abandoned == []


def test_a_job_still_running_after_the_grace_is_failed_at_once(blocking: Blocking) -> None:
    job = services.enqueue("tests.blocking", {})
    thread, worker = start_thread(0.05)
    assert blocking.started.wait(10)
    _wait(lambda: worker.current is not None)
    stop_thread(thread, worker, grace=0.1)
    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.FAILED, services.STOPPED)
    assert blocking.abandoned == [job.pk]
    record = DBTaskResult.objects.get(pk=job.task_result_id)
    assert record.status == TaskResultStatus.FAILED
    blocking.release.set()  # the job's next report finds it given up (JobGone)
    thread.join(10)
    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.FAILED, services.STOPPED)


def test_a_second_signal_mid_job_records_it_failed_and_is_not_a_clean_exit() -> None:
    """django-tasks-db's worker exits on a second signal with SystemExit from inside the job;
    the job is recorded failed on the way out, and the worker says it was forced."""
    worker = make_worker(0, batch=True)

    def stopped_twice(ctx: services.JobContext) -> None:
        worker.running = False  # the first signal
        worker.shutdown(signal.SIGTERM, None)  # the second: raises SystemExit(1)

    with mock.patch.dict(REGISTRY, {"tests.stopped": JobKind("tests.stopped", stopped_twice, 60)}):
        job = services.enqueue("tests.stopped", {})
        with mock.patch.object(worker, "reset_signals"):
            worker.run()
    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.FAILED, services.STOPPED)
    assert worker.forced

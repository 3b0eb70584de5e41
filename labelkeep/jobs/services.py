"""The one job interface: enqueue a registered kind, report progress, read the outcome."""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, Q, QuerySet, Value
from django.db.models.functions import Now
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from labelkeep.jobs.models import Job, JobStatus
from labelkeep.jobs.registry import REGISTRY, JobKind, get_kind

logger = logging.getLogger(__name__)

FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED)


class JobFailed(Exception):
    """A job's own account of why it failed, written for whoever reads the job: its
    message is recorded as the job's `error`. Anything else a job raises may name paths,
    queries or internals, and is recorded only as INTERNAL_ERROR (the log has it all)."""


INTERNAL_ERROR = "The job failed because of an internal error; the server's log has the details."


class JobTimedOut(Exception):
    """The job ran past its registered timeout (checked at each progress report)."""


class JobGone(Exception):
    """The job is no longer running: recovery gave it up for dead (checked at each report)."""


class JobContext:
    """What a running job sees: its payload and a way to report progress."""

    def __init__(self, job: Job, timeout: int) -> None:
        self.job = job
        self.payload: dict[str, Any] = job.payload
        self._deadline = time.monotonic() + timeout

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Record progress; raises JobTimedOut once the job is past its deadline."""
        if time.monotonic() > self._deadline:
            raise JobTimedOut(f"{self.job.kind} exceeded its time limit")
        fields: dict[str, Any] = {"progress": done}
        if total is not None:
            fields["total"] = total
        if message:
            fields["message"] = message[:500]
        fields["heartbeat_at"] = Now()
        if not Job.objects.filter(pk=self.job.pk, status=JobStatus.RUNNING).update(**fields):
            raise JobGone(f"{self.job.kind} #{self.job.pk} is no longer running")


def enqueue(
    kind: str,
    payload: dict[str, Any],
    *,
    actor: Any | None = None,
    organization_id: int | None = None,
) -> Job:
    """Queue a job of a registered kind. Runs in a worker, never in the caller."""
    from labelkeep.jobs.tasks import run_job

    get_kind(kind)  # unknown kinds fail here, not in the worker
    json.dumps(payload)  # payloads are JSON, never pickles
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind, payload=payload, created_by=actor, organization_id=organization_id
        )
        queued = run_job.enqueue(job.pk)
        job.task_result_id = str(queued.id)
        job.save(update_fields=["task_result_id"])
    return job


def execute(job_id: int) -> None:
    """Run one queued job to completion, recording its state. Called by the worker."""
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=Now(), heartbeat_at=Now()
    )
    if not claimed:
        logger.warning("job %s is not queued; skipping", job_id)
        return
    job = Job.objects.get(pk=job_id)
    kind = get_kind(job.kind)
    try:
        with Heartbeat(job.pk):
            result = kind.function(JobContext(job, kind.timeout))
        json.dumps(result)
    except (SystemExit, KeyboardInterrupt):
        # The worker is being stopped in the middle of the job (a second SIGTERM or Ctrl-C
        # to `labelkeep worker`): record that now, as the recovery would much later.
        abandon(job.pk, STOPPED)
        raise
    except JobGone:
        _gone(job)
        raise
    except Exception as exc:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        error = f"{type(exc).__name__}: {exc}" if isinstance(exc, JobFailed) else INTERNAL_ERROR
        trace = traceback.format_exc()
        if not _cleaned_up(job, kind):
            return  # still running on record: the recovery fails it, cleaning up, later
        if not _finish(job, JobStatus.FAILED, error=error, trace=trace):
            _gone(job)
            raise JobGone(f"{job.kind} #{job.pk} is no longer running") from exc
        return
    if not _finish(job, JobStatus.SUCCEEDED, result=result):
        _gone(job)
        raise JobGone(f"{job.kind} #{job.pk} is no longer running")


def _cleaned_up(job: Job, kind: JobKind) -> bool:
    """After a failed run, its kind's clean-up (`abandoned`): a run that settled its own
    records on the way out leaves it nothing to do, but one whose own undo failed (a busy
    or lost database) would otherwise leave its work half done for good. False when the
    clean-up failed too; the job then stays running on record until the recovery finds
    it stale and runs the clean-up again."""
    if kind.abandoned is None:
        return True
    try:
        with transaction.atomic():
            kind.abandoned(job)
    except Exception:
        logger.exception("job %s (%s): the clean-up after its failure failed", job.pk, job.kind)
        return False
    return True


def _gone(job: Job) -> None:
    # Recovery gave the job up for dead and failed it, with the queue's record of this
    # run. Raised on (however the job kind ended), the queue keeps that record failed; a
    # return would mark it successful.
    logger.warning("job %s (%s) was given up for dead while it ran", job.pk, job.kind)


def _finish(job: Job, status: str, *, result: Any = None, error: str = "", trace: str = "") -> bool:
    """Record the outcome; False when the job was no longer running (recovery failed it,
    and that outcome stays)."""
    logger.debug("job %s finished %s %s", job.pk, status, trace)
    return bool(
        Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=status, result=result, error=error[:5000], finished_at=Now()
        )
    )


class Heartbeat:
    """While a job runs, a thread of its own marks it alive every JOB_HEARTBEAT_INTERVAL
    seconds, so a long step between progress reports never looks like a dead worker."""

    def __init__(self, job_id: int) -> None:
        self._job_id = job_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        interval = float(settings.JOB_HEARTBEAT_INTERVAL)
        try:
            while not self._stop.wait(interval):
                try:
                    running = Job.objects.filter(pk=self._job_id, status=JobStatus.RUNNING)
                    running.update(heartbeat_at=Now())
                except DatabaseError:  # a busy database: the next beat tries again
                    logger.warning("job %s: heartbeat failed", self._job_id, exc_info=True)
        finally:
            connection.close()  # this thread's own connection


GONE = "The worker running this job stopped before it finished."
STOPPED = "The worker running this job was stopped before it finished; run the job again."


def abandon(job_id: int, error: str = STOPPED) -> bool:
    """Fail a running job whose worker is stopping and cannot finish it, as the recovery
    fails a dead worker's (its kind's `abandoned` clean-up, the queue's record); False when
    it was not running any more. Errors are logged: the recovery will get to it later."""
    try:
        return _abandon(Job.objects.filter(pk=job_id, status=JobStatus.RUNNING), job_id, error)
    except Exception:
        logger.exception("could not record job %s as stopped; the recovery will", job_id)
        return False


def _abandon(candidates: QuerySet[Job], job_id: int, error: str) -> bool:
    """In one transaction: fail the job if it is still among `candidates`, fail the queue's
    record of its run, and run its kind's `abandoned(job)`; False when another worker (or a
    late heartbeat) got there first."""
    with transaction.atomic():
        if not candidates.filter(pk=job_id).update(
            status=JobStatus.FAILED, error=error, finished_at=Now()
        ):
            return False
        job = Job.objects.get(pk=job_id)
        _fail_queue_record(job, error)
        kind = REGISTRY.get(job.kind)
        if kind is not None and kind.abandoned is not None:
            kind.abandoned(job)
    return True


def recover_stale() -> list[int]:
    """Fail the running jobs whose worker is gone (no heartbeat for JOB_STALE_AFTER
    seconds by the database's clock), each with its kind's clean-up in the same
    transaction, and the queue's own record of the run with them; their ids."""
    # The database's clock, which every worker shares: workers on machines whose clocks
    # disagree still agree on how old a heartbeat is.
    stale_after = timedelta(seconds=float(settings.JOB_STALE_AFTER))
    cutoff = ExpressionWrapper(Now() - Value(stale_after), output_field=DateTimeField())
    stale = Job.objects.filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff),
        status=JobStatus.RUNNING,
    )
    recovered = []
    for job in stale.order_by("pk"):
        try:
            # Another worker's recovery, or a late heartbeat, wins: then leave it.
            if not _abandon(stale, job.pk, GONE):
                continue
        except Exception:
            logger.exception("could not recover job %s (%s); trying again later", job.pk, job.kind)
            continue
        logger.warning("job %s (%s) lost its worker: recorded as failed", job.pk, job.kind)
        recovered.append(job.pk)
    return recovered


def _fail_queue_record(job: Job, error: str) -> None:
    """The queue library's record of a dead worker's run would otherwise stay running."""
    if job.task_result_id:
        DBTaskResult.objects.filter(pk=job.task_result_id, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.FAILED,
            finished_at=Now(),
            exception_class_path=f"{JobGone.__module__}.{JobGone.__qualname__}",
            traceback=error,
        )


def wait_for(
    job_id: int,
    timeout: float,
    *,
    interval: float = 0.2,
    on_change: Callable[[Job], None] | None = None,
) -> Job:
    """Poll the job until it has finished or `timeout` seconds passed; return its last state.

    `on_change` sees the job each time its status, progress or message changes.
    """
    deadline = time.monotonic() + timeout
    seen: tuple[object, ...] | None = None
    while True:
        job = Job.objects.get(pk=job_id)
        state = (job.status, job.progress, job.total, job.message)
        if on_change is not None and state != seen:
            on_change(job)
        seen = state
        left = deadline - time.monotonic()
        if job.status in FINISHED or left <= 0:
            return job
        time.sleep(min(interval, left))

"""The one job interface: enqueue a registered kind, report progress, read the outcome."""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from labelkeep.jobs.models import Job, JobStatus
from labelkeep.jobs.registry import get_kind

logger = logging.getLogger(__name__)

FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED)


class JobTimedOut(Exception):
    """The job ran past its registered timeout (checked at each progress report)."""


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
        Job.objects.filter(pk=self.job.pk).update(**fields)


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
        status=JobStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        logger.warning("job %s is not queued; skipping", job_id)
        return
    job = Job.objects.get(pk=job_id)
    kind = get_kind(job.kind)
    try:
        result = kind.function(JobContext(job, kind.timeout))
        json.dumps(result)
    except Exception as exc:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        _finish(
            job,
            JobStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            trace=traceback.format_exc(),
        )
        return
    _finish(job, JobStatus.SUCCEEDED, result=result)


def _finish(job: Job, status: str, *, result: Any = None, error: str = "", trace: str = "") -> None:
    logger.debug("job %s finished %s %s", job.pk, status, trace)
    Job.objects.filter(pk=job.pk).update(
        status=status, result=result, error=error[:5000], finished_at=timezone.now()
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

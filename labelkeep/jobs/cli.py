"""`labelkeep jobs check`: prove that a worker picks up and runs queued jobs."""

from __future__ import annotations

import json
import sys

from labelkeep.jobs import services
from labelkeep.jobs.models import Job, JobStatus

SELFTEST = "jobs.selftest"


def _show(job: Job) -> None:
    total = "?" if job.total is None else job.total
    print(f"job {job.pk}: {job.status} {job.progress}/{total} {job.message}".rstrip(), flush=True)


def check(timeout: float) -> int:
    """Queue a self-test job and wait for it; 0 once it succeeded, 1 otherwise."""
    job = services.enqueue(SELFTEST, {"steps": 3})
    print(f"Queued {SELFTEST} job {job.pk}; waiting up to {timeout:g} s for a worker", flush=True)
    job = services.wait_for(job.pk, timeout, on_change=_show)
    if job.status == JobStatus.SUCCEEDED:
        print(f"job {job.pk} succeeded: {json.dumps(job.result)}")
        return 0
    if job.status == JobStatus.FAILED:
        print(f"error: job {job.pk} failed: {job.error}", file=sys.stderr)
    elif job.status == JobStatus.QUEUED:
        print(
            f"error: no worker picked up job {job.pk} within {timeout:g} s. It stays queued "
            "until one runs: `labelkeep start` (without --no-worker) or `labelkeep worker`.",
            file=sys.stderr,
        )
    else:
        print(f"error: job {job.pk} is still {job.status} after {timeout:g} s", file=sys.stderr)
    return 1

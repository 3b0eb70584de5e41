"""Built-in job kinds."""

from __future__ import annotations

import time
from typing import Any

from labelkeep.jobs.registry import register_job
from labelkeep.jobs.services import JobContext, JobFailed


@register_job("jobs.selftest", timeout=60)
def selftest(ctx: JobContext) -> dict[str, Any]:
    """Counts to `payload["steps"]`, reporting progress: proves the queue end to end.
    `payload["pause"]` (seconds, at most 5) waits before each step: a job that takes a
    while, to see what stopping a worker does to the job it runs."""
    steps = int(ctx.payload.get("steps", 3))
    pause = min(max(float(ctx.payload.get("pause", 0)), 0.0), 5.0)
    for done in range(1, steps + 1):
        time.sleep(pause)
        ctx.progress(done, steps, f"step {done} of {steps}")
    if ctx.payload.get("fail") == "internal":
        raise RuntimeError("an internal failure requested by the payload (/srv/secret)")
    if ctx.payload.get("fail"):
        raise JobFailed("failure requested by the payload")
    return {"steps": steps}

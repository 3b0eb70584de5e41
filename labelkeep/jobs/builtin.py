"""Built-in job kinds."""

from __future__ import annotations

from typing import Any

from labelkeep.jobs.registry import register_job
from labelkeep.jobs.services import JobContext


@register_job("jobs.selftest", timeout=60)
def selftest(ctx: JobContext) -> dict[str, Any]:
    """Counts to `payload["steps"]`, reporting progress: proves the queue end to end."""
    steps = int(ctx.payload.get("steps", 3))
    for done in range(1, steps + 1):
        ctx.progress(done, steps, f"step {done} of {steps}")
    if ctx.payload.get("fail"):
        raise RuntimeError("failure requested by the payload")
    return {"steps": steps}

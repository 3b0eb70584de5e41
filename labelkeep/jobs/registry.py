"""Registered job kinds: a name, a function and a timeout."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labelkeep.jobs.models import Job
    from labelkeep.jobs.services import JobContext

JobFunction = Callable[["JobContext"], Any]


JobAbandoned = Callable[["Job"], Any]


@dataclass(frozen=True)
class JobKind:
    name: str
    function: JobFunction
    timeout: int
    # Called, in a transaction, for a job of this kind whose worker died while running it.
    abandoned: JobAbandoned | None = None


REGISTRY: dict[str, JobKind] = {}


def register_job(
    name: str, *, timeout: int = 3600, abandoned: JobAbandoned | None = None
) -> Callable[[JobFunction], JobFunction]:
    """Register `function(ctx)` as job kind `name`; its result must be JSON. `abandoned(job)`
    cleans up after a run whose worker died (see `recover_stale` in services)."""

    def wrap(function: JobFunction) -> JobFunction:
        if name in REGISTRY and REGISTRY[name].function is not function:
            raise ValueError(f"job kind {name!r} is registered twice")
        REGISTRY[name] = JobKind(name, function, timeout, abandoned)
        return function

    return wrap


def get_kind(name: str) -> JobKind:
    try:
        return REGISTRY[name]
    except KeyError:
        raise LookupError(f"unknown job kind {name!r}") from None

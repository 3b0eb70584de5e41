"""The label stream: which task a person labels next, with a short lock so that two
people never get the same task while the task still needs fewer annotations than that."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Count,
    DateTimeField,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from labelkeep.accounts.models import User
from labelkeep.db.prepared import PreparedDelete, PreparedSelect, PreparedUpdate
from labelkeep.projects.models import Project, Sampling
from labelkeep.tasks.models import Annotation, Task, TaskLock, labeled


def _serialize_per_project(project: Project) -> None:
    """SQLite transactions already take the write lock up front (IMMEDIATE); PostgreSQL
    gets a transaction-scoped advisory lock per project, so choices never interleave.

    The lock is held until the commit, so on PostgreSQL this transaction does not wait
    for its commit record to reach the disk (`synchronous_commit` off, for it alone):
    every `next` of the project would otherwise queue behind that flush. Task locks are
    short-lived reservations; a crash could forget the last moment's, which at worst
    gives a task to a second person, never loses work."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('synchronous_commit', 'off', true), "
                "pg_advisory_xact_lock(%s, %s)",
                [7001, project.pk],
            )


def _available(project: int, user: int, now: dt.datetime) -> QuerySet[Task]:
    """Tasks that still need annotations, that `user` has not annotated or skipped, and
    that others' live locks do not already cover."""
    others_locks = (
        TaskLock.objects.filter(task=OuterRef("pk"), expires_at__gt=now)
        .exclude(user_id=user)
        .values("task")
        .annotate(n=Count("id"))
        .values("n")
    )
    # Probed per candidate on the (project, completed_by, task) index: the cost follows the
    # tasks passed over, not everything the user has ever annotated (as `NOT IN` would).
    # A scalar subquery, not NOT EXISTS: PostgreSQL turns NOT EXISTS into an anti join,
    # and with statistics that predate a burst of skips it plans that join as a loop over
    # all the user's annotations for every candidate (10,000 skips: 3 s for one `next`).
    done_by_user = Annotation.objects.filter(
        project_id=project, completed_by_id=user, task_id=OuterRef("pk")
    ).values("task")[:1]  # in the index: no row is read
    return (
        Task.objects.filter(labeled(False), project_id=project)
        .alias(done_by_user=Subquery(done_by_user))
        .filter(done_by_user__isnull=True)
        .annotate(locks=Coalesce(Subquery(others_locks), Value(0)))
        .filter(overlap__gt=F("total_annotations") + F("locks"))
    )


# The stream's queries, prepared: `next` runs several per call.
_DROP_EXPIRED = PreparedDelete(
    lambda project, now: TaskLock.objects.filter(project_id=project, expires_at__lte=now),
    project=int,
    now=dt.datetime,
)
_HELD = PreparedSelect(
    lambda project, user, now: _available(project, user, now)
    .filter(pk__in=TaskLock.objects.filter(project_id=project, user_id=user).values("task"))
    .order_by("id")[:1],
    project=int,
    user=int,
    now=dt.datetime,
)


def _first_available(lookup: str) -> PreparedSelect[Task]:
    """The lowest-id available task whose id passes `lookup` against `pivot`."""
    return PreparedSelect(
        lambda project, user, now, pivot: _available(project, user, now)
        .filter(**{f"pk__{lookup}": pivot})
        .order_by("id")[:1],
        project=int,
        user=int,
        now=dt.datetime,
        pivot=int,
    )


_FIRST_FROM, _FIRST_BEFORE = _first_available("gte"), _first_available("lt")
_LOWEST = PreparedSelect(
    lambda project: Task.objects.filter(project_id=project).order_by("id").values_list("id")[:1],
    project=int,
)
_HIGHEST = PreparedSelect(
    lambda project: Task.objects.filter(project_id=project).order_by("-id").values_list("id")[:1],
    project=int,
)
_EXTEND = PreparedUpdate(
    lambda task, user, expires: (
        TaskLock.objects.filter(task_id=task, user_id=user),
        {"expires_at": Value(expires, output_field=DateTimeField())},
    ),
    task=int,
    user=int,
    expires=dt.datetime,
)


# Uniform sampling probes random points of the project's id range: the task at or after
# each point is taken if it is available. Every task is as likely to be probed as any other
# (ids are dense; a gap left by deleted tasks favours the task after it), so the pick is
# uniform over what is available. Taking the first *available* task after a random point
# instead would favour the task after each run of finished ones: after labeling the first
# two thirds in order, that task two times out of three. When most tasks are done the
# probes mostly miss, and after PROBES misses that biased pick is the fallback.
PROBES = 8
_PROBE = PreparedSelect(
    lambda project, user, now, pivot: _available(project, user, now).filter(
        pk=Subquery(
            Task.objects.filter(project_id=project, pk__gte=pivot).order_by("id").values("id")[:1]
        )
    ),
    project=int,
    user=int,
    now=dt.datetime,
    pivot=int,
)


def _pick_uniform(values: dict[str, Any], low: int, high: int) -> Task | None:
    for _ in range(PROBES):
        task = _PROBE.first(**values, pivot=random.randint(low, high))  # noqa: S311 (sampling)
        if task is not None:
            return task
    pivot = random.randint(low, high)  # noqa: S311 (sampling, not security)
    return _FIRST_FROM.first(**values, pivot=pivot) or _FIRST_BEFORE.first(**values, pivot=pivot)


def _pick(project: Project, user: User, now: dt.datetime) -> Task | None:
    values: dict[str, Any] = {"project": project.pk, "user": user.pk, "now": now}
    if project.sampling != Sampling.UNIFORM:
        return _FIRST_FROM.first(**values, pivot=0)
    low, high = _LOWEST.first(project=project.pk), _HIGHEST.first(project=project.pk)
    if low is None or high is None:
        return None
    return _pick_uniform(values, low[0], high[0])


def next_task(project: Project, user: User) -> Task | None:
    """The task `user` should label next in `project`, now locked for them; None when done."""
    now = timezone.now()
    expires = now + dt.timedelta(seconds=settings.TASK_LOCK_TTL)
    with transaction.atomic():
        _serialize_per_project(project)
        _DROP_EXPIRED.run(project=project.pk, now=now)
        task = _HELD.first(project=project.pk, user=user.pk, now=now) or _pick(project, user, now)
        if task is None:
            return None
        # One lock per (task, user); choices in a project never interleave, so no race.
        if not _EXTEND.run(task=task.pk, user=user.pk, expires=expires):
            TaskLock.objects.create(task=task, project=project, user=user, expires_at=expires)
    return task


_RELEASE = PreparedDelete(
    lambda task, user: TaskLock.objects.filter(task_id=task, user_id=user), task=int, user=int
)


def release(task: Task, user: User) -> None:
    """The user finished (or skipped) the task: give up their lock."""
    _RELEASE.run(task=task.pk, user=user.pk)

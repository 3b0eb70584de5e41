"""The label stream: which task a person labels next, with a short lock so that two
people never get the same task while the task still needs fewer annotations than that."""

from __future__ import annotations

import datetime as dt
import random

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from labelkeep.accounts.models import User
from labelkeep.db.prepared import PreparedDelete
from labelkeep.projects.models import Project, Sampling
from labelkeep.tasks.models import Annotation, Task, TaskLock


def _serialize_per_project(project: Project) -> None:
    """SQLite transactions already take the write lock up front (IMMEDIATE); PostgreSQL
    gets a transaction-scoped advisory lock per project, so choices never interleave."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7001, project.pk])


def _available(project: Project, user: User, now: dt.datetime) -> QuerySet[Task]:
    others_locks = (
        TaskLock.objects.filter(task=OuterRef("pk"), expires_at__gt=now)
        .exclude(user=user)
        .values("task")
        .annotate(n=Count("id"))
        .values("n")
    )
    done_by_user = Annotation.objects.filter(project=project, completed_by=user).values("task")
    return (
        Task.objects.filter(project=project, is_labeled=False)
        .exclude(pk__in=done_by_user)
        .annotate(locks=Coalesce(Subquery(others_locks), Value(0)))
        .filter(overlap__gt=F("total_annotations") + F("locks"))
    )


def _pick(project: Project, candidates: QuerySet[Task]) -> Task | None:
    if project.sampling != Sampling.UNIFORM:
        return candidates.order_by("id").first()
    bounds = Task.objects.filter(project=project).order_by("id").values_list("id", flat=True)
    low, high = bounds.first(), bounds.last()
    if low is None or high is None:
        return None
    pivot = random.randint(low, high)  # noqa: S311 (sampling, not security)
    return (
        candidates.filter(pk__gte=pivot).order_by("id").first()
        or candidates.filter(pk__lt=pivot).order_by("id").first()
    )


def next_task(project: Project, user: User) -> Task | None:
    """The task `user` should label next in `project`, now locked for them; None when done."""
    now = timezone.now()
    expires = now + dt.timedelta(seconds=settings.TASK_LOCK_TTL)
    with transaction.atomic():
        _serialize_per_project(project)
        TaskLock.objects.filter(project=project, expires_at__lte=now).delete()
        candidates = _available(project, user, now)
        held = TaskLock.objects.filter(project=project, user=user).values("task")
        task = candidates.filter(pk__in=held).order_by("id").first() or _pick(project, candidates)
        if task is None:
            return None
        TaskLock.objects.update_or_create(
            task=task, user=user, defaults={"project": project, "expires_at": expires}
        )
    return task


_RELEASE = PreparedDelete(
    lambda task, user: TaskLock.objects.filter(task_id=task, user_id=user), task=int, user=int
)


def release(task: Task, user: User) -> None:
    """The user finished (or skipped) the task: give up their lock."""
    _RELEASE.run(task=task.pk, user=user.pk)

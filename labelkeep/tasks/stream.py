"""The label stream: which task a person labels next, with a short lock so that two
people never get the same task while the task still needs fewer annotations than that.

Sequential sampling hands tasks out by id. Uncertainty sampling hands out the task whose
prediction (of the project's model version, when it names one) has the lowest score, then
the tasks without a scored prediction by id. Uniform sampling probes random ids (below).
A project that shows tasks with overlap first hands out its tasks that need more than one
annotation (`overlap` above 1) first, in its sampling's order, and then the others: each
order has a *shared* twin narrowed to those tasks, walked before it on a partial index.
One that shows ground truth first hands out, before all that, the tasks with a ground
truth annotation, by id, walking the project's ground truths as one more order
(_ByGroundTruth).

A search walks its order from the start and passes over what the person may not take:
tasks others finished, tasks others hold, and the person's own tasks. Their skips leave
tasks unlabeled, so an id-ordered walk meets every one of them, and a score-ordered walk
meets every labeled task that scored lower (an index on predictions knows nothing of
labels). So each process remembers, per person, project and order, a *place*: where their
search starts, with everything before it labeled or theirs when the search passed it. A
search then costs what changed since the person's last one, not what they did in all.

Work can come back behind a place: an annotation deleted or turned into a skip, a task's
overlap raised or `is_labeled` unset by hand, a prediction added (or rescored) below it.
Each search therefore first looks at predictions made since the last one (ids only grow:
CATCH_UP of them at a time), and re-checks up to SWEEP entries behind the place,
continuing where the last search that found nothing there stopped (and from the
beginning once that reaches the place); of what the two find, it takes the task that
comes first. A person with fewer than SWEEP entries behind their place (in id order,
only their own unlabeled tasks) is thus served exactly as by a walk from the start; with
more, a task that needs work again reaches them within (entries behind) / SWEEP searches
that find nothing behind the place. When nothing is found from the places on, the stream
looks once from the start before saying that nothing is left, so no task is ever lost. A
change of the project's settings (its sampling, model version or overlap among them)
forgets its places, as do a restart and the least recently used end of the memory
(_KEPT places per process).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Concat
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from labelkeep.accounts.models import User
from labelkeep.db.prepared import Kind, PreparedDelete, PreparedSelect, PreparedUpdate
from labelkeep.db.rows import RowGreaterThan, RowGreaterThanOrEqual, RowLessThan
from labelkeep.projects.models import Project, Sampling
from labelkeep.tasks.models import Annotation, Prediction, Task, TaskLock, labeled


def _serialize_per_project(project: Project) -> None:
    """SQLite transactions already take the write lock up front (IMMEDIATE); PostgreSQL
    gets a transaction-scoped advisory lock per project, so choices never interleave.

    The lock is held until the commit, so on PostgreSQL this transaction does not wait
    for its commit record to reach the disk (`synchronous_commit` off, for it alone):
    every `next` of the project would otherwise queue behind that flush. Task locks are
    short-lived reservations; a crash could forget the last moment's, which at worst
    gives a task to a second person, never loses work.

    Its statements are planned for the values they run with (`plan_cache_mode`, for this
    transaction alone). A prepared statement run often otherwise gets a generic plan, made
    without them: for a walk between two ids it guesses a narrow range, and may pick the
    primary key, which checks every task of the range when the range is the whole project
    (a sweep of a tier the person has done: 40 ms a `next` at 100,000 tasks)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('synchronous_commit', 'off', true), "
                "set_config('plan_cache_mode', 'force_custom_plan', true), "
                "pg_advisory_xact_lock(%s, %s)",
                [7001, project.pk],
            )


def _theirs(project: int, user: int, task: OuterRef) -> Subquery:
    """One of the user's annotations (or skips) of the task, or NULL.

    Probed per candidate on the (project, completed_by, task) index: the cost follows the
    tasks passed over, not everything the user has ever annotated (as `NOT IN` would).
    A scalar subquery, not NOT EXISTS: PostgreSQL turns NOT EXISTS into an anti join,
    and with statistics that predate a burst of skips it plans that join as a loop over
    all the user's annotations for every candidate (10,000 skips: 3 s for one `next`)."""
    found = Annotation.objects.filter(project_id=project, completed_by_id=user, task_id=task)
    return Subquery(found.values("task")[:1])  # in the index: no row is read


def _held_by_others(user: int, now: dt.datetime, task: OuterRef) -> Coalesce:
    """How many live locks of other people the task has."""
    locks = (
        TaskLock.objects.filter(task_id=task, expires_at__gt=now)
        .exclude(user_id=user)
        .values("task")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(locks), Value(0))


def _open(project: int, user: int) -> QuerySet[Task]:
    """Tasks that still need annotations and that `user` has not annotated or skipped."""
    return (
        Task.objects.filter(labeled(False), project_id=project)
        .alias(done_by_user=_theirs(project, user, OuterRef("pk")))
        .filter(done_by_user__isnull=True)
    )


def _available(project: int, user: int, now: dt.datetime) -> QuerySet[Task]:
    """Open tasks that others' live locks do not already cover."""
    return (
        _open(project, user)
        .annotate(locks=_held_by_others(user, now, OuterRef("pk")))
        .filter(overlap__gt=F("total_annotations") + F("locks"))
    )


_BASE: dict[str, Kind] = {"project": int, "user": int, "now": dt.datetime}

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
    **_BASE,
)
_FETCH = PreparedSelect(
    lambda project, user, now, task: _available(project, user, now).filter(pk=task)[:1],
    **_BASE,
    task=int,
)


def _first_available(lookup: str, shared: bool = False) -> PreparedSelect[Task]:
    """The lowest-id available task whose id passes `lookup` against `pivot` (of those
    that need more than one annotation, when `shared`)."""

    def build(project: int, user: int, now: dt.datetime, pivot: int) -> QuerySet[Task]:
        tasks = _available(project, user, now)
        tasks = _shared(tasks) if shared else tasks
        return tasks.filter(**{f"pk__{lookup}": pivot}).order_by("id")[:1]

    return PreparedSelect(build, **_BASE, pivot=int)


_FIRST_FROM, _FIRST_BEFORE = _first_available("gte"), _first_available("lt")
_FIRST_SHARED_FROM = _first_available("gte", shared=True)
_FIRST_SHARED_BEFORE = _first_available("lt", shared=True)
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


# --- Orders -----------------------------------------------------------------------------

SWEEP = 128  # entries behind a place re-checked per search

# An entry seen by a sweep: (position, task, whether the task is in the order now (unlabeled,
# and of the order's kind: shared, unscored), theirs, others' locks, overlap, finished
# annotations).
Row = tuple[int, int, bool, int | None, int, int, int]


class _Order(Protocol):
    """Entries in the order tasks are handed out, each naming a task. A position names an
    entry; position 0 names the beginning."""

    name: str

    def ahead(self, values: dict[str, Any], start: int) -> Task | None:
        """The first available task from position `start` on."""

    def frontier(self, values: dict[str, Any], start: int) -> int | None:
        """The first position from `start` on whose task is open to the user."""

    def end(self, values: dict[str, Any]) -> int | None:
        """A place after every entry there is now (None: past the end for good)."""

    def behind(self, values: dict[str, Any], cursor: int, start: int | None) -> list[Row]:
        """Up to SWEEP entries after `cursor` and before `start` (None: the end)."""

    def newest(self, values: dict[str, Any]) -> int:
        """The newest entry's id, for orders where new entries can come before a place
        (0 for the others)."""

    def added(self, values: dict[str, Any], since: int, start: int | None) -> Task | None:
        """The first available task among up to CATCH_UP entries made after `since` that
        come before `start`."""

    def earlier(self, values: dict[str, Any], first: Task, second: Task) -> bool:
        """Whether `first` comes before `second` (two tasks with entries in the order)."""


def _base(values: dict[str, Any]) -> dict[str, Any]:
    return {name: values[name] for name in _BASE}


def _prepared(build: Callable[..., QuerySet[Any, Any]], version: bool, **kinds: Kind) -> Any:
    """A prepared query of an order; `version` adds the model version to its values."""
    return PreparedSelect(build, **_BASE, **kinds, **({"version": str} if version else {}))


def _scored(version: bool, values: dict[str, Any], **match: Any) -> QuerySet[Prediction]:
    """Predictions with a score (of the project's model version, when `version`)."""
    found = Prediction.objects.filter(score__isnull=False, **match)
    return found.filter(model_version=values["version"]) if version else found


Narrow = Callable[[QuerySet[Task], dict[str, Any]], QuerySet[Task]]


def _unscored(version: bool) -> Narrow:
    """Keeps the tasks without a scored prediction (probed on the (task, id) index)."""

    def narrow(tasks: QuerySet[Task], values: dict[str, Any]) -> QuerySet[Task]:
        scored = _scored(version, values, task_id=OuterRef("pk")).values("pk")[:1]
        return tasks.alias(scored=Subquery(scored)).filter(scored__isnull=True)

    return narrow


# With the 1 written into the SQL, as the `task_project_shared` index's condition has it: a
# bound parameter could be anything, so PostgreSQL's generic plan of a prepared statement
# (its choice after five runs) could not use that index.
_SHARED = Q(GreaterThan(F("overlap"), RawSQL("1", (), output_field=IntegerField())))


def _shared(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """Tasks that need more than one annotation (read on the `task_project_shared` index)."""
    return tasks.filter(_SHARED)


class _Walked:
    """`ahead` and `frontier` of an order, from its prepared queries of them."""

    _ahead: Any
    _frontier: Any

    def ahead(self, values: dict[str, Any], start: int) -> Task | None:
        task: Task | None = self._ahead.first(**values, pivot=start)
        return task

    def frontier(self, values: dict[str, Any], start: int) -> int | None:
        found = self._frontier.first(**values, pivot=start)
        return None if found is None else int(found[0])


class _ById(_Walked):
    """Unlabeled tasks by id (only those that need more than one annotation, when
    `shared`; only those without a scored prediction, when `unscored`); positions are task
    ids.

    The sweep behind a place reads the tasks the index holds (unlabeled ones, of the shared
    tier when `shared`: a partial index) and checks for a scored prediction per row
    rather than in the statement: among mostly scored tasks, a statement that kept only
    unscored ones would read every task behind the place to find SWEEP of them."""

    def __init__(self, name: str, version: bool, *, shared: bool, unscored: bool) -> None:
        self.name = name
        self._unscored = unscored

        def tier(tasks: QuerySet[Task]) -> QuerySet[Task]:
            return _shared(tasks) if shared else tasks

        def narrow(tasks: QuerySet[Task], v: dict[str, Any]) -> QuerySet[Task]:
            return _unscored(version)(tier(tasks), v) if unscored else tier(tasks)

        def scored(v: dict[str, Any]) -> dict[str, Any]:
            if not unscored:
                return {}
            found = _scored(version, v, task_id=OuterRef("pk")).values("pk")[:1]
            return {"scored": Subquery(found)}

        self._ahead = _prepared(
            lambda pivot, **v: narrow(_available(v["project"], v["user"], v["now"]), v)
            .filter(pk__gte=pivot)
            .order_by("id")[:1],
            version,
            pivot=int,
        )
        self._frontier = _prepared(
            lambda pivot, **v: narrow(_open(v["project"], v["user"]), v)
            .filter(pk__gte=pivot)
            .order_by("id")
            .values_list("id")[:1],
            version,
            pivot=int,
        )
        columns = ("id", "theirs", "locks", "overlap", "total_annotations")
        self._behind = _prepared(
            lambda cursor, start, **v: tier(
                Task.objects.filter(
                    labeled(False), project_id=v["project"], pk__gt=cursor, pk__lt=start
                )
            )
            .annotate(
                theirs=_theirs(v["project"], v["user"], OuterRef("pk")),
                locks=_held_by_others(v["user"], v["now"], OuterRef("pk")),
                **scored(v),
            )
            .order_by("id")
            .values_list(*columns, *(["scored"] if unscored else []))[:SWEEP],
            version,
            cursor=int,
            start=int,
        )

    def end(self, values: dict[str, Any]) -> int | None:
        # Ids only grow: tasks made later come after this place.
        highest = _HIGHEST.first(project=values["project"])
        return 0 if highest is None else int(highest[0]) + 1

    def behind(self, values: dict[str, Any], cursor: int, start: int | None) -> list[Row]:
        end = _BIGGEST_ID if start is None else start  # (an id order's start is never None)
        rows = self._behind.all(**values, cursor=cursor, start=end)
        if self._unscored:  # a task with a scored prediction is in the other order
            return [(pk, pk, found is None, *rest) for pk, *rest, found in rows]
        return [(pk, pk, True, *rest) for pk, *rest in rows]

    def newest(self, values: dict[str, Any]) -> int:
        return 0  # new tasks have higher ids: they come after every place

    def added(self, values: dict[str, Any], since: int, start: int | None) -> Task | None:
        return None

    def earlier(self, values: dict[str, Any], first: Task, second: Task) -> bool:
        return first.pk < second.pk


# Positions in score order are prediction ids, standing for that prediction's entry
# (score, task). Position 0 names no prediction: it reads as before every entry (as a
# start) and after every entry (as an end). A deleted prediction's position reads the same
# way (nothing forgets places when predictions go), which at worst walks from the beginning.
_MAX = sys.float_info.max
_BIGGEST_ID = 2**63 - 1


def _entry(pivot: int, low: bool) -> tuple[Coalesce, Coalesce]:
    """The (score, task) of the prediction `pivot`, or the lowest (highest) entry there
    could be."""
    found = Prediction.objects.filter(pk=pivot)
    score = Value(-_MAX if low else _MAX, output_field=FloatField())
    task = Value(0 if low else _BIGGEST_ID, output_field=IntegerField())
    return (
        Coalesce(Subquery(found.values("score")[:1]), score),
        Coalesce(Subquery(found.values("task_id")[:1]), task),
    )


# Bounds on entries as row comparisons of (score, task), which both databases turn into
# the two ends of one walk on the index: predictions that share a score (all of them, in a
# project whose model gives one score) are then read from the bound, not from the first.
def _from(pivot: int) -> Q:
    score, task = _entry(pivot, low=True)
    return Q(RowGreaterThanOrEqual((F("score"), F("task_id")), (score, task)))


def _after(pivot: int) -> Q:
    score, task = _entry(pivot, low=True)
    return Q(RowGreaterThan((F("score"), F("task_id")), (score, task)))


def _before(pivot: int, column: str = "score") -> Q:
    score, task = _entry(pivot, low=False)
    return Q(RowLessThan((F(column), F("task_id")), (score, task)))


CATCH_UP = 500  # new predictions looked at per search

_NEWEST = PreparedSelect(
    lambda project: Prediction.objects.filter(project_id=project)
    .order_by("-id")
    .values_list("id")[:1],
    project=int,
)
_CAUGHT_UP_TO = PreparedSelect(
    lambda project, since: Prediction.objects.filter(project_id=project, pk__gt=since)
    .order_by("id")
    .values_list("id")[CATCH_UP - 1 : CATCH_UP],
    project=int,
    since=int,
)


def _made_after(project: int, since: int) -> Subquery:
    """The ids of the next CATCH_UP predictions of the project made after `since`, read
    on the (project, id) index: the search for new entries never walks the score order."""
    made = Prediction.objects.filter(project_id=project, pk__gt=since).order_by("id")
    return Subquery(made.values("pk")[:CATCH_UP])


def _new_entries(version: bool, values: dict[str, Any], since: int) -> QuerySet[Prediction]:
    """Scored predictions among the next CATCH_UP made after `since`. Only that list of
    ids can lead the plan: the project is implied by it, and model version and score are
    compared as expressions no index holds, so no planner, with or without statistics,
    walks the score order to find a few new entries. `bare` is the score."""
    found = Prediction.objects.filter(pk__in=_made_after(values["project"], since))
    found = found.alias(bare=F("score") + Value(0.0)).filter(bare__isnull=False)
    if not version:
        return found
    return found.alias(kind=Concat(F("model_version"), Value(""))).filter(kind=values["version"])


# What a sweep reads of an entry of a score or ground truth order, after its position and
# task: see Row.
_PROBED = ("task__is_labeled", "theirs", "locks", "task__overlap", "task__total_annotations")


def _probes(project: int, user: int, now: dt.datetime, wanted: Q) -> dict[str, Case]:
    """A sweep's probes of an entry's task (one of the person's annotations; others' live
    locks), made only for the entries `wanted` keeps: most entries behind a place are of
    tasks nobody could take (labeled ones; in a shared tier, the others too)."""
    task = OuterRef("task_id")
    return {
        "theirs": Case(When(wanted, then=_theirs(project, user, task)), default=None),
        "locks": Case(When(wanted, then=_held_by_others(user, now, task)), default=Value(0)),
    }


class _ByScore(_Walked):
    """Scored predictions by (score, task), walked on the (project, model_version, score,
    task) index: a task's first entry carries its lowest score."""

    def __init__(self, name: str, version: bool, shared: bool = False) -> None:
        self.name = name
        self._version = version

        def entries(v: dict[str, Any], *where: Q) -> QuerySet[Prediction]:
            found = _scored(version, v, project_id=v["project"]).filter(*where)
            return found.order_by("score", "task_id")

        def task_in(tasks: QuerySet[Task]) -> Subquery:
            # A scalar probe per entry, never a join the planner could turn around.
            if shared:
                tasks = _shared(tasks)
            return Subquery(tasks.filter(pk=OuterRef("task_id")).values("pk")[:1])

        self._ahead = _prepared(
            lambda pivot, **v: Task.objects.filter(
                pk=Subquery(
                    entries(v, _from(pivot))
                    .alias(ok=task_in(_available(v["project"], v["user"], v["now"])))
                    .filter(ok__isnull=False)
                    .values("task_id")[:1]
                )
            ),
            version,
            pivot=int,
        )
        self._frontier = _prepared(
            lambda pivot, **v: entries(v, _from(pivot))
            .alias(ok=task_in(_open(v["project"], v["user"])))
            .filter(ok__isnull=False)
            .values_list("id")[:1],
            version,
            pivot=int,
        )
        self._shared = shared
        wanted = Q(task__is_labeled__in=[False]) & (Q(task__overlap__gt=1) if shared else Q())
        self._behind = _prepared(
            lambda cursor, start, **v: entries(v, _after(cursor), _before(start))
            .annotate(**_probes(v["project"], v["user"], v["now"], wanted))
            .values_list("id", "task_id", *_PROBED)[:SWEEP],
            version,
            cursor=int,
            start=int,
        )
        self._added = _prepared(
            lambda since, start, **v: Task.objects.filter(
                pk=Subquery(
                    _new_entries(version, v, since)
                    .filter(_before(start, "bare"))
                    .alias(ok=task_in(_available(v["project"], v["user"], v["now"])))
                    .filter(ok__isnull=False)
                    .order_by("bare", "task_id")
                    .values("task_id")[:1]
                )
            ),
            version,
            since=int,
            start=int,
        )

    def end(self, values: dict[str, Any]) -> int | None:
        return None  # new predictions are caught up with (`added`), wherever they fall

    def newest(self, values: dict[str, Any]) -> int:
        found = _NEWEST.first(project=values["project"])
        return 0 if found is None else int(found[0])

    def added(self, values: dict[str, Any], since: int, start: int | None) -> Task | None:
        task: Task | None = self._added.first(**values, since=since, start=start or 0)
        return task

    def behind(self, values: dict[str, Any], cursor: int, start: int | None) -> list[Row]:
        # The shared tier's tasks are told apart here, not in the statement: when they are
        # few, a statement that kept only theirs would read most of the index.
        rows = self._behind.all(**values, cursor=cursor, start=start or 0)
        return [
            (pk, task, not done and (not self._shared or overlap > 1), theirs, locks, overlap, n)
            for pk, task, done, theirs, locks, overlap, n in rows
        ]

    def earlier(self, values: dict[str, Any], first: Task, second: Task) -> bool:
        # Rare (a new entry and reopened work found in one search): not prepared.
        both = _scored(self._version, values, task_id__in=[first.pk, second.pk])
        lowest = both.order_by("score", "task_id").values_list("task_id", flat=True)[:1]
        return list(lowest) == [first.pk]


def _uncertain(version: bool, shared: bool) -> tuple[_Order, ...]:
    prefix = "shared-" if shared else ""
    return (
        _ByScore(f"{prefix}scored-{version}", version, shared),
        _ById(f"{prefix}unscored-{version}", version, shared=shared, unscored=True),
    )


_SEQUENTIAL = _ById("sequential", version=False, shared=False, unscored=False)
_SHARED_SEQUENTIAL = _ById("shared-sequential", version=False, shared=True, unscored=False)
_UNCERTAIN = {version: _uncertain(version, shared=False) for version in (False, True)}
_SHARED_UNCERTAIN = {version: _uncertain(version, shared=True) for version in (False, True)}


def _orders(project: Project) -> tuple[_Order, ...]:
    """The orders a search walks, one after the other (uniform sampling walks the shared
    one only once its random probes miss)."""
    if project.sampling == Sampling.UNCERTAINTY:
        version = bool(project.model_version)
        if project.show_overlap_first:
            return (*_SHARED_UNCERTAIN[version], *_UNCERTAIN[version])
        return _UNCERTAIN[version]
    if project.sampling == Sampling.UNIFORM:
        return (_SHARED_SEQUENTIAL,) if project.show_overlap_first else ()
    return (_SHARED_SEQUENTIAL, _SEQUENTIAL) if project.show_overlap_first else (_SEQUENTIAL,)


def _values(project: Project, user: User, now: dt.datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"project": project.pk, "user": user.pk, "now": now}
    if project.sampling == Sampling.UNCERTAINTY and project.model_version:
        values["version"] = project.model_version
    return values


# --- Places -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    """Where a person's search in one order starts (0: the beginning; None: past the end),
    and the position after which re-checking the entries behind it goes on."""

    start: int | None = 0
    cursor: int = 0
    seen: int = 0  # the newest entry when the place was last caught up (score orders)


_KEPT = 20_000  # places per process, the least recently used forgotten first
_places: OrderedDict[tuple[Any, ...], tuple[tuple[Any, ...], _Place]] = OrderedDict()
_places_lock = threading.Lock()


def _key(project: Project, user: User, order: _Order) -> tuple[Any, ...]:
    # Creation times too: ids come back after a rollback (tests) or a restored backup.
    people = (project.pk, project.created_at, user.pk, user.date_joined)
    return (connection.alias, *people, order.name)


def _signature(project: Project) -> tuple[Any, ...]:
    """What a place depends on besides the tasks: a change forgets the project's places.

    With the time of the last settings change: an overlap changed and changed back while
    a person asked nothing (of this process) recounts every task, and the settings alone
    would read as unchanged."""
    chosen = (
        project.sampling,
        project.model_version,
        project.maximum_annotations,
        project.overlap_cohort_percentage,
        project.show_overlap_first,
    )
    return (*chosen, project.updated_at)


def _recall(key: tuple[Any, ...], signature: tuple[Any, ...]) -> _Place:
    with _places_lock:
        found = _places.get(key)
        if found is None or found[0] != signature:
            return _Place()
        _places.move_to_end(key)
        return found[1]


def _remember(key: tuple[Any, ...], signature: tuple[Any, ...], place: _Place) -> None:
    with _places_lock:
        _places[key] = (signature, place)
        _places.move_to_end(key)
        while len(_places) > _KEPT:
            _places.popitem(last=False)


def forget_places() -> None:
    """Forget every remembered place (for tests; the stream never needs to)."""
    with _places_lock:
        _places.clear()


def _takes(row: Row) -> bool:
    """Whether the person may take the task of a sweep's entry now."""
    _, _, in_order, theirs, locks, overlap, total = row
    return in_order and theirs is None and overlap > total + locks


def _sweep(order: _Order, values: dict[str, Any], place: _Place) -> tuple[Task | None, _Place]:
    """Re-check the next entries behind the place: the first task found there, if any.

    A find leaves the cursor where it was, so the entries before the found task are looked
    at again next time. Entries after the cursor that run out before SWEEP of them mean
    the place is reached: the sweep goes on from the beginning in the same search. So
    with fewer than SWEEP entries behind the place a search re-checks all of them; else a
    task found and then let go (a lock run out), or work reopened before it, would wait
    for the next round."""
    cursor = place.cursor
    rows, tail = order.behind(values, cursor, place.start), []
    if cursor and len(rows) < SWEEP:
        cursor, tail, rows = 0, rows, order.behind(values, 0, place.start)
    # On from the last entry seen; from the beginning once the place is reached.
    on = rows[-1][0] if len(rows) == SWEEP else 0
    for row in [*rows, *tail] if on else rows:  # (a short `rows` holds the tail too)
        if _takes(row) and (task := _FETCH.first(**_base(values), task=row[1])) is not None:
            return task, replace(place, cursor=cursor)
    return None, replace(place, cursor=on)


def _catch_up(order: _Order, values: dict[str, Any], place: _Place) -> tuple[Task | None, _Place]:
    """Look at entries made since the place was last caught up: the first task among them
    that comes before the place, if any. Entries are looked at CATCH_UP at a time; after a
    find the same ones are looked at again next time, so the next lowest is not missed."""
    newest = order.newest(values)
    if newest <= place.seen:
        return None, place
    task = order.added(values, place.seen, place.start)
    if task is not None:
        return task, place
    last = _CAUGHT_UP_TO.first(project=values["project"], since=place.seen)
    return None, replace(place, seen=newest if last is None else int(last[0]))


def _search_in(
    order: _Order, key: tuple[Any, ...], sig: tuple[Any, ...], values: dict[str, Any]
) -> Task | None:
    """The next task in one order: new or reopened behind the person's place, else from
    the place on."""
    place = _recall(key, sig)
    if place.start == 0:  # a walk from the beginning sees every entry made until now
        place = replace(place, seen=order.newest(values))
    else:
        # Both: a new entry may come after reopened work, and with fewer than SWEEP
        # entries behind the place, the sweep's find is the first there is behind it.
        task, place = _catch_up(order, values, place)
        found, place = _sweep(order, values, place)
        if found is not None and (
            task is None or task.pk == found.pk or order.earlier(values, found, task)
        ):
            task = found
        if task is not None:
            _remember(key, sig, place)
            return task
    if place.start is None:
        _remember(key, sig, place)
        return None
    start = order.frontier(values, place.start)
    task = None if start is None else order.ahead(values, start)
    _remember(key, sig, replace(place, start=order.end(values) if start is None else start))
    return task


def _search(project: Project, user: User, values: dict[str, Any]) -> Task | None:
    orders, signature = _orders(project), _signature(project)
    keys = [_key(project, user, order) for order in orders]
    for order, key in zip(orders, keys, strict=True):
        if (task := _search_in(order, key, signature, values)) is not None:
            return task
    # Nothing from the places on: whatever is left is behind them, so look from the start
    # (the walk passes the person's own unlabeled tasks) before answering that nothing is.
    if _FIRST_FROM.first(**_base(values), pivot=0) is None:
        return None
    for order, key in zip(orders, keys, strict=True):
        _remember(key, signature, _Place())
        if (task := _search_in(order, key, signature, values)) is not None:
            return task
    return None


# Uniform sampling probes random points of the project's id range: the task at or after
# each point is taken if it is available. Every task is as likely to be probed as any other
# (ids are dense; a gap left by deleted tasks favours the task after it), so the pick is
# uniform over what is available. Taking the first *available* task after a random point
# instead would favour the task after each run of finished ones: after labeling the first
# two thirds in order, that task two times out of three. When most tasks are done the
# probes mostly miss, and after PROBES misses that biased pick is the fallback.
#
# Showing tasks with overlap first, the probes first take only such a task. When they all
# miss (few such tasks are left, or few of the ids are theirs), the shared tier's order by
# id tells from the person's place whether any is left for them (cheaply, as for the
# orders above, but without the look from the start: a task reopened behind the place is
# still among what the later picks can take); if one is, the pick is the first available
# one at or after a random point of the tier's partial index (the cohort is spread evenly
# over the ids, so each is about as likely); else the pick is made among all tasks.
PROBES = 8


def _probe(shared: bool) -> PreparedSelect[Task]:
    def build(project: int, user: int, now: dt.datetime, pivot: int) -> QuerySet[Task]:
        tasks = _available(project, user, now)
        at = Task.objects.filter(project_id=project, pk__gte=pivot).order_by("id")
        return (_shared(tasks) if shared else tasks).filter(pk=Subquery(at.values("id")[:1]))

    return PreparedSelect(build, **_BASE, pivot=int)


_PROBE, _PROBE_SHARED = _probe(shared=False), _probe(shared=True)


def _probed(values: dict[str, Any], low: int, high: int, shared: bool) -> Task | None:
    probe = _PROBE_SHARED if shared else _PROBE
    for _ in range(PROBES):
        task = probe.first(**values, pivot=random.randint(low, high))  # noqa: S311 (sampling)
        if task is not None:
            return task
    return None


def _pick_uniform(project: Project, user: User, values: dict[str, Any]) -> Task | None:
    low, high = _LOWEST.first(project=project.pk), _HIGHEST.first(project=project.pk)
    if low is None or high is None:
        return None
    if project.show_overlap_first:
        task = _probed(values, low[0], high[0], shared=True)
        if task is not None:
            return task
        key = _key(project, user, _SHARED_SEQUENTIAL)
        left = _search_in(_SHARED_SEQUENTIAL, key, _signature(project), values)
        if left is not None:
            return _around(values, low[0], high[0], shared=True) or left
    task = _probed(values, low[0], high[0], shared=False)
    return task or _around(values, low[0], high[0], shared=False)


def _around(values: dict[str, Any], low: int, high: int, shared: bool) -> Task | None:
    """The first available task at or after a random point, else the first before it (of
    the tasks that need more than one annotation, when `shared`)."""
    pivot = random.randint(low, high)  # noqa: S311 (sampling, not security)
    pair = (_FIRST_SHARED_FROM, _FIRST_SHARED_BEFORE) if shared else (_FIRST_FROM, _FIRST_BEFORE)
    after, before = pair
    return after.first(**values, pivot=pivot) or before.first(**values, pivot=pivot)


def _truths(project: int, *where: Q, **match: Any) -> QuerySet[Annotation]:
    """The project's submitted ground truth annotations in task order (read on the
    (project, was_cancelled, task) index that holds only them)."""
    found = Annotation.objects.filter(
        *where, project_id=project, ground_truth=True, was_cancelled__in=[False], **match
    )
    return found.order_by("task_id")


def _truth_in(tasks: QuerySet[Task]) -> Subquery:
    """The entry's task if it is among `tasks`: a scalar probe per entry."""
    return Subquery(tasks.filter(pk=OuterRef("task_id")).values("pk")[:1])


class _ByGroundTruth(_Walked):
    """Tasks with a ground truth annotation (a submitted one), by id, for
    `show_ground_truth_first`; positions are task ids.

    A ground truth can be made, or set on an annotation, for a task before a place at
    any time, and no id tells it apart: the sweep behind the place finds it (at once while
    fewer than SWEEP ground truths lie behind it). Past the last one the place stays past
    the end, and only the sweep reads the index. A task found late is never lost: the
    sampling's own orders hand it out too."""

    name = "ground-truth"

    def __init__(self) -> None:
        self._ahead = PreparedSelect(
            lambda project, user, now, pivot: Task.objects.filter(
                pk=Subquery(
                    _truths(project, task_id__gte=pivot)
                    .alias(ok=_truth_in(_available(project, user, now)))
                    .filter(ok__isnull=False)
                    .values("task_id")[:1]
                )
            ),
            **_BASE,
            pivot=int,
        )
        self._frontier = PreparedSelect(
            lambda project, user, now, pivot: _truths(project, task_id__gte=pivot)
            .alias(ok=_truth_in(_open(project, user)))
            .filter(ok__isnull=False)
            .values_list("task_id")[:1],
            **_BASE,
            pivot=int,
        )
        wanted = Q(task__is_labeled__in=[False])
        self._behind = PreparedSelect(
            lambda project, user, now, cursor, start: _truths(
                project, task_id__gt=cursor, task_id__lt=start
            )
            .annotate(**_probes(project, user, now, wanted))
            .values_list("task_id", *_PROBED)[:SWEEP],
            **_BASE,
            cursor=int,
            start=int,
        )

    def ahead(self, values: dict[str, Any], start: int) -> Task | None:
        return super().ahead(_base(values), start)

    def frontier(self, values: dict[str, Any], start: int) -> int | None:
        return super().frontier(_base(values), start)

    def end(self, values: dict[str, Any]) -> int | None:
        return None  # new ground truths come anywhere: the sweep finds them

    def behind(self, values: dict[str, Any], cursor: int, start: int | None) -> list[Row]:
        end = _BIGGEST_ID if start is None else start
        rows = self._behind.all(**_base(values), cursor=cursor, start=end)
        return [(task, task, not done, *rest) for task, done, *rest in rows]

    def newest(self, values: dict[str, Any]) -> int:
        return 0  # no catching up: see the sweep above

    def added(self, values: dict[str, Any], since: int, start: int | None) -> Task | None:
        return None

    def earlier(self, values: dict[str, Any], first: Task, second: Task) -> bool:
        return first.pk < second.pk


_GROUND_TRUTH = _ByGroundTruth()


def _pick(project: Project, user: User, now: dt.datetime) -> Task | None:
    values = _values(project, user, now)
    if project.show_ground_truth_first:
        key = _key(project, user, _GROUND_TRUTH)
        task = _search_in(_GROUND_TRUTH, key, _signature(project), values)
        if task is not None:
            return task
    if project.sampling == Sampling.UNIFORM:
        return _pick_uniform(project, user, values)
    return _search(project, user, values)


CHOICE_ATTEMPTS = 3


def next_task(project: Project, user: User) -> Task | None:
    """The task `user` should label next in `project`, now locked for them; None when done.

    A task deleted while it was being chosen (its deletion not yet committed, so still
    visible) fails the lock's foreign key when this transaction commits on PostgreSQL,
    which checks it then: the choice is made again, and finds the task gone."""
    for _ in range(CHOICE_ATTEMPTS - 1):
        try:
            return _next_task(project, user)
        except IntegrityError:
            continue
    return _next_task(project, user)  # a third failure in a row is not a race: raise it


def _next_task(project: Project, user: User) -> Task | None:
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


def has_next_task(project: Project, user: User) -> bool:
    """Whether `next_task` would give `user` a task now, found without locking, writing
    or moving a place (an HTTP HEAD)."""
    values = _values(project, user, timezone.now())
    if _HELD.first(**_base(values)) is not None:
        return True
    for order in _orders(project):
        start = _recall(_key(project, user, order), _signature(project)).start
        if start and order.ahead(values, start) is not None:
            return True
    return _FIRST_FROM.first(**_base(values), pivot=0) is not None


_RELEASE = PreparedDelete(
    lambda task, user: TaskLock.objects.filter(task_id=task, user_id=user), task=int, user=int
)


def release(task: Task, user: User) -> None:
    """The user finished (or skipped) the task: give up their lock."""
    _RELEASE.run(task=task.pk, user=user.pk)

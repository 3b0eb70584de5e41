"""The label stream against a brute-force reference computed from the database.

Random changes to a small project (annotations and skips, their flips and deletions, a
task's overlap and `is_labeled`, predictions added, rescored and deleted, the project's
overlap, sampling and model version, tasks added and deleted, locks running out, a
restart) are interleaved with `next` for random people. After every `next` the stream's
promises (labelkeep/tasks/stream.py, docs/api-compatibility.md "Label stream") are checked:

- a task the person still holds (and may still take) is given again;
- otherwise the task given is one they may take now: unlabeled, theirs neither annotated
  nor skipped, with room left after other people's live locks; nothing is given only
  when nothing is left;
- with sequential or uncertainty sampling, when no task the person may take lies behind
  any of their remembered places, the task given is the first in the project's order
  (by id; by lowest score of the model version, ties by id, then unscored tasks by id);
- the same when fewer than SWEEP entries lie behind each place: "served exactly as by a
  walk from the start" (in id order the entries behind a place are unlabeled tasks; in
  score order, every scored prediction of the version before it).

SWEEP and CATCH_UP are made small, so the memory's paths (a sweep in several rounds,
new predictions caught up with a few at a time) run in a project of a few dozen tasks.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from labelkeep.accounts.models import User
from labelkeep.accounts.roles import Role
from labelkeep.db import prepared
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project, Sampling
from labelkeep.tasks import counters, stream
from labelkeep.tasks import services as tasks
from labelkeep.tasks.models import Annotation, Prediction, Task, TaskLock
from tests.conftest import TEST_ORIGIN, World, make_user
from tests.tasks.conftest import CONFIG, choice

SMALL = 3  # SWEEP and CATCH_UP in these tests
# Longer runs when looking for trouble: STREAM_MODEL_SEEDS=100 STREAM_MODEL_STEPS=1000.
SEEDS = range(int(os.environ.get("STREAM_MODEL_SEEDS", "6")))
STEPS = int(os.environ.get("STREAM_MODEL_STEPS", "300"))
SCORES = [None, -0.5, 0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]  # few values: ties happen
VERSIONS = ["", "v1", "v2"]


@pytest.fixture
def small_memory(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """SWEEP and CATCH_UP of SMALL, with every prepared query compiled afresh (their
    LIMITs are compiled in), and no place remembered from before or kept after."""
    monkeypatch.setattr(stream, "SWEEP", SMALL)
    monkeypatch.setattr(stream, "CATCH_UP", SMALL)
    for query in prepared.registered():
        monkeypatch.setattr(query, "_compiled", {})
        if hasattr(query, "_templates"):
            monkeypatch.setattr(query, "_templates", {})
    stream.forget_places()
    yield
    stream.forget_places()


# --- The reference ----------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What a `next` of one person may answer, from the database as it is now."""

    held: int | None  # the lowest-id task they hold a live lock on and may still take
    available: frozenset[int]  # the tasks they may take
    first: int | None  # the first of those in the project's order (None: uniform)
    clear: bool  # none of those lies behind any of their places
    few: bool  # fewer than SWEEP entries lie behind each of their places


@dataclass(frozen=True)
class Entry:
    """A scored prediction of the project's order: (score, task) is its place in it."""

    pk: int
    score: float
    task: int


def scored_entries(project: Project) -> list[Entry]:
    found = Prediction.objects.filter(project=project, score__isnull=False)
    if project.model_version:
        found = found.filter(model_version=project.model_version)
    rows = found.values_list("pk", "score", "task_id")
    made = [Entry(pk, score, task) for pk, score, task in rows if score is not None]
    return sorted(made, key=by_place)


def by_place(entry: Entry) -> tuple[float, int]:
    return (entry.score, entry.task)


def behind_by_score(start: int | None, entries: list[Entry]) -> list[Entry]:
    """The entries a sweep re-checks behind a place in score order: all of them past the
    end or when the place's prediction is gone (or has no score), none at the beginning."""
    if start == 0:
        return []
    place = None if start is None else Prediction.objects.filter(pk=start).first()
    if place is None or place.score is None:
        return entries
    return [e for e in entries if by_place(e) < (place.score, place.task_id)]


def expected(project: Project, user: User) -> Expected:
    """Computed from the rows, in Python; the places are read from the stream's memory."""
    now = timezone.now()
    rows = {t.pk: t for t in Task.objects.filter(project=project)}
    notes = list(
        Annotation.objects.filter(project=project).values_list(
            "task_id", "completed_by_id", "was_cancelled"
        )
    )
    for pk, task in rows.items():  # the counters the stream reads are right
        assert task.total_annotations == sum(1 for t, _, c in notes if t == pk and not c)
    theirs = {t for t, u, _ in notes if u == user.pk}
    locks = TaskLock.objects.filter(project=project, expires_at__gt=now)
    live = list(locks.values_list("task_id", "user_id"))
    others = Counter(t for t, u in live if u != user.pk)
    available = frozenset(
        pk
        for pk, t in rows.items()
        if not t.is_labeled and pk not in theirs and t.overlap > t.total_annotations + others[pk]
    )
    held = min((t for t, u in live if u == user.pk and t in available), default=None)
    if project.sampling == Sampling.UNIFORM:
        return Expected(held, available, None, clear=False, few=False)
    entries = scored_entries(project) if project.sampling == Sampling.UNCERTAINTY else []
    lowest: dict[int, float] = {}
    for entry in entries:
        lowest.setdefault(entry.task, entry.score)

    def key(pk: int) -> tuple[int, float, int]:
        return (0, lowest[pk], pk) if pk in lowest else (1, 0.0, pk)

    first = min(available, key=key, default=None)
    clear, few = True, True
    for order in stream._orders(project):
        place = stream._recall(stream._key(project, user, order), stream._signature(project))
        if isinstance(order, stream._ByScore):
            behind = behind_by_score(place.start, entries)
            tasks_behind, count = {e.task for e in behind}, len(behind)
        else:
            assert place.start is not None  # an id order is never past the end for good
            start = place.start
            narrowed = [pk for pk in rows if pk not in lowest or order is stream._SEQUENTIAL]
            tasks_behind = {pk for pk in narrowed if pk < start and not rows[pk].is_labeled}
            count = len(tasks_behind)
        clear = clear and not tasks_behind & available
        few = few and count < stream.SWEEP
    return Expected(held, available, first, clear, few)


# --- The random run ---------------------------------------------------------------------


@dataclass
class Run:
    """One seeded run: a project, three annotators, an admin who changes things."""

    project_id: int
    people: list[User]
    admin: User
    rng: random.Random
    log: list[str] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)

    def project(self) -> Project:
        return Project.objects.get(pk=self.project_id)

    def task_ids(self) -> list[int]:
        return list(
            Task.objects.filter(project_id=self.project_id)
            .order_by("pk")
            .values_list("pk", flat=True)
        )

    def a_task(self) -> Task | None:
        ids = self.task_ids()
        if not ids:
            return None
        return Task.objects.select_related("project").get(pk=self.rng.choice(ids))

    def say(self, what: str) -> None:
        self.log.append(what)

    def trail(self) -> str:
        return "\n".join(self.log[-25:])

    # Changes, each through the services.

    def annotate(self, task: Task, user: User, *, skip: bool) -> None:
        fields = {"result": [], "was_cancelled": True} if skip else {"result": choice("Neutral")}
        tasks.create_annotation(task, fields, actor=user, completed_by=user, origin=TEST_ORIGIN)
        self.say(f"{'skip' if skip else 'annotate'} {task.pk} by {user.pk}")

    def annotate_any(self) -> None:
        if (task := self.a_task()) is not None:
            self.annotate(task, self.rng.choice(self.people), skip=self.rng.random() < 0.4)

    def an_annotation(self) -> Annotation | None:
        found = Annotation.objects.filter(project_id=self.project_id).order_by("pk")
        ids = list(found.values_list("pk", flat=True))
        if not ids:
            return None
        return Annotation.objects.select_related("project", "task").get(pk=self.rng.choice(ids))

    def flip_annotation(self) -> None:
        if (note := self.an_annotation()) is not None:
            fields = {"was_cancelled": not note.was_cancelled}
            tasks.update_annotation(note, fields, actor=self.admin, origin=TEST_ORIGIN)
            self.say(f"flip annotation of {note.task_id} by {note.completed_by_id} to {fields}")

    def delete_annotation(self) -> None:
        if (note := self.an_annotation()) is not None:
            tasks.delete_annotations([note], actor=self.admin, origin=TEST_ORIGIN)
            self.say(f"delete annotation of {note.task_id} by {note.completed_by_id}")

    def change_task(self) -> None:
        if (task := self.a_task()) is None:
            return
        fields: dict[str, Any] = (
            {"is_labeled": self.rng.random() < 0.3}
            if self.rng.random() < 0.5
            else {"overlap": self.rng.randint(1, 3)}
        )
        tasks.update_task(task, fields, actor=self.admin, origin=TEST_ORIGIN)
        self.say(f"task {task.pk} {fields}")

    def predict(self) -> None:
        ids = self.task_ids()
        if not ids:
            return
        project = self.project()
        chosen = self.rng.sample(ids, min(len(ids), self.rng.randint(1, 4)))
        rows: list[tuple[Task, dict[str, Any]]] = [
            (
                Task.objects.get(pk=pk),
                {
                    "result": [],
                    "score": self.rng.choice(SCORES),
                    "model_version": self.rng.choice(VERSIONS),
                },
            )
            for pk in chosen
        ]
        tasks.create_predictions(project, rows, actor=self.admin, origin=TEST_ORIGIN)
        self.say(f"predict {[(t.pk, g['score'], g['model_version']) for t, g in rows]}")

    def a_prediction(self) -> Prediction | None:
        found = Prediction.objects.filter(project_id=self.project_id).order_by("pk")
        ids = list(found.values_list("pk", flat=True))
        if not ids:
            return None
        return Prediction.objects.select_related("project", "task").get(pk=self.rng.choice(ids))

    def rescore(self) -> None:
        if (prediction := self.a_prediction()) is None:
            return
        fields: dict[str, Any] = (
            {"score": self.rng.choice(SCORES)}
            if self.rng.random() < 0.7
            else {"model_version": self.rng.choice(VERSIONS)}
        )
        tasks.update_prediction(prediction, fields, actor=self.admin, origin=TEST_ORIGIN)
        self.say(f"prediction {prediction.pk} of {prediction.task_id} {fields}")

    def unpredict(self) -> None:
        if (prediction := self.a_prediction()) is not None:
            tasks.delete_prediction(prediction, actor=self.admin, origin=TEST_ORIGIN)
            self.say(f"delete prediction {prediction.pk} of {prediction.task_id}")

    def change_project(self) -> None:
        # Uniform sampling checks the least: it is chosen seldom, and left soon.
        options: list[dict[str, Any]] = [
            {"maximum_annotations": self.rng.randint(1, 3)},
            {"sampling": self.rng.choice([Sampling.SEQUENTIAL, Sampling.UNCERTAINTY]).value},
            {"sampling": Sampling.UNIFORM.value},
            {"model_version": self.rng.choice(VERSIONS)},
        ]
        fields = self.rng.choices(options, [3, 3, 1, 3])[0]
        if self.project().sampling == Sampling.UNIFORM and "sampling" not in fields:
            fields = {"sampling": Sampling.SEQUENTIAL.value}
        projects.update_project(self.project(), fields, actor=self.admin, origin=TEST_ORIGIN)
        self.say(f"project {fields}")

    def add_tasks(self) -> None:
        count = self.rng.randint(1, 3)
        items = [tasks.NewTask(data={"text": f"new {n}"}) for n in range(count)]
        made = tasks.create_tasks(self.project(), items, actor=self.admin, origin=TEST_ORIGIN)
        self.say(f"add tasks {made.task_ids}")

    def delete_tasks(self) -> None:
        ids = self.task_ids()
        if len(ids) > 10:
            gone = self.rng.sample(ids, self.rng.randint(1, 2))
            tasks.delete_tasks(self.project(), gone, actor=self.admin, origin=TEST_ORIGIN)
            self.say(f"delete tasks {gone}")

    def expire_a_lock(self) -> None:
        ids = list(TaskLock.objects.filter(project_id=self.project_id).values_list("pk", flat=True))
        if ids:
            pk = self.rng.choice(ids)
            lock = TaskLock.objects.get(pk=pk)
            expire(lock.task_id, lock.user_id)
            self.say(f"lock of {lock.task_id} by {lock.user_id} runs out")

    def restart(self) -> None:
        stream.forget_places()
        self.say("restart")

    # The label stream, checked.

    def next(self) -> None:
        project, user = self.project(), self.rng.choice(self.people)
        want = expected(project, user)
        # HEAD answers as GET would, and moves nothing (the checks below read the places).
        assert stream.has_next_task(project, user) == bool(want.available), self.trail()
        given = stream.next_task(project, user)
        got = None if given is None else given.pk
        self.say(f"next for {user.pk} ({project.sampling}): {got}; {want}")
        where = f"\n{self.trail()}"
        if want.held is not None:
            assert got == want.held, f"not the task they hold{where}"
            self.checked["held"] += 1
        elif not want.available:
            assert got is None, f"a task nobody may take{where}"
            self.checked["none"] += 1
        else:
            assert got in want.available, f"not a task they may take{where}"
            self.checked["available"] += 1
            if want.clear:
                assert got == want.first, f"nothing behind the places, yet not the first{where}"
                self.checked["clear"] += 1
            if want.few:
                assert got == want.first, f"few entries behind the places, yet not the first{where}"
                self.checked["few"] += 1
            if want.few and not want.clear:
                self.checked["reopened"] += 1
            if not want.few and not want.clear:
                self.checked["partial"] += 1
        if given is not None:
            assert TaskLock.objects.filter(task=given, user=user, expires_at__gt=timezone.now())
            self.after_next(given, user)

    def after_next(self, task: Task, user: User) -> None:
        roll = self.rng.random()
        task = Task.objects.select_related("project").get(pk=task.pk)
        if roll < 0.45:
            self.annotate(task, user, skip=False)
        elif roll < 0.65:
            self.annotate(task, user, skip=True)
        elif roll < 0.8:
            expire(task.pk, user.pk)  # they walk away; the lock runs out
            self.say(f"{user.pk} abandons {task.pk}")

    def step(self) -> None:
        steps: list[tuple[int, Callable[[], None]]] = [
            (40, self.next),
            (4, self.annotate_any),
            (6, self.flip_annotation),
            (8, self.delete_annotation),
            (5, self.change_task),
            (5, self.predict),
            (3, self.rescore),
            (3, self.unpredict),
            (4, self.change_project),
            (2, self.add_tasks),
            (2, self.delete_tasks),
            (3, self.expire_a_lock),
            (1, self.restart),
        ]
        weights = [w for w, _ in steps]
        self.rng.choices([s for _, s in steps], weights)[0]()


def expire(task: int, user: int) -> None:
    """Time passes for one lock: it ran out a second ago."""
    ended = timezone.now() - dt.timedelta(seconds=1)
    TaskLock.objects.filter(task_id=task, user_id=user).update(expires_at=ended)


def start_run(world: World, seed: int, overlap: int) -> Run:
    rng = random.Random(seed)  # noqa: S311 (a reproducible test, not security)
    sampling = rng.choice([Sampling.SEQUENTIAL, Sampling.UNCERTAINTY])
    project = projects.create_project(
        world.org,
        {
            "title": f"Model {seed}",
            "label_config": CONFIG,
            "maximum_annotations": overlap,
            "sampling": sampling.value,
            "model_version": rng.choice(VERSIONS),
        },
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    people = [make_user(f"p{n}-{seed}@a.example", org=world.org) for n in range(3)]
    projects.add_members(project, people, actor=world.admin.user, origin=TEST_ORIGIN)
    count = rng.randint(20, 40)
    items = [tasks.NewTask(data={"text": f"t{n}"}) for n in range(count)]
    tasks.create_tasks(project, items, actor=world.admin.user, origin=TEST_ORIGIN)
    run = Run(project.pk, people, world.admin.user, rng)
    for _ in range(3):
        run.predict()
    return run


@pytest.mark.usefixtures("small_memory")
@pytest.mark.parametrize("overlap", [1, 2])
@pytest.mark.parametrize("seed", SEEDS)
def test_the_stream_keeps_its_promises_under_random_changes(
    world: World, seed: int, overlap: int
) -> None:
    run = start_run(world, seed, overlap)
    for _ in range(STEPS):
        run.step()
    # The run reached the checks that can fail: exact answers with and without work
    # reopened behind a place, and answers that nothing is left.
    assert run.checked["clear"] >= 10, run.checked
    assert run.checked["none"] + run.checked["held"] >= 1, run.checked


# --- Cases the random runs found, or that they reach too seldom ---------------------------


def annotator_on(world: World, project: Project, name: str) -> User:
    user = make_user(f"{name}@a.example", org=world.org)
    projects.add_members(project, [user], actor=world.admin.user, origin=TEST_ORIGIN)
    return user


def given(project: Project, user: User) -> int | None:
    task = stream.next_task(Project.objects.get(pk=project.pk), user)
    return None if task is None else task.pk


def label(pk: int, user: User, *, skip: bool = False) -> None:
    task = Task.objects.select_related("project").get(pk=pk)
    fields = {"result": [], "was_cancelled": True} if skip else {"result": choice("Neutral")}
    tasks.create_annotation(task, fields, actor=user, completed_by=user, origin=TEST_ORIGIN)


def new_project(world: World, count: int, **settings: Any) -> tuple[Project, list[int]]:
    project = projects.create_project(
        world.org,
        {"title": "Case", "label_config": CONFIG, **settings},
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    items = [tasks.NewTask(data={"text": f"t{n}"}) for n in range(count)]
    made = tasks.create_tasks(project, items, actor=world.admin.user, origin=TEST_ORIGIN)
    return project, made.task_ids


def scores(world: World, project: Project, given: dict[int, float]) -> None:
    rows = [(Task.objects.get(pk=pk), {"result": [], "score": s}) for pk, s in given.items()]
    tasks.create_predictions(project, rows, actor=world.admin.user, origin=TEST_ORIGIN)


def test_a_new_prediction_does_not_jump_ahead_of_reopened_work_that_scores_lower(
    world: World,
) -> None:
    project, t = new_project(world, 6, sampling=Sampling.UNCERTAINTY.value)
    scores(world, project, {t[0]: 0.1, t[1]: 0.2, t[2]: 0.3, t[3]: 0.4, t[4]: 0.5})
    a = annotator_on(world, project, "a")
    for expected_task in t[:4]:
        assert given(project, a) == expected_task
        label(expected_task, a)
    # a's place is past the first four; their annotation of t[1] (0.2) is deleted, and
    # t[4] gets a new prediction (0.25) that also comes before the place.
    tasks.delete_annotations(
        [Annotation.objects.select_related("project", "task").get(task_id=t[1])],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    scores(world, project, {t[4]: 0.25})
    # Four entries behind the place, fewer than SWEEP: served as by a walk from the start.
    assert given(project, a) == t[1]


def unannotate(task: int, user: User) -> None:
    note = Annotation.objects.select_related("project", "task").get(task_id=task, completed_by=user)
    tasks.delete_annotations([note], actor=user, origin=TEST_ORIGIN)


def test_work_reopened_before_the_last_find_behind_the_place_comes_first(world: World) -> None:
    project, t = new_project(world, 6)
    a = annotator_on(world, project, "a")
    for pk in t[:4]:
        assert given(project, a) == pk
        label(pk, a)
    unannotate(t[2], a)
    assert given(project, a) == t[2]  # found behind a's place (t[3]'s)
    label(t[2], a)
    unannotate(t[0], a)
    # One entry behind the place: the search goes on from the beginning, not only from
    # where the last find was.
    assert given(project, a) == t[0]


def test_a_task_found_behind_the_place_and_let_go_comes_back_first(world: World) -> None:
    project, t = new_project(world, 6)
    a = annotator_on(world, project, "a")
    for pk in t[:4]:
        assert given(project, a) == pk
        label(pk, a)
    unannotate(t[1], a)
    assert given(project, a) == t[1]
    expire(t[1], a.pk)  # a walks away from it; the lock runs out
    assert given(project, a) == t[1]


@pytest.mark.usefixtures("small_memory")
def test_a_sweep_that_reaches_the_place_goes_on_from_the_beginning(world: World) -> None:
    """a's sweep stopped after SWEEP of a's skips; then those tasks are labeled by
    someone else and t[0], before where the sweep stopped, needs work again: one entry
    and t[0] are behind a's place, fewer than SWEEP, so a gets t[0] first."""
    project, t = new_project(world, 10)
    a, b, c = (annotator_on(world, project, name) for name in "abc")
    label(t[0], b)
    skips = {"result": [], "was_cancelled": True}
    tasks.create_annotations_bulk(
        project, t[1:6], skips, actor=a, completed_by=a, origin=TEST_ORIGIN
    )
    assert given(project, a) == t[6]
    label(t[6], a)
    assert given(project, a) == t[7]  # the sweep re-checked t[1], t[2], t[3]
    label(t[7], a)
    for pk in t[1:5]:
        label(pk, c)
    unannotate(t[0], b)
    assert given(project, a) == t[0]


@pytest.mark.usefixtures("small_memory")
def test_an_overlap_changed_and_changed_back_forgets_the_places(world: World) -> None:
    """The round trip recounts every task: t[6], marked done by hand without an
    annotation, needs work again, behind a's place and behind more than SWEEP of a's
    skips. Forgotten places find it at once; else only a sweep reaches it, rounds later."""
    project, t = new_project(world, 10)
    a = annotator_on(world, project, "a")
    skips = {"result": [], "was_cancelled": True}
    tasks.create_annotations_bulk(
        project, t[:6], skips, actor=a, completed_by=a, origin=TEST_ORIGIN
    )
    marked = Task.objects.select_related("project").get(pk=t[6])
    tasks.update_task(marked, {"is_labeled": True}, actor=world.admin.user, origin=TEST_ORIGIN)
    assert given(project, a) == t[7]
    label(t[7], a)
    for overlap in (2, 1):  # a asks nothing meanwhile (or asks another server process)
        projects.update_project(
            Project.objects.get(pk=project.pk),
            {"maximum_annotations": overlap},
            actor=world.admin.user,
            origin=TEST_ORIGIN,
        )
    assert not Task.objects.get(pk=t[6]).is_labeled
    assert given(project, a) == t[6]


# --- Two people at once -----------------------------------------------------------------


def concurrent_project(sampling: Sampling) -> tuple[User, Project, list[int]]:
    """40 tasks, two thirds of them scored (in shuffled order), with overlap 1."""
    owner = make_user("owner@m.example", role=Role.OWNER, title="Model")
    org = owner.active_organization
    assert org is not None
    project = projects.create_project(
        org,
        {"title": "M", "label_config": CONFIG, "sampling": sampling.value},
        actor=owner,
        origin=TEST_ORIGIN,
    )
    items = [tasks.NewTask(data={"text": f"t{n}"}) for n in range(40)]
    ids = tasks.create_tasks(project, items, actor=owner, origin=TEST_ORIGIN).task_ids
    rows = [
        (Task.objects.get(pk=pk), {"result": [], "score": (n * 7) % 13 / 13})
        for n, pk in enumerate(ids)
        if n % 3
    ]
    tasks.create_predictions(project, rows, actor=owner, origin=TEST_ORIGIN)
    return owner, project, ids


@pytest.mark.usefixtures("small_memory")
@pytest.mark.parametrize("sampling", [Sampling.SEQUENTIAL, Sampling.UNCERTAINTY])
@pytest.mark.django_db(transaction=True)
def test_two_people_at_once_never_share_a_task(sampling: Sampling) -> None:
    """Two annotators label or skip whatever they are given, at once (SQLite runs one
    writer at a time, PostgreSQL serialises `next` per project with an advisory lock).
    With overlap 1 no task goes to a second person while the first holds it, so none has
    two annotations, and nobody is given a task twice. The places are the process's
    memory, shared by both threads."""
    owner, project, _ = concurrent_project(sampling)
    people = [make_user(f"m{n}@m.example", org=owner.active_organization) for n in range(2)]
    projects.add_members(project, people, actor=owner, origin=TEST_ORIGIN)
    given_to: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(people))

    def label_all(person: User, seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 (a reproducible test, not security)
        try:
            start.wait()
            while (
                task := stream.next_task(Project.objects.get(pk=project.pk), person)
            ) is not None:
                given_to.append((task.pk, person.pk))
                label(task.pk, person, skip=rng.random() < 0.3)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=label_all, args=(person, n)) for n, person in enumerate(people)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(given_to) == len(set(given_to)), "a task given twice to one person"
    done = Counter(
        Annotation.objects.filter(project=project, was_cancelled=False).values_list(
            "task_id", flat=True
        )
    )
    assert max(done.values()) == 1, "a task given to a second person while the first held it"
    # Nothing lost: one may have stopped while the other held the last tasks, then
    # skipped them; asked again, each is given what is left, until every task is done.
    for person in people:
        while (task := stream.next_task(Project.objects.get(pk=project.pk), person)) is not None:
            assert (task.pk, person.pk) not in given_to
            given_to.append((task.pk, person.pk))
            label(task.pk, person)
    everyone = {person.pk for person in people}
    for task in Task.objects.filter(project=project):
        by = set(Annotation.objects.filter(task=task).values_list("completed_by_id", flat=True))
        assert task.is_labeled or by == everyone, f"task {task.pk} left over"


def waiting_on_a_lock() -> bool:
    """Whether another PostgreSQL session waits on a row lock (SQLite: after a while)."""
    if connection.vendor != "postgresql":
        time.sleep(0.3)  # the other writer waits for the write lock
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_a_recount_meanwhile_does_not_reopen_a_task_just_annotated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """New predictions recount their tasks' annotations. On PostgreSQL a recount that
    waits for an annotation's transaction to let go of the task's row then counts the
    annotations as they were when the recount began: without the new one. The task reads
    unlabeled again, and the stream gives it to a second person although overlap is 1."""
    owner, project, ids = concurrent_project(Sampling.SEQUENTIAL)
    a, b = (make_user(f"r{n}@m.example", org=owner.active_organization) for n in range(2))
    projects.add_members(project, [a, b], actor=owner, origin=TEST_ORIGIN)
    first = stream.next_task(project, a)
    assert first is not None and first.pk == ids[0]
    counted, go = threading.Event(), threading.Event()
    shift = counters.shift_annotations

    def shift_then_wait(task: Task, **moves: Any) -> None:
        shift(task, **moves)
        counted.set()  # the task's row is updated (and, on PostgreSQL, locked): hold it
        assert go.wait(20)

    monkeypatch.setattr(counters, "shift_annotations", shift_then_wait)
    errors: list[BaseException] = []

    def in_thread(work: Callable[[], object]) -> threading.Thread:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                connections.close_all()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    annotating = in_thread(lambda: label(first.pk, a))
    assert counted.wait(20)
    row = Task.objects.get(pk=first.pk)
    predicting = in_thread(
        lambda: tasks.create_predictions(
            project, [(row, {"result": [], "score": 0.5})], actor=owner, origin=TEST_ORIGIN
        )
    )
    for _ in range(100):
        if waiting_on_a_lock():
            break
        time.sleep(0.05)
    go.set()
    annotating.join()
    predicting.join()
    assert not errors, errors
    task = Task.objects.get(pk=first.pk)
    assert (task.total_annotations, task.is_labeled) == (1, True)
    second = stream.next_task(Project.objects.get(pk=project.pk), b)
    assert second is not None and second.pk != first.pk

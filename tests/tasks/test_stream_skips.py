"""A person's skips stay unlabeled, and the label stream never gives them back to that
person: a walk from the start would pass every one of them on every `next`. The stream
starts from where the person's last search began instead, so what `next` costs does not
grow with their skips, and work that comes back behind that place still reaches them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection
from django.test.utils import CaptureQueriesContext

from labelkeep.accounts.models import User
from labelkeep.projects.models import Project, Sampling
from labelkeep.tasks import services as tasks
from labelkeep.tasks import stream
from labelkeep.tasks.models import Annotation, Task
from tests.conftest import TEST_ORIGIN, Actor, World
from tests.tasks.conftest import choice
from tests.tasks.test_stream_rules import annotate, annotator, make_project, next_id


def skip_all(world: World, project: Project, user: User, ids: list[int]) -> None:
    """`user` skips these tasks (in bulk: quicker than a `next` and a skip for each)."""
    for start in range(0, len(ids), 10_000):
        tasks.create_annotations_bulk(
            project,
            ids[start : start + 10_000],
            {"result": [], "was_cancelled": True},
            actor=world.admin.user,
            completed_by=user,
            origin=TEST_ORIGIN,
        )


@contextlib.contextmanager
def work() -> Iterator[list[int]]:
    """What the database did meanwhile, deterministically: SQLite's virtual-machine steps
    (in hundreds), or PostgreSQL's scans of the annotations' indexes (one per probe)."""
    done = [0]
    if connection.vendor == "sqlite":
        raw = connection.connection

        def step() -> int:
            done[0] += 1
            return 0

        raw.set_progress_handler(step, 100)
        try:
            yield done
        finally:
            raw.set_progress_handler(None, 0)
        return
    probes = "SELECT idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'tasks_annotation'"
    with connection.cursor() as cursor:
        cursor.execute(probes)
        before = cursor.fetchone()[0]
        yield done
        cursor.execute(probes)
        done[0] = cursor.fetchone()[0] - before


def next_after_skipping(world: World, skips: int, sampling: Sampling) -> tuple[int, int, int]:
    """(work, statements on task tables, task given) of a `next` by someone who skipped
    the first `skips` of 2,000 tasks (the admin labeled the rest of the first 1,500) and
    has asked before, so the process knows their place. Only the skips differ between
    calls: not the tasks, nor the predictions, nor what is left."""
    project, t = make_project(world, 2000, sampling=sampling.value)
    if sampling == Sampling.UNCERTAINTY:  # scores in id order: the same walk
        rows = [(task, {"score": task.pk / 1e6}) for task in Task.objects.filter(project=project)]
        tasks.create_predictions(project, rows, actor=world.admin.user, origin=TEST_ORIGIN)
        project.refresh_from_db()
    member = annotator(world, project, f"skipper{skips}")
    skip_all(world, project, member.user, t[:skips])
    tasks.create_annotations_bulk(
        project,
        t[skips:1500],
        {"result": choice("Positive")},
        actor=world.admin.user,
        completed_by=world.admin.user,
        origin=TEST_ORIGIN,
    )
    first = stream.next_task(project, member.user)
    assert first is not None and first.pk == t[1500]
    annotate(member, first.pk)
    if connection.vendor == "postgresql":
        # Both measurements on statistics of their own data, as autovacuum would keep
        # them: what earlier tests left in the tables must not choose the plans.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tasks_task, tasks_annotation, tasks_prediction")
    with work() as done, CaptureQueriesContext(connection) as captured:
        task = stream.next_task(project, member.user)
    assert task is not None
    statements = [q for q in captured if '"tasks_' in q["sql"]]
    return done[0], len(statements), task.pk - t[0]


def test_what_next_costs_does_not_grow_with_the_persons_skips(world: World) -> None:
    few, few_statements, few_given = next_after_skipping(world, 300, Sampling.SEQUENTIAL)
    many, many_statements, many_given = next_after_skipping(world, 1500, Sampling.SEQUENTIAL)
    assert few_given == many_given == 1501
    # Drop expired locks, the held task, a re-check behind the place, the place, the task,
    # and the lock (extended, else made): the same statements however many skips.
    assert few_statements == many_statements == 7
    # A walk from the start would do five times the work for five times the skips; the
    # re-check behind the place looks at SWEEP of them either way.
    assert many < few * 1.3, (few, many)


def test_uncertainty_sampling_does_not_walk_the_skips_either(world: World) -> None:
    few, few_statements, few_given = next_after_skipping(world, 300, Sampling.UNCERTAINTY)
    many, many_statements, many_given = next_after_skipping(world, 1500, Sampling.UNCERTAINTY)
    assert few_given == many_given == 1501
    # As above, plus the newest prediction (to catch up with ones added since).
    assert few_statements == many_statements == 8
    assert many < few * 1.3, (few, many)


def reopen(world: World, task: int) -> None:
    """Delete the admin's annotation of the task: it needs work again."""
    annotation = Annotation.objects.get(task_id=task, completed_by=world.admin.user)
    response = world.admin.client.delete(f"/api/annotations/{annotation.pk}/")
    assert response.status_code == 204


def given_in_turn(member: Actor, project: Project, count: int) -> list[int]:
    """The ids `next` gives the member, `count` times, annotating each."""
    given = []
    for _ in range(count):
        pk = next_id(member, project)
        assert pk is not None
        given.append(pk)
        annotate(member, pk)
    return given


def test_skipped_tasks_never_come_back_to_the_skipper(world: World) -> None:
    project, t = make_project(world, 400)
    member = annotator(world, project, "skipper")
    skip_all(world, project, member.user, t[:300])
    assert given_in_turn(member, project, 100) == t[300:]
    assert next_id(member, project) is None  # 300 unlabeled tasks, every one skipped
    other = annotator(world, project, "other")
    assert next_id(other, project) == t[0]  # the skips are still work for others


def test_work_behind_a_person_with_few_skips_comes_back_at_once(world: World) -> None:
    project, t = make_project(world, 40)
    member = annotator(world, project, "few")
    annotate(world.admin, t[5])
    skip_all(world, project, member.user, [pk for pk in t[:20] if pk != t[5]])
    assert given_in_turn(member, project, 2) == [t[20], t[21]]
    reopen(world, t[5])
    assert next_id(member, project) == t[5]  # exactly as a walk from the start would


def test_work_behind_many_skips_comes_back_within_a_few_searches(world: World) -> None:
    project, t = make_project(world, 460)
    member = annotator(world, project, "many")
    annotate(world.admin, t[300])
    skip_all(world, project, member.user, [pk for pk in t[:400] if pk != t[300]])
    assert given_in_turn(member, project, 1) == [t[400]]
    reopen(world, t[300])
    given = given_in_turn(member, project, 5)
    # 399 skips behind the place, re-checked SWEEP at a time: found within four searches.
    assert t[300] in given[:4], given
    assert [pk for pk in given if pk != t[300]] == t[401 : 401 + len(given) - 1]


def test_nothing_is_lost_when_all_that_is_left_is_behind(world: World) -> None:
    project, t = make_project(world, 402)
    member = annotator(world, project, "end")
    annotate(world.admin, t[350])
    skip_all(world, project, member.user, [pk for pk in t[:400] if pk != t[350]])
    assert given_in_turn(member, project, 2) == [t[400], t[401]]
    reopen(world, t[350])
    # Nothing after the place, and the re-check has not reached t[350] yet (it has seen
    # the first 128 skips): the stream looks from the start before saying nothing is left.
    assert next_id(member, project) == t[350]
    annotate(member, t[350], skip=True)
    assert next_id(member, project) is None


def test_raising_maximum_annotations_brings_back_tasks_behind_the_place(world: World) -> None:
    """Labeled tasks behind a person's place need work again when the project wants more
    annotations per task; that change forgets the places, so the next search starts from
    the first task."""
    project, t = make_project(world, 6, maximum_annotations=2)
    member = annotator(world, project, "wide")
    tasks.create_annotations_bulk(
        project,
        t[:2],
        {"result": choice("Positive")},
        actor=world.admin.user,
        completed_by=world.admin.user,
        origin=TEST_ORIGIN,
    )
    annotate(world.owner, t[0])  # t[0] now has two annotations: labeled
    assert given_in_turn(member, project, 2) == [t[1], t[2]]
    response = world.admin.client.patch(
        f"/api/projects/{project.pk}/", {"maximum_annotations": 3}, format="json"
    )
    assert response.status_code == 200
    assert next_id(member, project) == t[0]

"""The label stream under real concurrency: with overlap 1, no task goes to two people."""

from __future__ import annotations

import threading
from typing import Any
from unittest import mock

import pytest
from django.db import connection, connections, transaction

from labelkeep.accounts.roles import Role
from labelkeep.projects import services as projects
from labelkeep.projects.models import Sampling
from labelkeep.tasks import services as tasks
from labelkeep.tasks import stream
from labelkeep.tasks.models import Task
from labelkeep.tasks.stream import next_task
from tests.conftest import TEST_ORIGIN, make_user
from tests.tasks.conftest import CONFIG

PEOPLE = 6


@pytest.mark.parametrize("sampling", [Sampling.SEQUENTIAL, Sampling.UNCERTAINTY])
@pytest.mark.django_db(transaction=True)
def test_concurrent_annotators_never_share_a_task(sampling: Sampling) -> None:
    owner = make_user("owner@c.example", role=Role.OWNER, title="Concurrent")
    org = owner.active_organization
    assert org is not None
    project = projects.create_project(
        org,
        {"title": "C", "label_config": CONFIG, "sampling": sampling.value},
        actor=owner,
        origin=TEST_ORIGIN,
    )
    people = [make_user(f"a{n}@c.example", org=org) for n in range(PEOPLE)]
    projects.add_members(project, people, actor=owner, origin=TEST_ORIGIN)
    created = tasks.create_tasks(
        project,
        [tasks.NewTask(data={"text": str(n)}) for n in range(PEOPLE * 3)],
        actor=owner,
        origin=TEST_ORIGIN,
    )
    # Under uncertainty sampling, half the tasks handed out are scored (in shuffled order),
    # half are not: both of its orders are raced through.
    scores = [(n * 7) % 13 / 13 for n in range(PEOPLE)]
    rows = [
        (Task.objects.get(pk=pk), {"score": s})
        for pk, s in zip(created.task_ids[: len(scores)], scores, strict=True)
    ]
    if sampling == Sampling.UNCERTAINTY:
        tasks.create_predictions(project, rows, actor=owner, origin=TEST_ORIGIN)
    given: dict[int, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(PEOPLE)

    def work(person: Any) -> None:
        try:
            start.wait()
            for _ in range(2):
                task = next_task(project, person)
                assert task is not None
                given.setdefault(task.pk, []).append(person.pk)
                # Holding a task: asking again must return the same one.
                again = next_task(project, person)
                assert again is not None and again.pk == task.pk
                tasks.create_annotation(
                    task, {"result": []}, actor=person, completed_by=person, origin=TEST_ORIGIN
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(given) == PEOPLE * 2
    assert all(len(holders) == 1 for holders in given.values()), given


@pytest.mark.django_db(transaction=True)
def test_only_the_streams_own_commit_skips_the_disk_flush() -> None:
    """`next` holds its project's lock until its commit, so on PostgreSQL that commit does
    not wait for the disk; every other transaction on the connection still does. Its
    statements get plans made for their values; others keep the connection's setting."""
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting (SQLite's stream takes the write lock instead)")
    owner = make_user("owner@d.example", role=Role.OWNER, title="Durable")
    org = owner.active_organization
    assert org is not None
    project = projects.create_project(
        org, {"title": "D", "label_config": CONFIG}, actor=owner, origin=TEST_ORIGIN
    )
    tasks.create_tasks(
        project, [tasks.NewTask(data={"text": "x"})], actor=owner, origin=TEST_ORIGIN
    )

    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return str(cursor.fetchone()[0])

    def planning() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW plan_cache_mode")
            return str(cursor.fetchone()[0])

    inside: list[tuple[str, str]] = []
    real_drop = stream._DROP_EXPIRED.run

    def drop(**values: Any) -> int:
        inside.append((setting(), planning()))
        return real_drop(**values)

    with mock.patch.object(stream._DROP_EXPIRED, "run", drop):
        assert next_task(project, owner) is not None
    # Also: its statements are planned for their values (a generic plan of a sweep between
    # two ids may walk the whole project on the primary key), in that transaction alone.
    assert inside == [("off", "force_custom_plan")]
    assert (setting(), planning()) == ("on", "auto")
    with transaction.atomic():
        assert (setting(), planning()) == ("on", "auto")


@pytest.mark.django_db(transaction=True)
def test_a_task_deleted_while_it_is_chosen_is_passed_over() -> None:
    """Deleted (not yet committed) as `next` picks it: PostgreSQL refuses the lock's key at
    `next`'s commit, and the choice is made again; SQLite's `next` waits for the delete."""
    owner = make_user("owner@e.example", role=Role.OWNER, title="Deleting")
    org = owner.active_organization
    assert org is not None
    project = projects.create_project(
        org, {"title": "E", "label_config": CONFIG}, actor=owner, origin=TEST_ORIGIN
    )
    first, second = tasks.create_tasks(
        project,
        [tasks.NewTask(data={"text": "a"}), tasks.NewTask(data={"text": "b"})],
        actor=owner,
        origin=TEST_ORIGIN,
    ).task_ids
    deleted, go = threading.Event(), threading.Event()
    given: list[int | None] = []
    errors: list[BaseException] = []

    def delete() -> None:
        try:
            with transaction.atomic():
                tasks.delete_tasks(project, [first], actor=owner, origin=TEST_ORIGIN)
                deleted.set()
                go.wait(10)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    def choose() -> None:
        try:
            task = next_task(project, owner)
            given.append(None if task is None else task.pk)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    deleter = threading.Thread(target=delete)
    deleter.start()
    assert deleted.wait(10)
    chooser = threading.Thread(target=choose)
    chooser.start()
    chooser.join(0.5)  # PostgreSQL: waiting at its commit for the delete's; SQLite: to begin
    go.set()
    deleter.join()
    chooser.join()
    assert not errors, errors
    assert given == [second]

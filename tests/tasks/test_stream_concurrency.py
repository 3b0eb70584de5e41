"""The label stream under real concurrency: with overlap 1, no task goes to two people."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections

from labelkeep.accounts.roles import Role
from labelkeep.projects import services as projects
from labelkeep.tasks import services as tasks
from labelkeep.tasks.stream import next_task
from tests.conftest import TEST_ORIGIN, make_user
from tests.tasks.conftest import CONFIG

PEOPLE = 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_annotators_never_share_a_task() -> None:
    owner = make_user("owner@c.example", role=Role.OWNER, title="Concurrent")
    org = owner.active_organization
    assert org is not None
    project = projects.create_project(
        org, {"title": "C", "label_config": CONFIG}, actor=owner, origin=TEST_ORIGIN
    )
    people = [make_user(f"a{n}@c.example", org=org) for n in range(PEOPLE)]
    projects.add_members(project, people, actor=owner, origin=TEST_ORIGIN)
    tasks.create_tasks(
        project,
        [tasks.NewTask(data={"text": str(n)}) for n in range(PEOPLE * 3)],
        actor=owner,
        origin=TEST_ORIGIN,
    )
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

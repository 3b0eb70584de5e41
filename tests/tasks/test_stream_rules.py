"""The label stream's rules (`api/projects/{id}/next`): overlap, sampling, skips, the
short lock and its expiry, overlap changes, and the answer when nothing is left."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from labelkeep.accounts import services as accounts
from labelkeep.accounts.models import Membership
from labelkeep.accounts.roles import Role
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project, Sampling
from labelkeep.tasks import services as tasks
from labelkeep.tasks import stream
from labelkeep.tasks.models import Task, TaskLock
from tests.conftest import TEST_ORIGIN, Actor, World, as_actor, make_user
from tests.tasks.conftest import CONFIG, choice


def annotator(world: World, project: Project, name: str) -> Actor:
    """One more annotator of the organization, on the project."""
    user = make_user(f"{name}@a.example", org=world.org)
    projects.add_members(project, [user], actor=world.admin.user, origin=TEST_ORIGIN)
    return as_actor(user)


def next_id(actor: Actor, project: Project) -> int | None:
    """The id `next` gives the actor, or None when it answers that nothing is left."""
    response = actor.client.get(f"/api/projects/{project.pk}/next")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.content
    return int(response.json()["id"])


def annotate(actor: Actor, task: int, *, skip: bool = False) -> None:
    body = {"result": [], "was_cancelled": True} if skip else {"result": choice("Positive")}
    response = actor.client.post(f"/api/tasks/{task}/annotations/", body, format="json")
    assert response.status_code == 201, response.content


def make_project(world: World, count: int, **settings: Any) -> tuple[Project, list[int]]:
    made = projects.create_project(
        world.org,
        {"title": "Stream", "label_config": CONFIG, **settings},
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    created = tasks.create_tasks(
        made,
        [tasks.NewTask(data={"text": f"t{n}"}) for n in range(count)],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    return made, created.task_ids


def change_project(world: World, project: Project, **fields: Any) -> None:
    response = world.admin.client.patch(f"/api/projects/{project.pk}/", fields, format="json")
    assert response.status_code == 200, response.content


# --- Overlap ----------------------------------------------------------------------------


def test_overlap_two_gives_a_task_to_two_people_then_moves_on(world: World) -> None:
    project, t = make_project(world, 4, maximum_annotations=2)
    a, b, c, d = (annotator(world, project, name) for name in "abcd")
    assert next_id(a, project) == t[0]
    assert next_id(b, project) == t[0]  # the first task not yet full
    assert next_id(c, project) == t[1]  # two live locks cover the first
    annotate(a, t[0])
    annotate(b, t[0])
    assert Task.objects.get(pk=t[0]).is_labeled
    assert next_id(d, project) == t[1]  # c's lock leaves room for one more
    assert next_id(a, project) == t[2]  # c and d fill t[1]


def test_one_annotation_of_two_leaves_the_task_to_others(world: World) -> None:
    project, t = make_project(world, 4, maximum_annotations=2)
    a, b, c = (annotator(world, project, name) for name in "abc")
    assert next_id(a, project) == t[0]
    annotate(a, t[0])
    assert not Task.objects.get(pk=t[0]).is_labeled
    assert next_id(a, project) == t[1]  # never the task a annotated, though it needs more
    assert next_id(b, project) == t[0]  # the second annotation goes to someone else
    assert next_id(c, project) == t[1]  # t[0] is full with b's lock; a's lock leaves room
    annotate(a, t[1], skip=True)
    assert next_id(a, project) == t[2]  # nor the task a skipped


def test_a_person_who_did_every_task_is_told_nothing_is_left(world: World) -> None:
    project, t = make_project(world, 3, maximum_annotations=2)
    a, b = annotator(world, project, "a"), annotator(world, project, "b")
    annotate(a, t[0])
    annotate(a, t[1], skip=True)
    annotate(a, t[2])
    assert next_id(a, project) is None
    # The tasks still need a second annotation: someone else still gets them.
    assert next_id(b, project) == t[0]


# --- Sampling ---------------------------------------------------------------------------


def seeded(seed: int) -> random.Random:
    """A sampler for the stream that picks the same way on every run."""
    return random.Random(seed)  # noqa: S311 (sampling, not security)


def test_uniform_sampling_is_not_in_id_order(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    project, t = make_project(world, 30)
    change_project(world, project, sampling=Sampling.UNIFORM.value)
    monkeypatch.setattr(stream, "random", seeded(20261126))
    member = annotator(world, project, "uniform")
    given: list[int] = []
    for _ in range(10):
        pk = next_id(member, project)
        assert pk is not None and pk not in given
        assert not Task.objects.get(pk=pk).is_labeled
        given.append(pk)
        annotate(member, pk)
    assert given != sorted(given)
    assert given != t[:10]


def test_uniform_sampling_is_uniform_over_what_is_left(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the first 20 of 30 tasks labeled, each of the other 10 is about equally likely:
    not the first unlabeled task after a random point, which would be task 21 two times
    out of three."""
    project, t = make_project(world, 30, sampling=Sampling.UNIFORM.value)
    tasks.create_annotations_bulk(
        project,
        t[:20],
        {"result": choice("Positive")},
        actor=world.admin.user,
        completed_by=world.admin.user,
        origin=TEST_ORIGIN,
    )
    monkeypatch.setattr(stream, "random", seeded(7))
    user = world.member.user
    projects.add_members(project, [user], actor=world.admin.user, origin=TEST_ORIGIN)
    seen: Counter[int] = Counter()
    draws = 300
    for _ in range(draws):
        task = stream.next_task(project, user)
        assert task is not None
        seen[task.pk] += 1
        stream.release(task, user)
    assert set(seen) == set(t[20:])
    # 30 each on average (standard deviation about 5).
    assert max(seen.values()) < 60, seen


def test_sequential_sampling_follows_ids(world: World) -> None:
    project, t = make_project(world, 5, sampling=Sampling.SEQUENTIAL.value)
    member = annotator(world, project, "seq")
    for expected in t:
        assert next_id(member, project) == expected
        annotate(member, expected)
    assert next_id(member, project) is None


# --- Locks ------------------------------------------------------------------------------


class Clock:
    """The stream's notion of now, moved by hand."""

    def __init__(self) -> None:
        self.at = timezone.now()

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Clock:
    """Locks of 60 s, on a clock the test moves."""
    settings.TASK_LOCK_TTL = 60
    moved = Clock()
    monkeypatch.setattr(stream, "timezone", SimpleNamespace(now=moved))
    return moved


def test_a_lock_holds_until_it_expires(
    world: World, project: Project, task_ids: list[int], clock: Clock
) -> None:
    t, member, admin = task_ids, world.member, world.admin
    assert next_id(member, project) == t[0]
    clock.advance(59)
    assert next_id(admin, project) == t[1]
    annotate(admin, t[1])
    assert next_id(admin, project) == t[2]  # t[0] is still the member's
    annotate(admin, t[2])
    clock.advance(2)  # the member's lock has run out
    assert next_id(admin, project) == t[0]
    # The member lost the task to the admin, who holds it now.
    assert next_id(member, project) == t[3]


def test_asking_again_extends_the_lock(
    world: World, project: Project, task_ids: list[int], clock: Clock
) -> None:
    assert next_id(world.member, project) == task_ids[0]
    clock.advance(50)
    assert next_id(world.member, project) == task_ids[0]
    clock.advance(50)  # 100 s after the first call, 50 after the second
    assert next_id(world.admin, project) == task_ids[1]


# --- Overlap changes --------------------------------------------------------------------


def test_changing_maximum_annotations_relabels_tasks_and_the_stream_follows(
    world: World, project: Project, task_ids: list[int]
) -> None:
    t, member, admin, owner = task_ids, world.member, world.admin, world.owner
    projects.add_members(project, [owner.user], actor=admin.user, origin=TEST_ORIGIN)
    annotate(member, t[0])
    assert Task.objects.get(pk=t[0]).is_labeled

    change_project(world, project, maximum_annotations=2)
    assert set(Task.objects.filter(project=project).values_list("overlap", flat=True)) == {2}
    body = admin.client.get(f"/api/tasks/{t[0]}/").json()
    assert (body["overlap"], body["is_labeled"], body["total_annotations"]) == (2, False, 1)
    assert next_id(admin, project) == t[0]  # it needs a second annotation now
    assert next_id(member, project) == t[1]  # but not the member's again
    assert next_id(owner, project) == t[1]  # t[0] is full with the admin's lock
    created = admin.client.post(
        "/api/tasks/", {"project": project.pk, "data": {"text": "new"}}, format="json"
    )
    assert created.json()["overlap"] == 2

    change_project(world, project, maximum_annotations=1)
    assert Task.objects.get(pk=t[0]).is_labeled
    assert next_id(admin, project) == t[2]  # t[0] is done; t[1] is held by others


def test_an_annotation_written_on_someones_behalf_frees_the_writers_lock(world: World) -> None:
    """A manager takes a task from the stream and saves it as an annotator's work: the
    manager's own lock goes, so the task's second slot is free for someone else."""
    project, t = make_project(world, 2, maximum_annotations=2)
    member = annotator(world, project, "m")
    other = annotator(world, project, "o")
    assert next_id(world.admin, project) == t[0]
    body = {"result": choice("Positive"), "completed_by": member.user.pk}
    made = world.admin.client.post(f"/api/tasks/{t[0]}/annotations/", body, format="json")
    assert made.status_code == 201, made.content
    assert not TaskLock.objects.filter(task_id=t[0]).exists()
    assert next_id(other, project) == t[0]  # the second of its two slots


def test_leaving_a_project_gives_back_the_reserved_task(world: World) -> None:
    project, t = make_project(world, 2)
    leaving, staying = annotator(world, project, "l"), annotator(world, project, "s")
    assert next_id(leaving, project) == t[0]
    assert next_id(staying, project) == t[1]  # t[0] is reserved
    projects.remove_member(project, leaving.user, actor=world.admin.user, origin=TEST_ORIGIN)
    assert not TaskLock.objects.filter(user=leaving.user).exists()
    annotate(staying, t[1])
    assert next_id(staying, project) == t[0]  # free at once, not after TASK_LOCK_TTL


@pytest.mark.parametrize("how", ["remove", "deactivate"])
def test_losing_access_to_the_organization_gives_back_the_reserved_task(
    world: World, how: str
) -> None:
    project, t = make_project(world, 2)
    leaving, staying = annotator(world, project, "l"), annotator(world, project, "s")
    assert next_id(leaving, project) == t[0]
    membership = Membership.objects.get(user=leaving.user, organization=world.org)
    if how == "remove":
        accounts.remove_member(membership, actor=world.owner.user, origin=TEST_ORIGIN)
    else:
        accounts.change_role(
            membership, Role.DEACTIVATED, actor=world.owner.user, origin=TEST_ORIGIN
        )
    assert not TaskLock.objects.filter(user=leaving.user).exists()
    assert next_id(staying, project) == t[0]


def test_sending_maximum_annotations_unchanged_keeps_each_tasks_overlap(
    world: World, project: Project, task_ids: list[int]
) -> None:
    """A settings form sends every field: only a changed value resets tasks' overlap."""
    url = f"/api/tasks/{task_ids[0]}/"
    assert world.admin.client.patch(url, {"overlap": 2}, format="json").status_code == 200
    change_project(world, project, title="Renamed", maximum_annotations=1)
    assert Task.objects.get(pk=task_ids[0]).overlap == 2
    annotate(world.member, task_ids[0])
    assert next_id(world.admin, project) == task_ids[0]  # it still wants a second one
    change_project(world, project, maximum_annotations=3)
    assert set(Task.objects.filter(project=project).values_list("overlap", flat=True)) == {3}


# --- Nothing left -----------------------------------------------------------------------


def test_nothing_left_is_a_404_with_a_detail(world: World) -> None:
    project, t = make_project(world, 2)
    member = annotator(world, project, "last")
    empty, _ = make_project(world, 0)
    projects.add_members(empty, [member.user], actor=world.admin.user, origin=TEST_ORIGIN)
    assert member.client.get(f"/api/projects/{empty.pk}/").status_code == 200
    assert member.client.get(f"/api/projects/{empty.pk}/next").status_code == 404
    for pk in t:
        annotate(member, pk)
    response = member.client.get(f"/api/projects/{project.pk}/next")
    assert response.status_code == 404
    body = response.json()
    assert body["status_code"] == 404 and "No more tasks" in body["detail"]
    assert not TaskLock.objects.filter(project=project).exists()


def test_tasks_all_locked_by_others_is_also_nothing_left(world: World) -> None:
    project, t = make_project(world, 1)
    a, b = annotator(world, project, "a"), annotator(world, project, "b")
    assert next_id(a, project) == t[0]
    assert next_id(b, project) is None


def test_the_users_own_annotations_are_probed_per_candidate(world: World) -> None:
    """PostgreSQL plans NOT EXISTS as an anti join, which on statistics older than a burst
    of skips loops over all of the user's annotations for every candidate (seconds per
    `next` at 10,000 skips); a scalar subquery stays a probe of the author index."""
    project, t = make_project(world, 4)
    a = annotator(world, project, "probe")
    annotate(a, t[0], skip=True)
    with CaptureQueriesContext(connection) as captured:
        assert next_id(a, project) == t[1]
    probing = [q["sql"] for q in captured if '"tasks_annotation"' in q["sql"]]
    picks = [sql for sql in probing if re.search(r"LIMIT 1\b", sql)]
    assert picks
    for sql in probing:
        assert "EXISTS" not in sql, sql
    for sql in picks:
        assert '"completed_by_id"' in sql and "IS NULL" in sql, sql


def test_a_demoted_manager_gives_back_tasks_of_projects_they_no_longer_see(
    world: World,
) -> None:
    seen, t = make_project(world, 2)
    kept, k = make_project(world, 1)
    manager = as_actor(make_user("manager@a.example", org=world.org, role=Role.MANAGER))
    projects.add_members(kept, [manager.user], actor=world.admin.user, origin=TEST_ORIGIN)
    staying = annotator(world, seen, "s")
    assert next_id(manager, seen) == t[0]  # a manager sees every project
    assert next_id(manager, kept) == k[0]
    membership = Membership.objects.get(user=manager.user, organization=world.org)
    accounts.change_role(membership, Role.ANNOTATOR, actor=world.owner.user, origin=TEST_ORIGIN)
    # Off `seen` now: its task is free at once; on `kept`, the reservation stays.
    assert list(TaskLock.objects.filter(user=manager.user).values_list("task_id", flat=True)) == [
        k[0]
    ]
    assert next_id(staying, seen) == t[0]

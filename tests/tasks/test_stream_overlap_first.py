"""`show_overlap_first`: the label stream hands out the tasks that need more than one
annotation (`overlap` above 1) before the others, in the project's sampling order."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labelkeep.projects.models import Project, Sampling
from labelkeep.tasks import stream
from labelkeep.tasks.models import Task
from tests.conftest import World
from tests.tasks.test_stream_rules import (
    annotate,
    annotator,
    change_project,
    make_project,
    next_id,
    seeded,
)
from tests.tasks.test_stream_uncertainty import labeled_in_turn, labeled_in_turn_by, predict

COHORT = {"maximum_annotations": 2, "overlap_cohort_percentage": 30}


def shared_project(
    world: World, count: int, **settings: Any
) -> tuple[Project, list[int], list[int]]:
    """A project whose tasks 30% need two annotations, shown first: (project, task ids,
    the ids of the tasks that need two)."""
    project, t = make_project(world, count, show_overlap_first=True, **COHORT, **settings)
    shared = list(
        Task.objects.filter(project=project, overlap=2).order_by("id").values_list("id", flat=True)
    )
    assert 0 < len(shared) < count
    return project, t, shared


def test_the_setting_is_off_by_default_and_kept(world: World) -> None:
    project, _ = make_project(world, 1)
    body = world.admin.client.get(f"/api/projects/{project.pk}/").json()
    assert body["show_overlap_first"] is False
    change_project(world, project, show_overlap_first=True)
    body = world.admin.client.get(f"/api/projects/{project.pk}/").json()
    assert body["show_overlap_first"] is True
    refused = world.admin.client.patch(
        f"/api/projects/{project.pk}/", {"show_overlap_first": "often"}, format="json"
    )
    assert refused.status_code == 400
    assert "show_overlap_first" in refused.json()["validation_errors"]
    project.refresh_from_db()
    assert project.show_overlap_first is True


def test_sequential_gives_tasks_with_overlap_first_then_the_rest(world: World) -> None:
    project, t, shared = shared_project(world, 20)
    given = labeled_in_turn(world, project, "first")
    assert given == shared + [pk for pk in t if pk not in shared]


def test_without_the_setting_the_order_is_by_id(world: World) -> None:
    project, t = make_project(world, 20, **COHORT)
    assert labeled_in_turn(world, project, "plain") == t


def test_a_second_annotator_also_starts_with_the_shared_tasks(world: World) -> None:
    project, _, shared = shared_project(world, 20)
    first = labeled_in_turn(world, project, "one")
    assert first[: len(shared)] == shared
    # The shared tasks still need a second annotation; every other task is done.
    assert labeled_in_turn(world, project, "two") == shared


def test_turning_it_on_reorders_what_is_left(world: World) -> None:
    project, t = make_project(world, 20, **COHORT)
    member = annotator(world, project, "switch")
    assert next_id(member, project) == t[0]
    annotate(member, t[0])
    change_project(world, project, show_overlap_first=True)
    shared = list(
        Task.objects.filter(project=project, overlap=2).order_by("id").values_list("id", flat=True)
    )
    assert next_id(member, project) == shared[0]
    change_project(world, project, show_overlap_first=False)
    annotate(member, shared[0])
    assert next_id(member, project) == t[1]


def test_a_task_given_more_overlap_behind_the_place_comes_next(world: World) -> None:
    project, t, shared = shared_project(world, 20)
    member = annotator(world, project, "behind")
    for pk in shared[:3]:
        assert next_id(member, project) == pk
        annotate(member, pk)
    # t[0] comes before the person's place in the shared walk: it is found behind it.
    response = world.admin.client.patch(f"/api/tasks/{t[0]}/", {"overlap": 3}, format="json")
    assert response.status_code == 200, response.content
    assert next_id(member, project) == t[0]


def test_uncertainty_sampling_orders_each_tier_by_score(world: World) -> None:
    project, t, shared = shared_project(world, 20, sampling=Sampling.UNCERTAINTY.value)
    rest = [pk for pk in t if pk not in shared]
    # Scores: the last shared task lowest, then one unshared task lower than any other.
    predict(world, project, {shared[-1]: 0.1, shared[0]: 0.5, rest[-1]: 0.05, rest[2]: 0.3})
    given = labeled_in_turn(world, project, "uncertain")
    shared_order = [shared[-1], shared[0], *[pk for pk in shared[1:-1]]]
    rest_order = [rest[-1], rest[2], *[pk for pk in rest if pk not in (rest[-1], rest[2])]]
    assert given == shared_order + rest_order


def test_uniform_sampling_gives_every_shared_task_before_any_other(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, t, shared = shared_project(world, 40, sampling=Sampling.UNIFORM.value)
    monkeypatch.setattr(stream, "random", seeded(20261127))
    member = annotator(world, project, "uniform")
    given = labeled_in_turn_by(member, project)
    assert sorted(given) == t
    assert set(given[: len(shared)]) == set(shared)
    assert given[: len(shared)] != shared  # at random, not in id order


@pytest.mark.parametrize(("count", "cohort"), [(40, 30), (200, 3)])
def test_uniform_sampling_is_uniform_within_the_shared_tier(
    world: World, monkeypatch: pytest.MonkeyPatch, count: int, cohort: int
) -> None:
    """Also when the tier is small (3%: 6 tasks of 200), where most random probes of the
    whole id range miss it: the pick then starts at a random point of the tier."""
    project, _ = make_project(
        world,
        count,
        sampling=Sampling.UNIFORM.value,
        show_overlap_first=True,
        maximum_annotations=2,
        overlap_cohort_percentage=cohort,
    )
    shared = set(Task.objects.filter(project=project, overlap=2).values_list("id", flat=True))
    monkeypatch.setattr(stream, "random", seeded(5))
    member = annotator(world, project, "draws")
    seen: Counter[int] = Counter()
    draws = 40 * len(shared)
    for _ in range(draws):
        task = stream.next_task(project, member.user)
        assert task is not None
        seen[task.pk] += 1
        stream.release(task, member.user)
    assert set(seen) == shared
    # 40 each on average; picking the tier's first task whenever probes miss would give
    # it most of the draws.
    assert max(seen.values()) < 80, seen


def test_uncertainty_with_a_tiny_tier_and_with_none(world: World) -> None:
    """One task in 40 needs two annotations: it comes first, then the others by score;
    once it is done (or with no such task at all) the others come as without the setting,
    and the sweep of the empty tier reads the predictions' index without asking which
    tasks need two (a statement that did would read every prediction to find 128)."""
    project, t = make_project(
        world,
        40,
        sampling=Sampling.UNCERTAINTY.value,
        show_overlap_first=True,
        maximum_annotations=2,
        overlap_cohort_percentage=3,
    )
    predict(world, project, {pk: 0.5 + n / 100 for n, pk in enumerate(t)})
    shared = list(Task.objects.filter(project=project, overlap=2).values_list("id", flat=True))
    assert len(shared) == 1
    member = annotator(world, project, "tiny")
    given = labeled_in_turn_by(member, project)
    assert given == shared + [pk for pk in t if pk not in shared]
    plain, u = make_project(world, 10, sampling=Sampling.UNCERTAINTY.value, show_overlap_first=True)
    predict(world, plain, {pk: 1 - n / 100 for n, pk in enumerate(u)})
    other = annotator(world, plain, "none")
    assert next_id(other, plain) == u[-1]
    annotate(other, u[-1])
    with CaptureQueriesContext(connection) as captured:
        found = stream.next_task(plain, other.user)
    assert found is not None and found.pk == u[-2]
    sweeps = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith('SELECT "tasks_prediction"."id"') and "LIMIT 128" in q["sql"]
    ]
    assert sweeps, captured.captured_queries
    # The statement's own condition (after its FROM … JOIN, before its ORDER BY) leaves the
    # tier to the rows; only the probes in its columns look at it.
    outer = [sql.split('FROM "tasks_prediction" INNER JOIN', 1)[1] for sql in sweeps]
    assert all('"overlap" >' not in where.rsplit("ORDER BY", 1)[0] for where in outer), outer


def test_head_answers_as_get_would(world: World) -> None:
    project, t, shared = shared_project(world, 10)
    member = annotator(world, project, "head")
    given = []
    for _ in t:
        assert member.client.head(f"/api/projects/{project.pk}/next").status_code == 200
        pk = next_id(member, project)
        assert pk is not None
        given.append(pk)
        annotate(member, pk)
    assert given[: len(shared)] == shared
    assert member.client.head(f"/api/projects/{project.pk}/next").status_code == 404
    assert next_id(member, project) is None

"""`show_ground_truth_first`: the label stream hands out the tasks that have a ground
truth annotation (and still need annotations) before any other, by id."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labelkeep.projects.models import Project, Sampling
from labelkeep.tasks import stream
from labelkeep.tasks.models import Task
from tests.conftest import World
from tests.tasks.conftest import choice
from tests.tasks.test_stream_plans import plan
from tests.tasks.test_stream_rules import annotate, annotator, make_project, next_id
from tests.tasks.test_stream_uncertainty import labeled_in_turn


def ground_truth(world: World, task: int, *, skip: bool = False) -> None:
    """A ground truth annotation of the task by the admin."""
    body: dict[str, Any] = {"result": choice("Positive"), "ground_truth": True}
    if skip:
        body = {"result": [], "was_cancelled": True, "ground_truth": True}
    response = world.admin.client.post(f"/api/tasks/{task}/annotations/", body, format="json")
    assert response.status_code == 201, response.content


def gt_project(world: World, count: int, **settings: Any) -> tuple[Project, list[int]]:
    return make_project(
        world, count, show_ground_truth_first=True, maximum_annotations=2, **settings
    )


@pytest.mark.parametrize("sampling", [s.value for s in Sampling])
def test_tasks_with_ground_truth_come_first(world: World, sampling: str) -> None:
    project, t = gt_project(world, 10, sampling=sampling)
    for pk in (t[7], t[4]):
        ground_truth(world, pk)
    given = labeled_in_turn(world, project, "new")
    assert given[:2] == [t[4], t[7]]
    assert sorted(given) == t


def test_without_the_setting_ground_truth_is_not_first(world: World) -> None:
    project, t = make_project(world, 10, maximum_annotations=2)
    ground_truth(world, t[7])
    assert labeled_in_turn(world, project, "plain") == t


def test_a_finished_or_skipped_ground_truth_task_is_not_given(world: World) -> None:
    project, t = gt_project(world, 6)
    ground_truth(world, t[3])
    ground_truth(world, t[4], skip=True)  # a skip is no ground truth to compare with
    other = annotator(world, project, "other")
    response = other.client.post(
        f"/api/tasks/{t[3]}/annotations/", {"result": choice("Negative")}, format="json"
    )
    assert response.status_code == 201  # t[3] now has its two annotations
    assert Task.objects.get(pk=t[3]).is_labeled
    assert labeled_in_turn(world, project, "late")[0] == t[0]


def test_ground_truth_comes_before_overlap_first(world: World) -> None:
    project, _ = gt_project(world, 20, show_overlap_first=True, overlap_cohort_percentage=30)
    shared = list(
        Task.objects.filter(project=project, overlap=2).order_by("id").values_list("id", flat=True)
    )
    ground_truth(world, shared[-1])  # the last of the tasks with overlap first
    given = labeled_in_turn(world, project, "tiers")
    assert given[: len(shared)] == [shared[-1], *shared[:-1]]


def test_ground_truths_are_walked_on_their_index(world: World) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
    project, t = gt_project(world, 10)
    for pk in (t[2], t[5]):
        ground_truth(world, pk)
    member = annotator(world, project, "plan")
    walks: list[str] = []
    for expected in (t[2], t[5]):  # from the beginning; then from a place, sweeping behind it
        with CaptureQueriesContext(connection) as captured:
            found = stream.next_task(project, member.user)
        walks += [q["sql"] for q in captured.captured_queries if '"ground_truth"' in q["sql"]]
        assert found is not None and found.pk == expected
        annotate(member, found.pk)
    assert len(walks) == 5, walks  # frontier and walk; sweep, frontier and walk
    for sql in walks:
        chosen = plan(sql)
        assert "annotation_ground_truth" in chosen, chosen
        assert "TEMP B-TREE" not in chosen and "Sort" not in chosen, chosen


def test_a_ground_truth_set_behind_the_place_comes_next(world: World) -> None:
    """Past the last ground truth, a person's place stays past the end: a ground truth made
    later for an earlier task, or set on an existing annotation of one, is found by the
    sweep behind the place and comes before the sampling's order."""
    project, t = gt_project(world, 10)
    ground_truth(world, t[6])
    member = annotator(world, project, "behind")
    assert next_id(member, project) == t[6]
    annotate(member, t[6])
    assert next_id(member, project) == t[0]
    annotate(member, t[0])
    ground_truth(world, t[3])
    assert next_id(member, project) == t[3]
    annotate(member, t[3])
    other = annotator(world, project, "other")
    made = other.client.post(
        f"/api/tasks/{t[1]}/annotations/", {"result": choice("Negative")}, format="json"
    )
    assert made.status_code == 201, made.content
    assert next_id(member, project) == t[1]  # not yet a ground truth: the sampling's order
    annotate(member, t[1])
    changed = world.admin.client.patch(
        f"/api/annotations/{made.json()['id']}/", {"ground_truth": True}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert next_id(member, project) == t[2]  # t[1] is theirs now: nothing to hand out first
    annotate(member, t[2])
    # A ground truth task the person passed because it was finished, reopened by a
    # deleted annotation, comes back first.
    assert Task.objects.get(pk=t[6]).total_annotations == 2
    mine = member.client.get(f"/api/tasks/{t[6]}/annotations/").json()
    assert member.client.delete(f"/api/annotations/{mine[0]['id']}/").status_code == 204
    assert next_id(member, project) == t[6]


def test_many_ground_truths_behind_a_place_are_swept_a_slice_at_a_time(world: World) -> None:
    """With more than SWEEP ground truths behind the place (all the person's own), one
    made later is found within a few searches, a slice of SWEEP of them each."""
    count = stream.SWEEP + 40
    project, t = gt_project(world, count + 20)
    truths = t[1 : count + 1]
    body = {"project": project.pk, "tasks": truths, "result": choice("Positive")}
    made = world.admin.client.post(
        "/api/annotations/bulk/", {**body, "ground_truth": True}, format="json"
    )
    assert made.status_code == 201, made.content
    member = annotator(world, project, "many")
    assert member.client.post("/api/annotations/bulk/", body, format="json").status_code == 201
    assert next_id(member, project) == t[0]  # every ground truth task is theirs
    annotate(member, t[0])
    late = t[count + 5]
    ground_truth(world, late)
    given = []
    for _ in range(3):
        pk = next_id(member, project)
        assert pk is not None
        given.append(pk)
        annotate(member, pk)
    assert late in given, given
    assert given[0] == t[count + 1]  # the first search sweeps the first SWEEP: not there

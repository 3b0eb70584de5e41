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
from tests.tasks.test_stream_rules import annotator, make_project
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
    ground_truth(world, t[5])
    member = annotator(world, project, "plan")
    with CaptureQueriesContext(connection) as captured:
        found = stream.next_task(project, member.user)
    assert found is not None and found.pk == t[5]
    walks = [q["sql"] for q in captured.captured_queries if '"ground_truth"' in q["sql"]]
    assert len(walks) == 1, captured.captured_queries
    chosen = plan(walks[0])
    assert "annotation_ground_truth" in chosen, chosen
    assert "TEMP B-TREE" not in chosen and "Sort" not in chosen, chosen

"""Label Studio's counted project numbers (finished tasks, skips, ground truths, the
caller's queue) on every project answer and at `api/projects/counts/`."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import services as tasks
from tests.conftest import TEST_ORIGIN, Actor, World
from tests.tasks.conftest import CONFIG, choice

pytestmark = pytest.mark.django_db

COUNTED = (
    "finished_task_number",
    "skipped_annotations_number",
    "ground_truth_number",
    "useful_annotation_number",
)


def _annotate(who: Actor, task: int, *, skip: bool = False, truth: bool = False) -> int:
    body = {"result": [] if skip else choice("Positive"), "was_cancelled": skip}
    if truth:
        body["ground_truth"] = True
    made = who.client.post(f"/api/tasks/{task}/annotations/", body, format="json")
    assert made.status_code == 201, made.content
    return int(made.json()["id"])


def _counts(who: Actor, project: Project) -> dict[str, Any]:
    got = who.client.get(f"/api/projects/{project.pk}/")
    assert got.status_code == 200
    return {name: got.json()[name] for name in (*COUNTED, "queue_total", "queue_done")}


@pytest.fixture
def worked(world: World, project: Project, task_ids: list[int]) -> dict[str, int]:
    """Five tasks, overlap 1: the member finishes t0 and skips t1; the admin finishes t2
    as ground truth, finishes t3 and then marks it ground truth, and skips t4."""
    _annotate(world.member, task_ids[0])
    _annotate(world.member, task_ids[1], skip=True)
    _annotate(world.admin, task_ids[2], truth=True)
    later = _annotate(world.admin, task_ids[3])
    marked = world.admin.client.patch(
        f"/api/annotations/{later}/", {"ground_truth": True}, format="json"
    )
    assert marked.status_code == 200
    _annotate(world.admin, task_ids[4], skip=True)
    return {"t3": later}


def test_counts_follow_the_work(world: World, project: Project, worked: dict[str, int]) -> None:
    # The member's queue: t0 and t1 done; open to them besides: t4 (skipped by another).
    assert _counts(world.member, project) == {
        "finished_task_number": 3,
        "skipped_annotations_number": 2,
        "ground_truth_number": 2,
        "useful_annotation_number": 1,
        "queue_total": 3,
        "queue_done": 2,
    }
    # The admin's: t2, t3, t4 done; open besides: t1.
    mine = _counts(world.admin, project)
    assert (mine["queue_total"], mine["queue_done"]) == (4, 3)

    # Remembered counts follow a change that moves no stored counter.
    unmarked = world.admin.client.patch(
        f"/api/annotations/{worked['t3']}/", {"ground_truth": False}, format="json"
    )
    assert unmarked.status_code == 200
    after = _counts(world.admin, project)
    assert (after["ground_truth_number"], after["useful_annotation_number"]) == (1, 2)

    # The answer to a change of overlap counts the tasks as they now are.
    changed = world.admin.client.patch(
        f"/api/projects/{project.pk}/", {"maximum_annotations": 2}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["finished_task_number"] == 0
    assert changed.json()["queue_total"] == 5
    assert _counts(world.member, project)["finished_task_number"] == 0


def test_deleting_work_takes_it_off_the_counts(
    world: World, project: Project, task_ids: list[int], worked: dict[str, int]
) -> None:
    _counts(world.admin, project)  # remembered, then out of date
    assert world.admin.client.delete(f"/api/annotations/{worked['t3']}/").status_code == 204
    gone = world.admin.client.delete(f"/api/tasks/{task_ids[1]}/")
    assert gone.status_code == 204
    assert _counts(world.admin, project) == {
        "finished_task_number": 2,
        "skipped_annotations_number": 1,
        "ground_truth_number": 1,
        "useful_annotation_number": 1,
        # t2 and t4 done; t3 (annotation deleted) open again.
        "queue_total": 3,
        "queue_done": 2,
    }


def test_a_new_project_counts_nothing(world: World) -> None:
    made = world.admin.client.post(
        "/api/projects/", {"title": "Empty", "label_config": CONFIG}, format="json"
    )
    assert made.status_code == 201
    body = made.json()
    assert {name: body[name] for name in (*COUNTED, "queue_total", "queue_done")} == dict.fromkeys(
        (*COUNTED, "queue_total", "queue_done"), 0
    )


def test_counts_endpoint(world: World, project: Project, worked: dict[str, int]) -> None:
    other = projects.create_project(
        world.org, {"title": "Other", "label_config": CONFIG}, actor=world.admin.user,
        origin=TEST_ORIGIN,
    )  # fmt: skip
    tasks.create_tasks(
        other, [tasks.NewTask(data={"text": "x"})], actor=world.admin.user, origin=TEST_ORIGIN
    )
    page = world.admin.client.get("/api/projects/counts/").json()
    assert page["count"] == 2
    assert [row["id"] for row in page["results"]] == [other.pk, project.pk]
    first, second = page["results"]
    assert first == {
        "id": other.pk,
        "task_number": 1,
        "num_tasks_with_annotations": 0,
        "total_annotations_number": 0,
        "total_predictions_number": 0,
        "finished_task_number": 0,
        "skipped_annotations_number": 0,
        "ground_truth_number": 0,
        "useful_annotation_number": 0,
        "queue_total": 1,
        "queue_done": 0,
    }
    assert second["finished_task_number"] == 3 and second["task_number"] == 5
    # Without the trailing slash too, and with the list's filters and pages.
    picked = world.admin.client.get(
        f"/api/projects/counts?ids={project.pk}&include=task_number,finished_task_number"
    ).json()["results"]
    assert picked == [{"id": project.pk, "task_number": 5, "finished_task_number": 3}]
    titled = world.admin.client.get("/api/projects/counts/?title=oth&page_size=1").json()
    assert [row["id"] for row in titled["results"]] == [other.pk]
    # `id` may be named (it always comes); `include` may be repeated.
    named = world.admin.client.get(
        f"/api/projects/counts/?ids={project.pk}&include=id,task_number&include=queue_done"
    ).json()["results"]
    assert named == [{"id": project.pk, "task_number": 5, "queue_done": 3}]
    unknown = world.admin.client.get("/api/projects/counts/?include=task_number,password")
    assert unknown.status_code == 400
    assert "password" in str(unknown.json())
    assert world.admin.client.get("/api/projects/counts/?ordering=created_by").status_code == 400

    # Annotators count only the projects they are on; other organizations see none.
    on = world.member.client.get("/api/projects/counts/").json()["results"]
    assert [row["id"] for row in on] == [project.pk]
    assert world.outsider.client.get("/api/projects/counts/").json()["results"] == []
    assert world.admin.client.post("/api/projects/counts/", {}, format="json").status_code == 405


def _counting(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "is_labeled" in q["sql"]]


def test_a_page_of_projects_is_counted_in_one_statement(world: World) -> None:
    def listed() -> CaptureQueriesContext:
        with CaptureQueriesContext(connection) as queries:
            got = world.admin.client.get("/api/projects/")
        assert got.status_code == 200
        return queries

    for n in range(3):
        made = projects.create_project(
            world.org, {"title": f"P{n}", "label_config": CONFIG}, actor=world.admin.user,
            origin=TEST_ORIGIN,
        )  # fmt: skip
        tasks.create_tasks(
            made, [tasks.NewTask(data={"text": "x"})], actor=world.admin.user, origin=TEST_ORIGIN
        )
    first = listed()
    assert len(_counting(first)) == 1
    # Nothing changed: the counts are remembered, and not counted again.
    again = listed()
    assert _counting(again) == []


def test_counts_are_remembered_per_version(
    world: World, project: Project, task_ids: list[int]
) -> None:
    _counts(world.member, project)
    with CaptureQueriesContext(connection) as quiet:
        assert _counts(world.member, project)["finished_task_number"] == 0
    assert _counting(quiet) == []
    _annotate(world.admin, task_ids[0])
    with CaptureQueriesContext(connection) as counted:
        assert _counts(world.member, project)["finished_task_number"] == 1
    assert len(_counting(counted)) == 1

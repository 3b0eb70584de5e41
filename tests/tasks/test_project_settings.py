"""Label Studio's project settings: kept and returned, and the ones Labelkeep acts on
(empty annotations, predictions in the label stream, the overlap cohort, pinning)."""

from __future__ import annotations

from typing import Any

import pytest

from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import counters
from labelkeep.tasks import services as tasks
from labelkeep.tasks.models import Annotation, Prediction, Task
from labelkeep.tasks.overlap import in_cohort, task_overlap, task_overlaps
from tests.conftest import TEST_ORIGIN, World
from tests.tasks.conftest import CONFIG, choice

LS_DEFAULTS = {
    "enable_empty_annotation": True,
    "show_collab_predictions": True,
    "overlap_cohort_percentage": 100,
    "show_overlap_first": False,
    "is_published": False,
    "is_draft": False,
    "pinned_at": None,
    "show_annotation_history": False,
    "reveal_preannotations_interactively": False,
    "show_ground_truth_first": False,
    "min_annotations_to_start_training": 0,
    "evaluate_predictions_automatically": False,
    "start_training_on_annotation_update": False,
    "skip_queue": "REQUEUE_FOR_OTHERS",
}

CHANGED = {
    "enable_empty_annotation": False,
    "show_collab_predictions": False,
    "overlap_cohort_percentage": 40,
    "show_overlap_first": True,
    "is_published": True,
    "is_draft": True,
    "pinned_at": "2026-11-20T10:00:00Z",
    "show_annotation_history": True,
    "reveal_preannotations_interactively": True,
    "show_ground_truth_first": True,
    "min_annotations_to_start_training": 25,
    "evaluate_predictions_automatically": True,
    "start_training_on_annotation_update": True,
    "skip_queue": "REQUEUE_FOR_OTHERS",
}


def _patch(world: World, project: Project, **fields: Any) -> Any:
    return world.admin.client.patch(f"/api/projects/{project.pk}/", fields, format="json")


def test_new_projects_have_label_studios_defaults(world: World) -> None:
    body = world.admin.client.post(
        "/api/projects/", {"title": "New", "label_config": CONFIG}, format="json"
    ).json()
    assert {name: body[name] for name in LS_DEFAULTS} == LS_DEFAULTS
    assert body["config_has_control_tags"] is True
    bare = world.admin.client.post(
        "/api/projects/",
        {"title": "Bare", "label_config": '<View><Text name="t" value="$t"/></View>'},
        format="json",
    ).json()
    assert bare["config_has_control_tags"] is False


def test_settings_are_kept_on_create_and_change(world: World, project: Project) -> None:
    made = world.admin.client.post(
        "/api/projects/", {"title": "Set", "label_config": CONFIG, **CHANGED}, format="json"
    )
    assert made.status_code == 201, made.content
    got = world.admin.client.get(f"/api/projects/{made.json()['id']}/").json()
    assert {name: got[name] for name in CHANGED} == CHANGED

    changed = _patch(world, project, **CHANGED)
    assert changed.status_code == 200, changed.content
    assert {name: changed.json()[name] for name in CHANGED} == CHANGED
    listed = world.admin.client.get("/api/projects/?filter=pinned_only").json()["results"]
    assert [p["id"] for p in listed] == [made.json()["id"], project.pk]
    back = _patch(world, project, pinned_at=None, is_published=False)
    assert back.json()["pinned_at"] is None and back.json()["is_published"] is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("overlap_cohort_percentage", 101),
        ("overlap_cohort_percentage", -1),
        ("overlap_cohort_percentage", "half"),
        ("min_annotations_to_start_training", -5),
        ("min_annotations_to_start_training", 10**12),
        ("pinned_at", "yesterday"),
        ("pinned_at", "</script>"),
        ("is_published", "maybe"),
        ("enable_empty_annotation", [True]),
        ("skip_queue", "REQUEUE_FOR_ME"),
        ("skip_queue", "IGNORE_SKIPPED"),
        ("skip_queue", "../etc"),
    ],
)
def test_bad_settings_are_a_400_and_change_nothing(
    world: World, project: Project, field: str, value: Any
) -> None:
    before = Project.objects.get(pk=project.pk)
    response = _patch(world, project, title="Changed", **{field: value})
    assert response.status_code == 400, response.content
    assert field in response.json()["validation_errors"]
    after = Project.objects.get(pk=project.pk)
    assert after.title == before.title and after.updated_at == before.updated_at


def test_skip_queue_refusal_says_what_the_stream_does(world: World, project: Project) -> None:
    response = _patch(world, project, skip_queue="REQUEUE_FOR_ME")
    message = str(response.json()["validation_errors"]["skip_queue"])
    assert "REQUEUE_FOR_OTHERS" in message


def test_annotators_cannot_change_settings(world: World, project: Project) -> None:
    response = world.member.client.patch(
        f"/api/projects/{project.pk}/", {"is_published": True}, format="json"
    )
    assert response.status_code == 403
    assert Project.objects.get(pk=project.pk).is_published is False
    outsider = world.outsider.client.patch(
        f"/api/projects/{project.pk}/", {"is_published": True}, format="json"
    )
    assert outsider.status_code == 404


# --- Pinning ----------------------------------------------------------------------------


def _titled(world: World, query: str) -> list[str]:
    results = world.admin.client.get(f"/api/projects/?{query}").json()["results"]
    return [p["title"] for p in results]


def test_pinned_filter_and_ordering(world: World) -> None:
    for title, pinned in (
        ("old pin", "2026-01-01T00:00:00Z"),
        ("plain", None),
        ("new pin", "2026-06-01T00:00:00Z"),
        ("plain too", None),
    ):
        world.admin.client.post(
            "/api/projects/", {"title": title, "pinned_at": pinned}, format="json"
        )
    assert _titled(world, "filter=pinned_only") == ["new pin", "old pin"]
    assert _titled(world, "filter=exclude_pinned") == ["plain too", "plain"]
    assert len(_titled(world, "filter=all")) == 4
    # Pinned first either way; the rest newest first.
    assert _titled(world, "ordering=-pinned_at") == ["new pin", "old pin", "plain too", "plain"]
    assert _titled(world, "ordering=pinned_at") == ["old pin", "new pin", "plain too", "plain"]
    refused = world.admin.client.get("/api/projects/?filter=pinned")
    assert refused.status_code == 400 and "filter" in refused.json()["validation_errors"]


# --- Empty annotations ------------------------------------------------------------------


def _post_annotation(world: World, task: int, **body: Any) -> Any:
    return world.member.client.post(f"/api/tasks/{task}/annotations/", body, format="json")


def test_empty_annotations_are_accepted_by_default(
    world: World, project: Project, task_ids: list[int]
) -> None:
    assert _post_annotation(world, task_ids[0], result=[]).status_code == 201


def test_empty_annotations_refused_when_the_project_says_so(
    world: World, project: Project, task_ids: list[int]
) -> None:
    _patch(world, project, enable_empty_annotation=False)
    refused = _post_annotation(world, task_ids[0], result=[])
    assert refused.status_code == 400
    assert "enable_empty_annotation" in str(refused.json()["validation_errors"]["result"])
    missing = _post_annotation(world, task_ids[0])  # no result at all is empty too
    assert missing.status_code == 400
    assert not Annotation.objects.filter(task_id=task_ids[0]).exists()
    project.refresh_from_db()
    assert project.total_annotations_number == 0
    # A skip needs no regions; a labeled one is fine.
    assert _post_annotation(world, task_ids[0], result=[], was_cancelled=True).status_code == 201
    assert _post_annotation(world, task_ids[1], result=choice("Positive")).status_code == 201


def test_bulk_empty_annotations_refused_whole(
    world: World, project: Project, task_ids: list[int]
) -> None:
    _patch(world, project, enable_empty_annotation=False)
    response = world.admin.client.post(
        "/api/annotations/bulk/", {"tasks": task_ids, "result": []}, format="json"
    )
    assert response.status_code == 400
    assert not Annotation.objects.filter(project=project).exists()


def test_changes_that_leave_an_annotation_empty_are_refused(
    world: World, project: Project, task_ids: list[int]
) -> None:
    labeled = _post_annotation(world, task_ids[0], result=choice("Positive")).json()["id"]
    skipped = _post_annotation(world, task_ids[1], result=[], was_cancelled=True).json()["id"]
    empty = _post_annotation(world, task_ids[2], result=[]).json()["id"]
    _patch(world, project, enable_empty_annotation=False)
    client = world.member.client

    emptied = client.patch(f"/api/annotations/{labeled}/", {"result": []}, format="json")
    assert emptied.status_code == 400
    assert Annotation.objects.get(pk=labeled).result == choice("Positive")
    unskipped = client.patch(
        f"/api/annotations/{skipped}/", {"was_cancelled": False}, format="json"
    )
    assert unskipped.status_code == 400
    assert Annotation.objects.get(pk=skipped).was_cancelled is True
    assert Task.objects.get(pk=task_ids[1]).cancelled_annotations == 1
    # An annotation left empty from before may still have its other fields changed,
    # or be given regions.
    flagged = client.patch(f"/api/annotations/{empty}/", {"lead_time": 3.5}, format="json")
    assert flagged.status_code == 200
    filled = client.patch(
        f"/api/annotations/{empty}/", {"result": choice("Neutral")}, format="json"
    )
    assert filled.status_code == 200


# --- Predictions in the label stream ----------------------------------------------------


def test_hidden_predictions_do_not_reach_the_label_stream(
    world: World, project: Project, task_ids: list[int]
) -> None:
    Prediction.objects.create(task_id=task_ids[0], project=project, result=choice("Negative"))
    shown = world.member.client.get(f"/api/projects/{project.pk}/next").json()
    assert shown["id"] == task_ids[0] and len(shown["predictions"]) == 1
    _patch(world, project, show_collab_predictions=False)
    hidden = world.member.client.get(f"/api/projects/{project.pk}/next").json()
    assert hidden["id"] == task_ids[0] and hidden["predictions"] == []
    # Reading the task itself still shows them.
    task = world.member.client.get(f"/api/tasks/{task_ids[0]}/").json()
    assert len(task["predictions"]) == 1


# --- The overlap cohort -----------------------------------------------------------------


@pytest.mark.parametrize("percentage", [0, 1, 30, 33, 50, 99, 100])
def test_any_hundred_numbers_hold_the_percentage(percentage: int) -> None:
    for start in (1, 2, 57, 1001):
        inside = sum(in_cohort(n, percentage) for n in range(start, start + 100))
        assert inside == percentage


def _overlaps(project: Project) -> dict[int, int]:
    return dict(Task.objects.filter(project=project).values_list("inner_id", "overlap"))


def _expected(project: Project) -> dict[int, int]:
    project.refresh_from_db()
    return {
        n: task_overlap(n, project.maximum_annotations, project.overlap_cohort_percentage)
        for n in _overlaps(project)
    }


def _import(world: World, project: Project, count: int) -> list[int]:
    body = [{"text": f"review {n}"} for n in range(count)]
    response = world.admin.client.post(f"/api/projects/{project.pk}/import", body, format="json")
    assert response.status_code == 201, response.content
    return list(Task.objects.filter(project=project).values_list("pk", flat=True))


def test_cohort_applies_to_stored_and_new_tasks_alike(world: World, project: Project) -> None:
    _import(world, project, 150)
    assert set(_overlaps(project).values()) == {1}
    assert (
        _patch(world, project, maximum_annotations=3, overlap_cohort_percentage=30).status_code
        == 200
    )
    overlaps = _overlaps(project)
    assert overlaps == _expected(project)  # SQL and Python agree
    assert sum(1 for o in overlaps.values() if o == 3) == 45
    _import(world, project, 50)  # numbered 151..200, placed by the same rule
    overlaps = _overlaps(project)
    assert overlaps == _expected(project)
    assert sum(1 for o in overlaps.values() if o == 3) == 60
    assert _patch(world, project, overlap_cohort_percentage=100).status_code == 200
    assert set(_overlaps(project).values()) == {3}


def test_tasks_made_one_by_one_follow_the_cohort(world: World, project: Project) -> None:
    _patch(world, project, maximum_annotations=2, overlap_cohort_percentage=50)
    made = [
        world.admin.client.post(
            "/api/tasks/", {"project": project.pk, "data": {"text": str(n)}}, format="json"
        ).json()
        for n in range(4)
    ]
    assert [task["overlap"] for task in made] == [1, 2, 1, 2]


def test_a_cohort_change_relabels_tasks(world: World, project: Project) -> None:
    ids = _import(world, project, 4)
    for pk in ids:
        _post_annotation(world, pk, result=choice("Positive"))
    assert Task.objects.filter(project=project, is_labeled=True).count() == 4
    _patch(world, project, maximum_annotations=2, overlap_cohort_percentage=50)
    labeled = dict(Task.objects.filter(project=project).values_list("inner_id", "is_labeled"))
    assert labeled == {1: True, 2: False, 3: True, 4: False}
    # The stream now offers the cohort's tasks to a second annotator, and only those.
    offered = world.admin.client.get(f"/api/projects/{project.pk}/next").json()
    assert Task.objects.get(pk=offered["id"]).inner_id == 2


def test_imported_annotations_count_against_the_cohorts_overlap(
    world: World, project: Project
) -> None:
    _patch(world, project, maximum_annotations=2, overlap_cohort_percentage=50)
    done = {"result": choice("Positive")}
    created = tasks.create_tasks(
        project,
        [tasks.NewTask(data={"text": str(n)}, annotations=[done]) for n in range(2)],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    rows = Task.objects.filter(pk__in=created.task_ids).order_by("inner_id")
    assert [(t.overlap, t.is_labeled) for t in rows] == [(1, True), (2, False)]


# --- Races and round trips (review findings) --------------------------------------------


def test_a_stale_project_still_sets_overlaps_from_the_row(world: World, project: Project) -> None:
    _import(world, project, 10)
    stale = Project.objects.get(pk=project.pk)  # one request reads the project …
    projects.update_project(
        project, {"maximum_annotations": 3}, actor=world.admin.user, origin=TEST_ORIGIN
    )  # … another changes the maximum and commits …
    changed = projects.update_project(
        stale, {"overlap_cohort_percentage": 50}, actor=world.admin.user, origin=TEST_ORIGIN
    )  # … and the first changes only the percentage.
    assert changed.maximum_annotations == 3  # the answer shows the row as it is
    assert [_overlaps(project)[n] for n in range(1, 5)] == [1, 3, 1, 3]
    assert _overlaps(project) == _expected(project)


def test_a_stale_annotation_cannot_become_empty_work(
    world: World, project: Project, task_ids: list[int]
) -> None:
    made = tasks.create_annotation(
        Task.objects.select_related("project").get(pk=task_ids[0]),
        {"result": choice("Positive"), "was_cancelled": True},
        actor=world.member.user,
        completed_by=world.member.user,
        origin=TEST_ORIGIN,
    )
    _patch(world, project, enable_empty_annotation=False)
    one = Annotation.objects.select_related("project", "task").get(pk=made.pk)
    other = Annotation.objects.select_related("project", "task").get(pk=made.pk)
    # A skip may lose its regions; the other request, which read the regions, then un-skips.
    tasks.update_annotation(other, {"result": []}, actor=world.member.user, origin=TEST_ORIGIN)
    with pytest.raises(tasks.TaskError):
        tasks.update_annotation(
            one, {"was_cancelled": False}, actor=world.member.user, origin=TEST_ORIGIN
        )
    row = Annotation.objects.get(pk=made.pk)
    assert row.result == [] and row.was_cancelled is True


def test_an_old_empty_annotation_round_trips(
    world: World, project: Project, task_ids: list[int]
) -> None:
    empty = _post_annotation(world, task_ids[0], result=[]).json()
    _patch(world, project, enable_empty_annotation=False)
    # A script sends back the whole object, unchanged flags and empty result included.
    sent = {"result": [], "was_cancelled": False, "ground_truth": True}
    response = world.member.client.patch(f"/api/annotations/{empty['id']}/", sent, format="json")
    assert response.status_code == 200, response.content
    assert Annotation.objects.get(pk=empty["id"]).ground_truth is True


def test_skip_queue_null_is_the_default(world: World, project: Project) -> None:
    response = _patch(world, project, skip_queue=None)
    assert response.status_code == 200, response.content
    assert response.json()["skip_queue"] == "REQUEUE_FOR_OTHERS"


def test_only_tasks_whose_overlap_changes_are_written(world: World, project: Project) -> None:
    _import(world, project, 10)
    project.maximum_annotations, project.overlap_cohort_percentage = 2, 50
    assert counters.apply_overlap(project) == 5  # the even numbers
    project.overlap_cohort_percentage = 60
    moved = [n for n in range(1, 11) if task_overlap(n, 2, 50) != task_overlap(n, 2, 60)]
    assert counters.apply_overlap(project) == len(moved) == 5
    assert counters.apply_overlap(project) == 0
    assert _overlaps(project) == {n: task_overlap(n, 2, 60) for n in range(1, 11)}


@pytest.mark.parametrize(("maximum", "percentage"), [(1, 30), (3, 100), (3, 30), (2, 0)])
def test_overlaps_of_a_run_follow_the_rule(maximum: int, percentage: int) -> None:
    listed = task_overlaps(41, 120, maximum, percentage)
    assert listed == [task_overlap(n, maximum, percentage) for n in range(41, 161)]

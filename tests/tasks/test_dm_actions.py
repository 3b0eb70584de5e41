"""The data manager's actions: listing them, deleting annotations or predictions of a
selection, and turning predictions into annotations; all or nothing, counters kept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labelkeep.audit.models import AuditEvent
from labelkeep.projects.models import Project
from labelkeep.tasks import bulk, deletion, services
from labelkeep.tasks.models import Annotation, Prediction, Task
from tests.conftest import TEST_ORIGIN, World
from tests.tasks.conftest import choice

LABELS = ("Positive", "Negative", "Neutral")


def act(world: World, project: Project, action: str, body: dict[str, Any]) -> Any:
    return world.admin.client.post(
        f"/api/dm/actions?id={action}&project={project.pk}", body, format="json"
    )


def everything(**extra: Any) -> dict[str, Any]:
    return {"selectedItems": {"all": True, "excluded": []}, **extra}


def only(ids: list[int], **extra: Any) -> dict[str, Any]:
    return {"selectedItems": {"all": False, "included": ids}, **extra}


def predict(project: Project, world: World, task_ids: list[int], version: str = "v1") -> None:
    rows = [
        (Task.objects.get(pk=pk), {"result": choice(LABELS[n % 3]), "model_version": version})
        for n, pk in enumerate(task_ids)
    ]
    services.create_predictions(project, rows, actor=world.admin.user, origin=TEST_ORIGIN)


def annotate(world: World, task: int, label: str, who: Any = None) -> int:
    client = (who or world.member).client
    answer = client.post(
        f"/api/tasks/{task}/annotations/", {"result": choice(label)}, format="json"
    )
    assert answer.status_code == 201, answer.content
    pk: int = answer.json()["id"]
    return pk


def counters_of(project: Project) -> tuple[int, int, int, int]:
    """The project's counters, as stored and as recounted from the rows."""
    project.refresh_from_db()
    stored = (
        project.num_tasks_with_annotations,
        project.total_annotations_number,
        project.total_predictions_number,
    )
    tasks = Task.objects.filter(project=project)
    recounted = (
        tasks.filter(annotations__was_cancelled=False).distinct().count(),
        Annotation.objects.filter(project=project, was_cancelled=False).count(),
        Prediction.objects.filter(project=project).count(),
    )
    assert stored == recounted
    for task in tasks:
        done = Annotation.objects.filter(task=task, was_cancelled=False).count()
        assert task.total_annotations == done
        assert task.total_predictions == Prediction.objects.filter(task=task).count()
        assert task.is_labeled == (done >= task.overlap)
    return (*recounted, project.task_number)


def test_the_list_names_each_action_with_its_choices(
    world: World, project: Project, task_ids: list[int]
) -> None:
    annotate(world, task_ids[0], "Positive")
    predict(project, world, task_ids[:1], "v2")
    predict(project, world, task_ids[1:2], "v1")
    project.model_version = "v2"
    project.save(update_fields=["model_version"])
    answer = world.admin.client.get(f"/api/dm/actions?project={project.pk}")
    assert answer.status_code == 200
    listed = {a["id"]: a for a in answer.json()}
    assert list(listed) == [
        "predictions_to_annotations",
        "delete_tasks",
        "delete_tasks_annotations",
        "delete_tasks_predictions",
    ]
    assert [a["order"] for a in listed.values()] == [91, 100, 101, 102]
    (versions,) = listed["predictions_to_annotations"]["dialog"]["form"][0]["fields"]
    assert versions["name"] == "model_version" and versions["options"] == ["v2", "v1"]
    (annotator,) = listed["delete_tasks_annotations"]["dialog"]["form"][0]["fields"]
    assert [o["value"] for o in annotator["options"]] == [str(world.member.user.pk)]
    assert "form" not in listed["delete_tasks"]["dialog"] and listed["delete_tasks"]["reload"]


def test_who_may_list_and_run_actions(world: World, project: Project, task_ids: list[int]) -> None:
    path = f"/api/dm/actions?project={project.pk}"
    assert world.member.client.get(path).status_code == 403
    assert world.outsider.client.get(path).status_code == 404
    run = f"/api/dm/actions?id=delete_tasks_annotations&project={project.pk}"
    assert world.member.client.post(run, everything(), format="json").status_code == 403
    assert world.outsider.client.post(run, everything(), format="json").status_code == 404
    assert world.admin.client.get("/api/dm/actions").status_code == 400


def test_deleting_annotations_of_a_selection(
    world: World, project: Project, task_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deletion, "SLICE", 2)  # the selection goes in several slices
    for pk in task_ids:
        annotate(world, pk, "Positive")
    admins = annotate(world, task_ids[1], "Negative", world.admin)
    answer = act(world, project, "delete_tasks_annotations", only(task_ids[:4]))
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"detail": "Deleted 5 annotations", "processed_items": 5}
    assert not Annotation.objects.filter(task_id__in=task_ids[:4]).exists()
    assert Annotation.objects.filter(task_id=task_ids[4]).count() == 1
    assert counters_of(project) == (1, 1, 0, 5)
    event = AuditEvent.objects.get(action="annotations.delete_bulk")
    assert event.details["count"] == 5 and event.details["via"] == "delete_tasks_annotations"
    assert admins not in Annotation.objects.values_list("pk", flat=True)


def test_deleting_one_annotators_annotations_through_filters(
    world: World, project: Project, task_ids: list[int]
) -> None:
    for pk in task_ids:
        annotate(world, pk, "Positive")
        annotate(world, pk, "Negative", world.admin)
    item = {"filter": "filter:tasks:id", "operator": "greater", "type": "Number"}
    body = everything(
        annotator=world.member.user.pk,
        filters={"conjunction": "and", "items": [{**item, "value": task_ids[2]}]},
    )
    answer = act(world, project, "delete_tasks_annotations", body)
    assert answer.json()["processed_items"] == 2
    left = Annotation.objects.filter(completed_by=world.member.user)
    assert sorted(left.values_list("task_id", flat=True)) == task_ids[:3]
    assert Annotation.objects.filter(completed_by=world.admin.user).count() == 5
    assert counters_of(project) == (5, 8, 0, 5)


def test_deleting_predictions_keeps_annotations_made_from_them(
    world: World, project: Project, task_ids: list[int]
) -> None:
    predict(project, world, task_ids)
    converted = act(world, project, "predictions_to_annotations", only(task_ids[:2]))
    assert converted.json()["processed_items"] == 2
    answer = act(world, project, "delete_tasks_predictions", only(task_ids[:3]))
    assert answer.json() == {"detail": "Deleted 3 predictions", "processed_items": 3}
    assert sorted(Prediction.objects.values_list("task_id", flat=True)) == task_ids[3:]
    made = Annotation.objects.filter(task_id__in=task_ids[:2])
    assert made.count() == 2 and {a.parent_prediction_id for a in made} == {None}
    assert counters_of(project) == (2, 2, 2, 5)
    event = AuditEvent.objects.get(action="predictions.delete_bulk")
    assert event.details["count"] == 3
    nothing = act(world, project, "delete_tasks_predictions", only(task_ids[:3]))
    assert nothing.json()["processed_items"] == 0
    assert AuditEvent.objects.filter(action="predictions.delete_bulk").count() == 1


def test_predictions_become_annotations_once(
    world: World, project: Project, task_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deletion, "SLICE", 2)
    predict(project, world, task_ids, "v1")
    predict(project, world, task_ids[:2], "v2")
    annotate(world, task_ids[0], "Neutral")
    answer = act(world, project, "predictions_to_annotations", everything(model_version="v1"))
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"detail": "Created 5 annotations", "processed_items": 5}
    made = Annotation.objects.filter(parent_prediction__isnull=False).select_related(
        "parent_prediction"
    )
    assert len(made) == 5
    for annotation in made:
        prediction = annotation.parent_prediction
        assert prediction is not None and prediction.model_version == "v1"
        assert annotation.task_id == prediction.task_id and annotation.result == prediction.result
        assert annotation.completed_by_id == world.admin.user.pk
        assert (annotation.last_action, annotation.bulk_created) == ("prediction", True)
    assert counters_of(project) == (5, 6, 7, 5)
    again = act(world, project, "predictions_to_annotations", everything(model_version=["v1"]))
    assert again.json()["processed_items"] == 0  # none made twice
    rest = act(world, project, "predictions_to_annotations", everything())
    assert rest.json()["processed_items"] == 2  # the v2 ones
    assert counters_of(project) == (5, 8, 7, 5)
    event = AuditEvent.objects.filter(action="annotations.from_predictions").order_by("pk").first()
    assert event is not None and event.details["count"] == 5
    assert event.details["model_versions"] == ["v1"]


def test_predictions_the_config_no_longer_allows_are_left(
    world: World, project: Project, task_ids: list[int]
) -> None:
    predict(project, world, task_ids[:2])
    stale = [{**choice("Positive")[0], "value": {"choices": ["Gone"]}}]
    Prediction.objects.filter(task_id=task_ids[0]).update(result=stale)
    answer = act(world, project, "predictions_to_annotations", everything())
    assert answer.json()["processed_items"] == 1
    assert "1 predictions were left" in answer.json()["detail"]
    assert list(Annotation.objects.values_list("task_id", flat=True)) == [task_ids[1]]


def test_an_action_that_fails_midway_leaves_nothing(
    world: World, project: Project, task_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deletion, "SLICE", 2)
    predict(project, world, task_ids)
    real = bulk.Columns.insert
    calls: list[int] = []

    def failing(self: bulk.Columns, rows: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(self, rows)

    monkeypatch.setattr(bulk.Columns, "insert", failing)
    with pytest.raises(RuntimeError):
        act(world, project, "predictions_to_annotations", everything())
    assert not Annotation.objects.exists()
    assert counters_of(project) == (0, 0, 5, 5)


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("rename_everything", everything(), "id"),
        ("", everything(), "id"),
        ("delete_tasks_annotations", everything(annotator="x"), "annotator"),
        ("delete_tasks_annotations", everything(annotator=True), "annotator"),
        ("delete_tasks_annotations", everything(annotator=-1), "annotator"),
        ("predictions_to_annotations", everything(model_version=5), "model_version"),
        ("predictions_to_annotations", everything(model_version=[]), "model_version"),
        ("predictions_to_annotations", everything(model_version="v" * 201), "model_version"),
        ("predictions_to_annotations", everything(model_version="a\x00b"), "model_version"),
        ("predictions_to_annotations", everything(model_version=["ok", {}]), "model_version"),
        ("delete_tasks_predictions", {"selectedItems": {"all": "maybe"}}, "all"),
        ("delete_tasks_predictions", everything(filters={"items": "</script>"}), "query"),
    ],
)
def test_bad_actions_are_refused_and_change_nothing(
    world: World, project: Project, task_ids: list[int], action: str, body: Any, field: str
) -> None:
    predict(project, world, task_ids)
    annotate(world, task_ids[0], "Positive")
    answer = act(world, project, action, body)
    assert answer.status_code == 400
    assert field in json.dumps(answer.json())
    assert (Annotation.objects.count(), Prediction.objects.count()) == (1, 5)


def test_another_organizations_tasks_are_out_of_reach(
    world: World, project: Project, task_ids: list[int]
) -> None:
    predict(project, world, task_ids)
    path = f"/api/dm/actions?id=delete_tasks_predictions&project={project.pk}"
    answer = world.outsider.client.post(path, only(task_ids), format="json")
    assert answer.status_code == 404
    assert Prediction.objects.count() == 5


def test_an_annotation_names_the_prediction_it_came_from(
    world: World, project: Project, task_ids: list[int]
) -> None:
    predict(project, world, task_ids[:2])
    mine, other = (Prediction.objects.get(task_id=pk).pk for pk in task_ids[:2])
    path = f"/api/tasks/{task_ids[0]}/annotations/"
    made = world.member.client.post(
        path, {"result": choice("Positive"), "parent_prediction": mine}, format="json"
    )
    assert made.status_code == 201 and made.json()["parent_prediction"] == mine
    for wrong in (other, 10**12, "x", 0):
        refused = world.member.client.post(
            path, {"result": choice("Positive"), "parent_prediction": wrong}, format="json"
        )
        assert refused.status_code == 400
        assert "parent_prediction" in json.dumps(refused.json()["validation_errors"])
    assert Annotation.objects.count() == 1 and counters_of(project)[1] == 1
    assert world.admin.client.delete(f"/api/predictions/{mine}/").status_code == 204
    shown = world.member.client.get(f"/api/annotations/{made.json()['id']}/").json()
    assert shown["parent_prediction"] is None

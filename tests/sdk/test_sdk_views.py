"""End to end: a script saves Data Manager views with the real SDK and lists tasks by them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from label_studio_sdk.client import LabelStudio
from label_studio_sdk.core.api_error import ApiError
from label_studio_sdk.data_manager import Column, Filters, Operator, Type
from label_studio_sdk.types.lse_task import LseTask

from tests.conftest import World
from tests.sdk.conftest import SdkFactory
from tests.sdk.test_sdk_labeling import new_project, new_tasks


def tasks_of(ls: LabelStudio, **query: Any) -> list[LseTask]:
    listed: list[LseTask] = list(ls.tasks.list(**query))
    return listed


def _text_contains(value: str) -> dict[str, Any]:
    item = {"filter": "filter:tasks:data.text", "operator": "contains", "type": "String"}
    return {"conjunction": "and", "items": [{**item, "value": value}]}


def test_views_through_the_sdk(world: World, sdk: SdkFactory) -> None:
    admin = sdk(world.admin.key)
    project = new_project(admin)
    tasks = new_tasks(admin, project, 5)
    view = admin.views.create(
        project=project, data={"title": "Only 4", "filters": _text_contains("4")}
    )
    assert view.id is not None and view.project == project
    assert [v.id for v in admin.views.list(project=project)] == [view.id]
    assert admin.views.get(id=str(view.id)).data["title"] == "Only 4"
    assert [task.id for task in tasks_of(admin, project=project, view=view.id)] == [tasks[4]]
    assert [task.id for task in tasks_of(admin, view=view.id)] == [tasks[4]]

    admin.views.update(id=str(view.id), data={"filters": _text_contains("2")})
    assert [task.id for task in tasks_of(admin, project=project, view=view.id)] == [tasks[2]]

    second = admin.views.create(project=project, data={"title": "All"})
    assert second.order == 1
    admin.views.update_order(project=project, ids=[second.id, view.id])
    assert [v.id for v in admin.views.list(project=project)] == [second.id, view.id]
    admin.views.delete(id=str(view.id))
    assert [v.id for v in admin.views.list(project=project)] == [second.id]
    admin.views.delete_all(project=project)
    assert admin.views.list(project=project) == []


def test_a_refused_view_reaches_the_script_as_a_400(world: World, sdk: SdkFactory) -> None:
    admin = sdk(world.admin.key)
    project = new_project(admin)
    leak = {"filter": "filter:tasks:updated_by__password", "operator": "contains", "value": "a"}
    with pytest.raises(ApiError) as refused:
        admin.views.create(project=project, data={"filters": {"items": [leak]}})
    assert refused.value.status_code == 400
    assert admin.views.list(project=project) == []


def test_data_manager_actions_through_the_sdk(world: World, sdk: SdkFactory) -> None:
    admin = sdk(world.admin.key)
    project = new_project(admin)
    tasks = new_tasks(admin, project, 3)
    result = [
        {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["Positive"]},
        }
    ]
    for task in tasks:
        admin.predictions.create(task=task, result=result, model_version="m1")
    listed = admin.actions.list(project=project)
    assert "predictions_to_annotations" in {action.id for action in listed}
    admin.actions.create(
        id="predictions_to_annotations",
        project=project,
        selected_items={"all": True, "excluded": [tasks[2]]},
        request_options={"additional_body_parameters": {"model_version": "m1"}},
    )
    made = {a.task for task in tasks for a in admin.annotations.list(id=task)}
    assert made == set(tasks[:2])
    admin.actions.create(
        id="delete_tasks_predictions",
        project=project,
        selected_items={"all": False, "included": tasks[:1]},
    )
    assert [p.task for p in admin.predictions.list(project=project)] == tasks[1:]
    admin.actions.create(
        id="delete_tasks_annotations", project=project, selected_items={"all": True}
    )
    assert all(admin.annotations.list(id=task) == [] for task in tasks)


def test_computed_columns_through_the_sdk(world: World, sdk: SdkFactory) -> None:
    """An active-learning script picks low-confidence tasks with the SDK's own filter
    helpers, and an incremental export picks the tasks finished since a time."""
    admin = sdk(world.admin.key)
    project = new_project(admin)
    tasks = new_tasks(admin, project, 3)
    positive = [
        {"from_name": "sentiment", "to_name": "text", "type": "choices",
         "value": {"choices": ["Positive"]}}
    ]  # fmt: skip
    admin.predictions.create(task=tasks[0], result=positive, score=0.2, model_version="v1")
    admin.predictions.create(task=tasks[1], result=positive, score=0.8, model_version="v2")
    admin.annotations.create(id=tasks[1], result=positive, ground_truth=True)

    def where(column: str, operator: str, kind: str, value: Any) -> str:
        # The SDK's helpers carry no type hints.
        item = Filters.item(column, operator, kind, Filters.value(value))  # type: ignore[no-untyped-call]
        chosen = Filters.create(Filters.AND, [item])  # type: ignore[no-untyped-call]
        return json.dumps({"filters": chosen})

    low = where(Column.predictions_score, Operator.LESS, Type.Number, 0.5)
    assert [task.id for task in tasks_of(admin, project=project, query=low)] == [tasks[0]]
    v2 = where(Column.predictions_model_versions, Operator.CONTAINS, Type.List, "v2")
    assert [task.id for task in tasks_of(admin, project=project, query=v2)] == [tasks[1]]
    truth = where(Column.ground_truth, Operator.EQUAL, Type.Boolean, True)
    assert [task.id for task in tasks_of(admin, project=project, query=truth)] == [tasks[1]]
    since = where(Column.completed_at, Operator.GREATER, Type.Datetime, "2020-01-01T00:00:00Z")
    finished = tasks_of(admin, project=project, query=since)
    assert [task.id for task in finished] == [tasks[1]]
    assert finished[0].completed_at is not None and finished[0].ground_truth is True
    assert finished[0].predictions_score == 0.8
    assert [person["user_id"] for person in finished[0].annotators or []] == [world.admin.user.pk]
    assert finished[0].predictions_model_versions == "v2"
    assert json.loads(f"[{finished[0].annotations_results}]") == [positive]
    assert json.loads(f"[{finished[0].predictions_results}]") == [positive]
    labeled = where(Column.annotations_results, Operator.CONTAINS, Type.String, "positive")
    assert [task.id for task in tasks_of(admin, project=project, query=labeled)] == [tasks[1]]
    guessed = where(Column.predictions_results, Operator.CONTAINS, Type.String, "Positive")
    assert [task.id for task in tasks_of(admin, project=project, query=guessed)] == tasks[:2]


def test_tasks_with_drafts_parse_in_the_sdk(world: World, sdk: SdkFactory) -> None:
    """The SDK reads a task's `drafts` (its own model of them) and `draft_exists`."""
    admin = sdk(world.admin.key)
    project = new_project(admin)
    (task,) = new_tasks(admin, project, 1)
    result = [
        {"from_name": "sentiment", "to_name": "text", "type": "choices",
         "value": {"choices": ["Positive"]}}
    ]  # fmt: skip
    made = world.admin.client.post(
        f"/api/tasks/{task}/drafts", {"result": result, "lead_time": 3}, format="json"
    )
    assert made.status_code == 201, made.content
    got = admin.tasks.get(str(task))
    assert isinstance(got, LseTask) and got.drafts is not None
    assert [d.result for d in got.drafts] == [result]
    assert got.drafts[0].created_at is not None
    (listed,) = tasks_of(admin, project=project, fields="all")
    assert listed.draft_exists is True
    assert listed.drafts is not None and listed.drafts[0].result == result

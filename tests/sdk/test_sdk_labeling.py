"""End to end: the real label-studio-sdk through the labeling flows of a user's script.

Projects, tasks, annotations, predictions and the label stream, created and read only
through SDK calls (the label stream, which the SDK has no method for, through the SDK
client's own HTTP client). Each test asserts what a script reads: SDK models, and
`ApiError.status_code` / `.body` on failure. The `sdk` fixture also fails a test whose
traffic contained a redirect, a status the SDK retries, or a non-JSON error body.

Most generated SDK methods raise a plain `ApiError` for 403 and 404; only a few map a
status to a subclass (`tasks.list` and `annotations.delete_bulk`: 403 → `ForbiddenError`;
none of the methods used here maps 404 → `NotFoundError`), so the tests check
`status_code`, which every one of them carries.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from label_studio_sdk.client import LabelStudio
from label_studio_sdk.core.api_error import ApiError
from label_studio_sdk.errors.forbidden_error import ForbiddenError
from label_studio_sdk.label_interface.objects import PredictionValue
from label_studio_sdk.types.all_roles_project_list import AllRolesProjectList
from label_studio_sdk.types.control_tag_weight_request import ControlTagWeightRequest
from label_studio_sdk.types.lse_task import LseTask
from label_studio_sdk.types.prediction_request import PredictionRequest
from pydantic import BaseModel

from labelkeep.accounts.roles import Role
from tests.conftest import World, as_actor, make_user
from tests.sdk.conftest import SdkFactory, Wire

pytestmark = pytest.mark.filterwarnings(
    # The SDK's label interface serializes regions with pydantic's deprecated `.dict()`.
    "ignore:The `dict` method is deprecated:DeprecationWarning"
)

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
    <Choice value="Neutral"/>
  </Choices>
</View>"""


def choice(label: str) -> list[dict[str, Any]]:
    return [
        {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [label]},
        }
    ]


def api_error(call: Callable[..., Any], *args: Any, **kwargs: Any) -> ApiError:
    """The ApiError a script would catch from `call(*args, **kwargs)`."""
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    assert isinstance(caught.value.body, dict), caught.value.body
    assert caught.value.body["detail"]
    return caught.value


def dumped(model: BaseModel) -> dict[str, Any]:
    """`model.model_dump()` as a script saving SDK objects calls it: no pydantic warning
    that a field came back in a shape other than the one the SDK declares."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return model.model_dump()


def new_project(ls: LabelStudio, title: str = "Reviews", **fields: Any) -> int:
    project = ls.projects.create(title=title, label_config=CONFIG, **fields)
    assert project.id
    return project.id


def new_tasks(ls: LabelStudio, project: int, count: int) -> list[int]:
    ids = []
    for n in range(count):
        task = ls.tasks.create(project=project, data={"text": f"review {n}"})
        assert task.id
        ids.append(task.id)
    return ids


def projects_of(ls: LabelStudio, **query: Any) -> list[AllRolesProjectList]:
    """Every project the SDK's pager yields, page after page."""
    listed: list[AllRolesProjectList] = list(ls.projects.list(**query))
    return listed


def tasks_of(ls: LabelStudio, project: int, **query: Any) -> list[LseTask]:
    """Every task the SDK's pager yields, page after page, each parsed as an `LseTask`."""
    listed: list[LseTask] = list(ls.tasks.list(project=project, **query))
    assert all(isinstance(task, LseTask) for task in listed)
    return listed


def task_of(ls: LabelStudio, task: int) -> LseTask:
    """`ls.tasks.get` (typed by the SDK as a union of role-based models) as an `LseTask`."""
    got = ls.tasks.get(str(task))
    assert isinstance(got, LseTask)
    return got


def next_task(ls: LabelStudio, project: int) -> httpx.Response:
    """`GET api/projects/{id}/next`: no SDK method, so through the SDK's own HTTP client
    (base URL and auth headers as for every other call)."""
    return ls._client_wrapper.httpx_client.request(f"api/projects/{project}/next", method="GET")


# --- Projects ----------------------------------------------------------------------------


def test_project_create_get_update_delete(world: World, sdk: SdkFactory) -> None:
    ls = sdk(world.admin.key)
    created = ls.projects.create(
        title="Reviews",
        description="Movie reviews",
        label_config=CONFIG,
        expert_instruction="<p>Read it all</p>",
        show_instruction=True,
        maximum_annotations=2,
        color="#FF8800",
        model_version="v0",
        sampling="Uniform sampling",
    )
    assert created.id and created.title == "Reviews"
    assert created.label_config == CONFIG
    assert (created.description, created.maximum_annotations) == ("Movie reviews", 2)
    assert (created.color, created.sampling) == ("#FF8800", "Uniform sampling")
    assert created.organization == world.org.pk
    assert created.task_number == 0
    assert created.parsed_label_config is not None
    assert created.parsed_label_config["sentiment"]["labels"] == ["Positive", "Negative", "Neutral"]
    assert created.created_by is not None
    assert (created.created_by.id, created.created_by.email) == (
        world.admin.user.pk,
        "admin@a.example",
    )
    dumped(created)

    # `ProjectExt.get` dumps and rebuilds the model itself: a wrongly typed field would
    # warn in every script that calls it.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        project = ls.projects.get(created.id)
    assert (project.id, project.title, project.label_config) == (created.id, "Reviews", CONFIG)
    assert project.task_number == project.total_annotations_number == 0
    assert project.num_tasks_with_annotations == project.total_predictions_number == 0
    assert project.created_by is not None and project.created_by.username
    interface = project.get_label_interface()  # type: ignore[no-untyped-call]  # offline
    sentiment = interface.get_control("sentiment")
    assert sentiment.labels == ["Positive", "Negative", "Neutral"]
    assert sentiment.to_name == ["text"]

    updated = ls.projects.update(created.id, title="Film reviews", maximum_annotations=1)
    assert (updated.id, updated.title, updated.maximum_annotations) == (
        created.id,
        "Film reviews",
        1,
    )
    assert updated.label_config == CONFIG
    dumped(updated)
    assert ls.projects.get(created.id).title == "Film reviews"

    ls.projects.delete(created.id)
    assert api_error(ls.projects.get, created.id).status_code == 404
    assert api_error(ls.projects.delete, created.id).status_code == 404


def test_project_create_refuses_bad_input(world: World, sdk: SdkFactory) -> None:
    ls = sdk(world.admin.key)
    broken = api_error(ls.projects.create, title="Broken", label_config="<View><Text")
    assert broken.status_code == 400
    assert "label_config" in broken.body["validation_errors"]
    untitled = api_error(ls.projects.create, title="", label_config=CONFIG)
    assert untitled.status_code == 400
    assert "title" in untitled.body["validation_errors"]
    assert [p.title for p in projects_of(ls)] == []


def test_project_list_pager(world: World, sdk: SdkFactory, wire: Wire) -> None:
    ls = sdk(world.admin.key)
    ids = [new_project(ls, f"Project {n}") for n in range(5)]

    listed = projects_of(ls)
    assert [p.id for p in listed] == ids[::-1]  # newest first
    assert {p.task_number for p in listed} == {0}
    assert all(p.label_config == CONFIG for p in listed)
    for project in listed:
        dumped(project)

    # Two per page: the pager walks pages 1-3, then stops on the empty page 4.
    wire.responses.clear()
    paged = projects_of(ls, page_size=2)
    assert [p.id for p in paged] == ids[::-1]
    assert [r.request.url.params["page"] for r in wire.responses] == ["1", "2", "3", "4"]
    first = wire.responses[0].json()
    assert first["count"] == 5 and len(first["results"]) == 2
    assert wire.responses[-1].json()["results"] == []

    chosen = projects_of(ls, ids=f"{ids[0]},{ids[3]}", ordering="id")
    assert [p.id for p in chosen] == [ids[0], ids[3]]
    assert [p.title for p in projects_of(ls, title="project 2")] == ["Project 2"]
    assert [p.id for p in projects_of(ls, search="Project 4")] == [ids[4]]


def test_validate_label_config(world: World, sdk: SdkFactory) -> None:
    ls = sdk(world.admin.key)
    project = new_project(ls)
    task = new_tasks(ls, project, 1)[0]

    more = CONFIG.replace(
        '<Choice value="Neutral"/>', '<Choice value="Neutral"/><Choice value="Mixed"/>'
    )
    checked = ls.projects.validate_label_config(project, label_config=more)
    assert checked.label_config == more
    assert ls.projects.get(project).label_config == CONFIG  # validating changes nothing

    broken = api_error(ls.projects.validate_label_config, project, label_config="<View><Text")
    assert broken.status_code == 400
    assert "label_config" in broken.body["validation_errors"]

    # Once "Neutral" is in an annotation, a config without it is refused, here and on update.
    ls.annotations.create(id=task, result=choice("Neutral"))
    fewer = CONFIG.replace('<Choice value="Neutral"/>', "")
    in_use = api_error(ls.projects.validate_label_config, project, label_config=fewer)
    assert in_use.status_code == 400
    assert "Neutral" in str(in_use.body["validation_errors"])
    assert api_error(ls.projects.update, project, label_config=fewer).status_code == 400
    assert ls.projects.update(project, label_config=more).label_config == more


# --- Tasks -------------------------------------------------------------------------------


def test_task_create_get_update_delete(world: World, sdk: SdkFactory) -> None:
    ls = sdk(world.admin.key)
    project = new_project(ls)
    task = ls.tasks.create(project=project, data={"text": "great film"}, meta={"source": "imdb"})
    assert task.id and task.project == project
    assert task.data == {"text": "great film"}
    assert task.meta == {"source": "imdb"}
    assert (task.is_labeled, task.total_annotations, task.total_predictions) == (False, 0, 0)
    assert task.annotations == [] and task.predictions == []
    dumped(task)

    got = task_of(ls, task.id)
    assert (got.id, got.project, got.data) == (task.id, project, {"text": "great film"})
    dumped(got)
    assert ls.projects.get(project).task_number == 1

    updated = ls.tasks.update(str(task.id), data={"text": "a great film"}, meta={"source": "x"})
    assert isinstance(updated, LseTask)  # not a fallback model: every field as declared
    assert updated.updated_by == [{"user_id": world.admin.user.pk}]
    assert (updated.id, updated.data, updated.meta) == (
        task.id,
        {"text": "a great film"},
        {"source": "x"},
    )
    assert task_of(ls, task.id).data == {"text": "a great film"}

    ls.tasks.delete(str(task.id))
    assert api_error(ls.tasks.get, str(task.id)).status_code == 404
    assert ls.projects.get(project).task_number == 0

    missing = api_error(ls.tasks.create, project=project + 1000, data={"text": "x"})
    assert missing.status_code == 404


def test_task_list_pager_and_delete_all(world: World, sdk: SdkFactory, wire: Wire) -> None:
    ls = sdk(world.admin.key)
    project = new_project(ls)
    ids = new_tasks(ls, project, 5)
    other = new_project(ls, "Other")
    new_tasks(ls, other, 2)
    ls.annotations.create(id=ids[1], result=choice("Positive"))
    ls.predictions.create(task=ids[2], result=choice("Negative"), score=0.25, model_version="m1")

    wire.responses.clear()
    tasks = tasks_of(ls, project, page_size=2)
    assert [t.id for t in tasks] == ids
    assert [t.data for t in tasks] == [{"text": f"review {n}"} for n in range(5)]
    assert {t.project for t in tasks} == {project}
    requests = [r.request.url.params for r in wire.responses]
    assert [p["page"] for p in requests] == ["1", "2", "3", "4"]
    assert {p["fields"] for p in requests} == {"all"}  # added by the SDK's pager
    first = wire.responses[0].json()
    assert (first["total"], first["total_annotations"], first["total_predictions"]) == (5, 1, 1)
    assert wire.responses[-1].json()["tasks"] == []

    # With fields=all every task carries its annotations and predictions as objects.
    annotated, predicted = tasks[1], tasks[2]
    assert annotated.annotations is not None and annotated.is_labeled
    assert [a["result"] for a in annotated.annotations] == [choice("Positive")]
    assert annotated.annotations[0]["completed_by"] == world.admin.user.pk
    assert predicted.predictions is not None
    assert [(p.result, p.score, p.model_version) for p in predicted.predictions] == [
        (choice("Negative"), 0.25, "m1")
    ]
    for task in tasks:
        dumped(task)

    ls.tasks.delete_all_tasks(project)
    assert tasks_of(ls, project) == []
    assert ls.projects.get(project).task_number == 0
    assert api_error(ls.tasks.get, str(ids[0])).status_code == 404
    assert len(tasks_of(ls, other)) == 2


# --- Annotations -------------------------------------------------------------------------


def test_annotation_lifecycle(world: World, sdk: SdkFactory) -> None:
    admin = sdk(world.admin.key)
    project = new_project(admin)
    admin.projects.members.add(project, user=world.member.user.pk)
    task = new_tasks(admin, project, 1)[0]

    ls = sdk(world.member.key)
    created = ls.annotations.create(
        id=task, result=choice("Positive"), was_cancelled=False, ground_truth=True, lead_time=4.5
    )
    assert created.id and created.task == task and created.project == project
    assert created.result == choice("Positive")
    assert created.completed_by == world.member.user.pk
    assert isinstance(created.completed_by, int)
    assert (created.was_cancelled, created.ground_truth, created.lead_time) == (False, True, 4.5)
    assert created.created_at and created.updated_at
    dumped(created)

    assert [a.id for a in ls.annotations.list(id=task)] == [created.id]
    got = ls.annotations.get(created.id)
    assert (got.id, got.result, got.completed_by) == (
        created.id,
        choice("Positive"),
        world.member.user.pk,
    )
    labeled = task_of(ls, task)
    assert (labeled.is_labeled, labeled.total_annotations) == (True, 1)
    assert labeled.annotations is not None
    assert [a["id"] for a in labeled.annotations] == [created.id]

    changed = ls.annotations.update(created.id, result=choice("Negative"), lead_time=6.0)
    assert (changed.id, changed.result, changed.lead_time) == (created.id, choice("Negative"), 6.0)
    assert changed.completed_by == world.member.user.pk
    assert ls.annotations.get(created.id).result == choice("Negative")

    wrong = api_error(ls.annotations.create, id=task, result=choice("Ecstatic"))
    assert wrong.status_code == 400
    assert "Ecstatic" in str(wrong.body["validation_errors"])

    assert ls.annotations.delete(created.id) is None
    assert api_error(ls.annotations.get, created.id).status_code == 404
    assert ls.annotations.list(id=task) == []
    assert task_of(ls, task).is_labeled is False


def test_skipped_annotation_does_not_label(world: World, sdk: SdkFactory) -> None:
    ls = sdk(world.admin.key)
    project = new_project(ls)
    task = new_tasks(ls, project, 1)[0]
    skipped = ls.annotations.create(id=task, result=[], was_cancelled=True)
    assert skipped.was_cancelled is True and skipped.result == []
    after = task_of(ls, task)
    assert (after.is_labeled, after.total_annotations, after.cancelled_annotations) == (False, 0, 1)
    done = ls.annotations.update(skipped.id, result=choice("Neutral"), was_cancelled=False)
    assert done.was_cancelled is False
    assert task_of(ls, task).is_labeled is True


def test_annotation_for_someone_else(world: World, sdk: SdkFactory) -> None:
    admin = sdk(world.admin.key)
    project = new_project(admin)
    admin.projects.members.add(project, user=world.member.user.pk)
    task = new_tasks(admin, project, 1)[0]
    recorded = admin.annotations.create(
        id=task, result=choice("Positive"), completed_by=world.member.user.pk
    )
    assert recorded.completed_by == world.member.user.pk
    member = sdk(world.member.key)
    assert [a.id for a in member.annotations.list(id=task)] == [recorded.id]
    refused = api_error(
        member.annotations.create, id=task, result=[], completed_by=world.admin.user.pk
    )
    assert refused.status_code == 403


def test_delete_bulk(world: World, sdk: SdkFactory, wire: Wire) -> None:
    ls = sdk(world.admin.key)
    project = new_project(ls)
    tasks = new_tasks(ls, project, 3)
    made = [ls.annotations.create(id=t, result=choice("Positive")).id for t in tasks]
    other = new_project(ls, "Other")
    elsewhere = ls.annotations.create(id=new_tasks(ls, other, 1)[0], result=[]).id

    wire.responses.clear()
    deleted = ls.annotations.delete_bulk(ids=made[:2], project=project)
    assert deleted.deleted_count == 2
    sent = wire.responses[0].request
    assert (sent.method, sent.url.path) == ("POST", "/api/annotations/bulk-delete/")
    assert sent.content and b'"project"' in sent.content
    assert [a.id for t in tasks for a in ls.annotations.list(id=t)] == [made[2]]
    assert ls.projects.get(project).total_annotations_number == 1

    # All or nothing: an id outside the named project, or already gone, deletes none.
    outside = api_error(ls.annotations.delete_bulk, ids=[made[2], elsewhere], project=project)
    assert outside.status_code == 404
    gone = api_error(ls.annotations.delete_bulk, ids=[made[0], made[2]], project=project)
    assert gone.status_code == 404
    assert ls.annotations.get(made[2]).id == made[2]
    assert ls.annotations.get(elsewhere).id == elsewhere
    assert ls.annotations.delete_bulk(ids=[elsewhere], project=other).deleted_count == 1


# --- Predictions -------------------------------------------------------------------------


def test_prediction_lifecycle(world: World, sdk: SdkFactory) -> None:
    ls = sdk(world.admin.key)
    project = new_project(ls)
    first, second = new_tasks(ls, project, 2)

    created = ls.predictions.create(
        task=first, result=choice("Positive"), score=0.91, model_version="sentiment-v1"
    )
    assert created.id and (created.task, created.project) == (first, project)
    assert (created.result, created.score, created.model_version) == (
        choice("Positive"),
        0.91,
        "sentiment-v1",
    )
    dumped(created)

    # The SDK's own helpers build a prediction from the project's label interface.
    interface = ls.projects.get(project).get_label_interface()  # type: ignore[no-untyped-call]
    region = interface.get_control("sentiment").label(["Negative"])
    built = PredictionValue(model_version="sentiment-v2", score=0.4, result=[region])
    from_helper = ls.predictions.create(task=second, **built.model_dump())
    assert from_helper.result[0]["value"] == {"choices": ["Negative"]}
    assert from_helper.model_version == "sentiment-v2"

    assert [p.id for p in ls.predictions.list(task=first)] == [created.id]
    assert [p.id for p in ls.predictions.list(project=project)] == [created.id, from_helper.id]
    got = ls.predictions.get(created.id)
    assert (got.id, got.task, got.score) == (created.id, first, 0.91)
    assert task_of(ls, first).total_predictions == 1

    changed = ls.predictions.update(created.id, score=0.5, model_version="sentiment-v1.1")
    assert (changed.id, changed.score, changed.model_version) == (created.id, 0.5, "sentiment-v1.1")
    assert changed.result == choice("Positive")

    bad = api_error(ls.predictions.create, task=first, result=choice("Ecstatic"), score=0.1)
    assert bad.status_code == 400

    assert ls.predictions.delete(created.id) is None
    assert api_error(ls.predictions.get, created.id).status_code == 404
    assert ls.predictions.list(task=first) == []
    assert ls.projects.get(project).total_predictions_number == 1


def test_import_predictions(world: World, sdk: SdkFactory) -> None:
    ls = sdk(world.admin.key)
    project = new_project(ls)
    tasks = new_tasks(ls, project, 3)
    typed = [
        PredictionRequest(task=t, result=choice("Neutral"), score=0.5, model_version="batch-1")
        for t in tasks[:2]
    ]
    imported = ls.projects.import_predictions(project, request=typed)
    assert imported.created == 2
    # As scripts often write them: plain dicts.
    plain: list[Any] = [
        {"task": tasks[2], "result": choice("Neutral"), "score": 0.5, "model_version": "batch-1"}
    ]
    assert ls.projects.import_predictions(project, request=plain).created == 1
    listed = ls.predictions.list(project=project)
    assert [(p.task, p.model_version, p.score) for p in listed] == [
        (t, "batch-1", 0.5) for t in tasks
    ]
    assert ls.projects.get(project).total_predictions_number == 3

    other = new_project(ls, "Other")
    foreign = new_tasks(ls, other, 1)[0]
    refused = api_error(
        ls.projects.import_predictions,
        project,
        request=[{"task": foreign, "result": choice("Neutral")}],
    )
    assert refused.status_code == 400
    assert ls.predictions.list(task=foreign) == []


# --- The label stream --------------------------------------------------------------------


def test_label_stream(world: World, sdk: SdkFactory) -> None:
    admin = sdk(world.admin.key)
    project = new_project(admin)
    admin.projects.members.add(project, user=world.member.user.pk)
    tasks = new_tasks(admin, project, 3)
    member = sdk(world.member.key)

    first = next_task(member, project)
    assert first.status_code == 200
    assert (first.json()["id"], first.json()["data"]) == (tasks[0], {"text": "review 0"})
    # The task is locked for the member: the admin gets the next one.
    assert next_task(admin, project).json()["id"] == tasks[1]
    assert next_task(member, project).json()["id"] == tasks[0]

    member.annotations.create(id=tasks[0], result=choice("Positive"))
    assert next_task(member, project).json()["id"] == tasks[2]
    member.annotations.create(id=tasks[2], result=[], was_cancelled=True)
    admin.annotations.create(id=tasks[1], result=choice("Negative"))
    done = next_task(member, project)
    assert done.status_code == 404
    assert done.json()["detail"]


# --- Roles and other organizations -------------------------------------------------------


def test_annotator_rules(world: World, sdk: SdkFactory) -> None:
    admin, member = sdk(world.admin.key), sdk(world.member.key)
    project = new_project(admin)
    hidden = new_project(admin, "Not for annotators")
    tasks = new_tasks(admin, project, 2)
    theirs = admin.annotations.create(id=tasks[0], result=choice("Positive")).id
    prediction = admin.predictions.create(task=tasks[0], result=choice("Neutral")).id

    refused = api_error(member.projects.create, title="Mine", label_config=CONFIG)
    assert refused.status_code == 403
    assert [p.title for p in projects_of(admin)] == ["Not for annotators", "Reviews"]
    assert projects_of(member) == []  # not on any project yet
    assert api_error(member.projects.get, project).status_code == 404

    member_row = admin.projects.members.add(project, user=world.member.user.pk)
    assert member_row.user == world.member.user.pk
    assert [p.id for p in projects_of(member)] == [project]
    assert member.projects.get(project).title == "Reviews"
    assert api_error(member.projects.get, hidden).status_code == 404

    # Managers' writes are refused (403), not hidden.
    assert api_error(member.projects.update, project, title="X").status_code == 403
    assert api_error(member.projects.delete, project).status_code == 403
    assert api_error(member.tasks.create, project=project, data={"text": "x"}).status_code == 403
    assert api_error(member.tasks.update, str(tasks[0]), data={"text": "x"}).status_code == 403
    assert api_error(member.tasks.delete, str(tasks[0])).status_code == 403
    assert api_error(member.tasks.delete_all_tasks, project).status_code == 403
    assert api_error(member.predictions.create, task=tasks[0], result=[]).status_code == 403
    assert api_error(member.predictions.delete, prediction).status_code == 403
    assert (
        api_error(
            member.projects.import_predictions, project, request=[{"task": tasks[0], "result": []}]
        ).status_code
        == 403
    )
    assert (
        api_error(member.projects.validate_label_config, project, label_config=CONFIG).status_code
        == 403
    )

    # An annotator sees tasks and predictions, but only their own annotations.
    mine = member.annotations.create(id=tasks[0], result=choice("Negative")).id
    assert [a.id for a in member.annotations.list(id=tasks[0])] == [mine]
    assert {a.id for a in admin.annotations.list(id=tasks[0])} == {theirs, mine}
    assert api_error(member.annotations.get, theirs).status_code == 404
    assert api_error(member.annotations.update, theirs, result=[]).status_code == 404
    unseen = api_error(member.annotations.delete_bulk, ids=[theirs], project=project)
    assert unseen.status_code == 404
    listed = tasks_of(member, project)
    assert [t.id for t in listed] == tasks
    assert listed[0].annotations is not None
    assert [a["id"] for a in listed[0].annotations] == [mine]
    got = task_of(member, tasks[0])
    assert got.annotations is not None
    assert [a["id"] for a in got.annotations] == [mine]
    assert [p.id for p in member.predictions.list(task=tasks[0])] == [prediction]

    # Their own annotation they change and delete; the admin changes anyone's.
    assert member.annotations.update(mine, result=choice("Neutral")).result == choice("Neutral")
    assert member.annotations.delete_bulk(ids=[mine], project=project).deleted_count == 1
    assert admin.annotations.update(theirs, ground_truth=True).ground_truth is True

    # Taken off the project, the annotator loses it.
    admin.projects.members.remove(project, user=world.member.user.pk)
    assert projects_of(member) == []
    assert api_error(member.tasks.get, str(tasks[1])).status_code == 404
    with pytest.raises(ApiError) as gone:
        tasks_of(member, project)
    assert gone.value.status_code == 404


def test_reviewer_reads_everyone_changes_nothing(world: World, sdk: SdkFactory) -> None:
    reviewer = as_actor(make_user("reviewer@a.example", org=world.org, role=Role.REVIEWER))
    admin = sdk(world.admin.key)
    project = new_project(admin)
    admin.projects.members.add(project, user=reviewer.user.pk)
    task = new_tasks(admin, project, 1)[0]
    theirs = admin.annotations.create(id=task, result=choice("Positive")).id

    ls = sdk(reviewer.key)
    assert [a.id for a in ls.annotations.list(id=task)] == [theirs]
    assert ls.annotations.get(theirs).completed_by == world.admin.user.pk
    listed = tasks_of(ls, project)
    assert listed[0].annotations is not None
    assert [a["id"] for a in listed[0].annotations] == [theirs]

    # Seen but not theirs to change: 403, which `delete_bulk` raises as ForbiddenError.
    assert api_error(ls.annotations.update, theirs, result=[]).status_code == 403
    assert api_error(ls.annotations.delete, theirs).status_code == 403
    with pytest.raises(ForbiddenError) as refused:
        ls.annotations.delete_bulk(ids=[theirs], project=project)
    assert refused.value.status_code == 403
    assert refused.value.body["detail"]
    assert admin.annotations.get(theirs).result == choice("Positive")


def test_other_organization_ids_are_not_found(world: World, sdk: SdkFactory) -> None:
    admin = sdk(world.admin.key)
    project = new_project(admin)
    task = new_tasks(admin, project, 1)[0]
    annotation = admin.annotations.create(id=task, result=choice("Positive")).id
    prediction = admin.predictions.create(task=task, result=choice("Neutral"), score=0.3).id

    outsider = sdk(world.outsider.key)
    calls: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = [
        (outsider.projects.get, (project,), {}),
        (outsider.projects.update, (project,), {"title": "Mine now"}),
        (outsider.projects.delete, (project,), {}),
        (outsider.projects.validate_label_config, (project,), {"label_config": CONFIG}),
        (
            outsider.projects.import_predictions,
            (project,),
            {"request": [{"task": task, "result": []}]},
        ),
        (outsider.projects.members.add, (project,), {"user": world.outsider.user.pk}),
        (outsider.tasks.create, (), {"project": project, "data": {"text": "x"}}),
        (outsider.tasks.get, (str(task),), {}),
        (outsider.tasks.update, (str(task),), {"data": {"text": "x"}}),
        (outsider.tasks.delete, (str(task),), {}),
        (outsider.tasks.delete_all_tasks, (project,), {}),
        (outsider.annotations.create, (), {"id": task, "result": []}),
        (outsider.annotations.list, (), {"id": task}),
        (outsider.annotations.get, (annotation,), {}),
        (outsider.annotations.update, (annotation,), {"result": []}),
        (outsider.annotations.delete, (annotation,), {}),
        (outsider.annotations.delete_bulk, (), {"ids": [annotation], "project": project}),
        (outsider.predictions.create, (), {"task": task, "result": []}),
        (outsider.predictions.get, (prediction,), {}),
        (outsider.predictions.update, (prediction,), {"score": 0.0}),
        (outsider.predictions.delete, (prediction,), {}),
    ]
    for call, args, kwargs in calls:
        assert api_error(call, *args, **kwargs).status_code == 404, call
    with pytest.raises(ApiError) as hidden:
        tasks_of(outsider, project)
    assert hidden.value.status_code == 404
    assert projects_of(outsider) == []
    assert outsider.predictions.list(task=task) == []
    assert outsider.predictions.list(project=project) == []
    assert next_task(outsider, project).status_code == 404

    # Nothing changed for the owners.
    assert admin.projects.get(project).title == "Reviews"
    assert admin.annotations.get(annotation).result == choice("Positive")
    assert admin.predictions.get(prediction).score == 0.3
    assert task_of(admin, task).data == {"text": "review 0"}


def test_create_bulk(world: World, sdk: SdkFactory, wire: Wire) -> None:
    admin = sdk(world.admin.key)
    project = new_project(admin)
    tasks = new_tasks(admin, project, 4)
    admin.projects.members.add(project, user=world.member.user.pk)

    member = sdk(world.member.key)
    wire.responses.clear()
    made = member.annotations.create_bulk(tasks=tasks[:2], result=choice("Neutral"), lead_time=1.5)
    sent = wire.responses[0].request
    assert (sent.method, sent.url.path) == ("POST", "/api/annotations/bulk/")
    assert wire.responses[0].status_code == 201
    assert len(made) == 2
    for task in tasks[:2]:
        (annotation,) = member.annotations.list(id=task)
        assert annotation.result == choice("Neutral")
        assert annotation.completed_by == world.member.user.pk
        assert annotation.id in {m.id for m in made}

    skipped = admin.annotations.create_bulk(
        project=project,
        selected_items={"all": True, "excluded": tasks[:3]},
        result=[],
        was_cancelled=True,
    )
    assert len(skipped) == 1
    after = admin.projects.get(project)
    assert after.total_annotations_number == 2
    assert after.num_tasks_with_annotations == 2
    assert [task_of(admin, t).is_labeled for t in tasks] == [True, True, False, False]

    # All or nothing: a result the config refuses, or a task elsewhere, creates none.
    other = new_project(admin, "Other")
    elsewhere = new_tasks(admin, other, 1)[0]
    refused = api_error(admin.annotations.create_bulk, tasks=tasks, result=choice("Bad"))
    assert refused.status_code == 400
    mixed = api_error(
        admin.annotations.create_bulk, project=project, tasks=[tasks[2], elsewhere], result=[]
    )
    assert mixed.status_code == 404
    assert admin.annotations.list(id=tasks[2]) == []
    assert admin.projects.get(project).total_annotations_number == 2


def test_project_settings_through_the_sdk(world: World, sdk: SdkFactory) -> None:
    """A script moving a project keeps its settings, pins it, and meets the ones that act."""
    admin = sdk(world.admin.key)
    pinned = dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC)
    project = new_project(
        admin,
        enable_empty_annotation=False,
        show_collab_predictions=False,
        maximum_annotations=2,
        overlap_cohort_percentage=50,
        is_published=True,
        pinned_at=pinned,
        skip_queue="REQUEUE_FOR_OTHERS",
    )
    new_project(admin, "Unpinned")
    got = admin.projects.get(id=project)
    assert got.enable_empty_annotation is False and got.show_collab_predictions is False
    assert got.overlap_cohort_percentage == 50 and got.is_published is True
    assert got.pinned_at == pinned and got.skip_queue == "REQUEUE_FOR_OTHERS"
    assert [p.id for p in projects_of(admin, filter="pinned_only")] == [project]

    tasks = new_tasks(admin, project, 2)
    fetched = [admin.tasks.get(id=str(pk)) for pk in tasks]
    assert [task.overlap for task in fetched if isinstance(task, LseTask)] == [1, 2]
    empty = api_error(admin.annotations.create, id=tasks[0], result=[])
    assert empty.status_code == 400
    assert admin.annotations.create(id=tasks[0], result=choice("Positive")).id
    annotators = admin.projects.list_unique_annotators(id=project)
    assert [(user.id, user.email) for user in annotators] == [
        (world.admin.user.pk, world.admin.user.email)
    ]

    refused = api_error(admin.projects.update, id=project, skip_queue="IGNORE_SKIPPED")
    assert refused.status_code == 400
    admin.projects.update(id=project, pinned_at=None)
    assert projects_of(admin, filter="pinned_only") == []


def test_project_counts_through_the_sdk(world: World, sdk: SdkFactory) -> None:
    """A progress script reads finished tasks, skips and ground truths, per project or for
    every project at once."""
    admin = sdk(world.admin.key)
    project = new_project(admin)
    tasks = new_tasks(admin, project, 3)
    admin.annotations.create(id=tasks[0], result=choice("Positive"), ground_truth=True)
    admin.annotations.create(id=tasks[1], result=[], was_cancelled=True)
    got = admin.projects.get(id=project)
    assert (got.task_number, got.finished_task_number, got.skipped_annotations_number) == (3, 1, 1)
    assert (got.ground_truth_number, got.useful_annotation_number) == (1, 0)
    assert (got.queue_total, got.queue_done) == (3, 2)
    page = admin.projects.list_counts(ids=str(project), include="task_number,finished_task_number")
    assert [(row.id, row.task_number, row.finished_task_number) for row in page.results] == [
        (project, 3, 1)
    ]
    assert page.results[0].skipped_annotations_number is None  # not asked for
    everything = admin.projects.list_counts()
    assert everything.count == 1 and everything.results[0].ground_truth_number == 1


def test_control_weights_and_overlap_first_through_the_sdk(world: World, sdk: SdkFactory) -> None:
    """A script sets agreement weights and asks for tasks with overlap first; the project
    reads back every control's weights and the setting, and the stream follows it."""
    admin = sdk(world.admin.key)
    project = new_project(
        admin,
        control_weights={
            "sentiment": ControlTagWeightRequest(
                type="Choices", overall=0.5, labels={"Negative": 0.0}
            )
        },
        maximum_annotations=2,
        overlap_cohort_percentage=50,
        show_overlap_first=True,
    )
    got = admin.projects.get(id=project)
    weights = got.control_weights or {}
    sentiment = weights["sentiment"]
    assert sentiment is not None
    assert (sentiment.type, sentiment.overall) == ("Choices", 0.5)
    assert sentiment.labels == {"Positive": 1.0, "Negative": 0.0, "Neutral": 1.0}
    assert got.show_overlap_first is True
    tasks = new_tasks(admin, project, 4)
    shared = [pk for pk in tasks if task_of(admin, pk).overlap == 2]
    assert shared and len(shared) < len(tasks)
    given = next_task(admin, project)
    assert given.status_code == 200
    assert given.json()["id"] == shared[0]
    with pytest.raises(ApiError) as refused:
        admin.projects.update(
            id=project, control_weights={"nosuch": ControlTagWeightRequest(type="X", overall=1)}
        )
    assert refused.value.status_code == 400

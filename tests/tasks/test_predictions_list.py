"""`GET api/predictions/`: Label Studio's plain array, only of projects the caller may see,
streamed a chunk at a time (no filter means the whole organization)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labelkeep.accounts.models import User
from labelkeep.accounts.roles import Role
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import api
from labelkeep.tasks import services as tasks
from labelkeep.tasks.models import Prediction
from labelkeep.tasks.serializers import PredictionSerializer
from tests.conftest import TEST_ORIGIN, World, as_actor, make_user
from tests.tasks.conftest import CONFIG, choice


def listed(client: Any, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/predictions/{query}")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/json"
    body = json.loads(b"".join(response.streaming_content))
    assert isinstance(body, list)
    return body


def ids(client: Any, query: str = "") -> list[int]:
    return [p["id"] for p in listed(client, query)]


def predict(project: Project, count: int, actor: User) -> list[int]:
    """`count` tasks of the project, each with one prediction; the predictions' ids."""
    task_ids = tasks.create_tasks(
        project,
        [tasks.NewTask(data={"text": f"t{n}"}) for n in range(count)],
        actor=actor,
        origin=TEST_ORIGIN,
    ).task_ids
    made = Prediction.objects.bulk_create(
        Prediction(task_id=t, project=project, result=choice("Positive"), score=0.5)
        for t in task_ids
    )
    return [p.pk for p in made]


def other_project(world: World, title: str = "Private") -> Project:
    """A project of the same organization that the member (an annotator) is not on."""
    return projects.create_project(
        world.org,
        {"title": title, "label_config": CONFIG},
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )


def foreign_project(world: World) -> Project:
    return projects.create_project(
        world.outsider.org,
        {"title": "Theirs", "label_config": CONFIG},
        actor=world.outsider.user,
        origin=TEST_ORIGIN,
    )


def test_without_a_filter_every_visible_prediction_in_id_order(
    world: World, project: Project
) -> None:
    mine = predict(project, 3, world.admin.user)
    private = predict(other_project(world), 2, world.admin.user)
    foreign = predict(foreign_project(world), 2, world.outsider.user)
    assert ids(world.admin.client) == sorted(mine + private)
    assert ids(world.member.client) == mine  # an annotator: only the projects they are on
    assert ids(world.outsider.client) == foreign


def test_annotators_see_only_their_projects_predictions(world: World, project: Project) -> None:
    predict(project, 1, world.admin.user)
    private = other_project(world)
    (hidden,) = predict(private, 1, world.admin.user)
    task = Prediction.objects.get(pk=hidden).task_id
    member = world.member.client
    assert hidden not in ids(member)
    assert ids(member, f"?project={private.pk}") == []
    assert ids(member, f"?task__project={private.pk}") == []
    assert ids(member, f"?task={task}") == []
    assert ids(world.admin.client, f"?task={task}") == [hidden]
    # Put on the project, they see it; taken off again, they do not.
    projects.add_members(private, [world.member.user], actor=world.admin.user, origin=TEST_ORIGIN)
    assert hidden in ids(member)
    projects.remove_member(private, world.member.user, actor=world.admin.user, origin=TEST_ORIGIN)
    assert hidden not in ids(member)


def test_reviewers_and_managers_follow_their_role(world: World, project: Project) -> None:
    (private_prediction,) = predict(other_project(world), 1, world.admin.user)
    reviewer = as_actor(make_user("rev@a.example", org=world.org, role=Role.REVIEWER))
    manager = as_actor(make_user("man@a.example", org=world.org, role=Role.MANAGER))
    assert private_prediction not in ids(reviewer.client)
    assert private_prediction in ids(manager.client)


def test_filters(world: World, project: Project) -> None:
    first, second = predict(project, 2, world.admin.user)
    task = Prediction.objects.get(pk=first).task_id
    assert ids(world.member.client, f"?task={task}") == [first]
    assert ids(world.member.client, f"?project={project.pk}") == [first, second]
    assert ids(world.member.client, f"?project={project.pk}&task={task}") == [first]
    assert ids(world.member.client, "?project=999999") == []
    for bad in ("?task=x", "?project=-1", "?task__project=1.5"):
        refused = world.member.client.get(f"/api/predictions/{bad}")
        assert refused.status_code == 400 and refused["Content-Type"] == "application/json"


def test_rows_are_the_prediction_serializers_output(world: World, project: Project) -> None:
    (pk,) = predict(project, 1, world.admin.user)
    (row,) = listed(world.member.client)
    assert row == dict(PredictionSerializer(Prediction.objects.get(pk=pk)).data)
    assert row["result"] == choice("Positive") and row["score"] == 0.5


def test_an_empty_list_is_an_empty_array(world: World, project: Project) -> None:
    assert listed(world.member.client) == []


def test_chunks_join_into_one_array(
    world: World, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "PREDICTIONS_PER_QUERY", 4)
    made = predict(project, 10, world.admin.user)  # chunks of 4, 4, 2
    assert ids(world.admin.client) == made
    exact = predict(project, 2, world.admin.user)  # 12: chunks of 4, 4, 4 and an empty read
    assert ids(world.admin.client) == made + exact


def test_queries_grow_with_chunks_not_predictions(
    world: World, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def count(query: str = "") -> int:
        listed(world.admin.client, query)  # the first call also records the key's last use
        with CaptureQueriesContext(connection) as queries:
            listed(world.admin.client, query)
        return len(queries)

    predict(project, 3, world.admin.user)
    few = count()
    predict(project, 40, world.admin.user)
    assert count() == few  # 43 predictions, one chunk: not a query per row
    assert count(f"?project={project.pk}") == few
    monkeypatch.setattr(api, "PREDICTIONS_PER_QUERY", 10)
    assert count() == few + 4  # 43 rows: five chunks
    assert few <= 4

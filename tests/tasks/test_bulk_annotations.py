"""`POST api/annotations/bulk/`: limits, refusals that write nothing, audit, locks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from labelkeep.audit.models import AuditEvent
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import services as tasks
from labelkeep.tasks.models import Annotation, Task, TaskLock
from labelkeep.tasks.serializers import BULK_ANNOTATION_LIMIT
from tests.conftest import TEST_ORIGIN, World
from tests.tasks.conftest import CONFIG, choice

pytestmark = pytest.mark.django_db
URL = "/api/annotations/bulk/"


def test_bulk_create_writes_counters_audit_and_releases_locks(
    world: World, project: Project, task_ids: list[int]
) -> None:
    member = world.member
    TaskLock.objects.create(
        task_id=task_ids[0],
        project=project,
        user=member.user,
        expires_at=timezone.now() + dt.timedelta(minutes=5),
    )
    answer = member.client.post(
        URL,
        {"tasks": task_ids[:3], "task": task_ids[3], "result": choice("Positive")},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    ids = [row["id"] for row in answer.json()]
    assert len(ids) == 4
    made = Annotation.objects.filter(pk__in=ids)
    assert {a.task_id for a in made} == set(task_ids[:4])
    assert {a.completed_by_id for a in made} == {member.user.pk}
    assert not TaskLock.objects.exists()
    project.refresh_from_db()
    assert (project.total_annotations_number, project.num_tasks_with_annotations) == (4, 4)
    assert Task.objects.filter(project=project, is_labeled=True).count() == 4
    event = AuditEvent.objects.get(action="annotations.create_bulk")
    assert event.actor_id == member.user.pk and event.details["count"] == 4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"result": []}, "tasks"),
        ({"selected_items": {"all": True}, "result": []}, "project"),
        ({"tasks": "1,2", "result": []}, "tasks"),
        ({"tasks": [0], "result": []}, "tasks"),
        ({"tasks": [1], "result": "</script>"}, "result"),
        ({"tasks": [1], "lead_time": -3}, "lead_time"),
    ],
)
def test_bad_bodies_are_400_and_write_nothing(
    world: World, task_ids: list[int], body: dict[str, object], field: str
) -> None:
    if body.get("tasks") == [1]:
        body = {**body, "tasks": task_ids[:1]}
    answer = world.admin.client.post(URL, body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.content.decode()
    assert not Annotation.objects.exists()


def test_result_the_config_refuses_writes_nothing(world: World, task_ids: list[int]) -> None:
    answer = world.admin.client.post(
        URL, {"tasks": task_ids, "result": choice("Sarcastic")}, format="json"
    )
    assert answer.status_code == 400
    assert not Annotation.objects.exists()


def test_tasks_of_two_projects_or_of_another_organization(
    world: World, project: Project, task_ids: list[int]
) -> None:
    other = projects.create_project(
        world.org,
        {"title": "Other", "label_config": CONFIG},
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    elsewhere = tasks.create_tasks(
        other, [tasks.NewTask(data={"text": "x"})], actor=world.admin.user, origin=TEST_ORIGIN
    ).task_ids
    mixed = world.admin.client.post(
        URL, {"tasks": [task_ids[0], *elsewhere], "result": []}, format="json"
    )
    assert mixed.status_code == 400
    named = world.admin.client.post(
        URL,
        {"project": project.pk, "tasks": [task_ids[0], *elsewhere], "result": []},
        format="json",
    )
    assert named.status_code == 404
    stranger = world.outsider.client.post(URL, {"tasks": task_ids, "result": []}, format="json")
    assert stranger.status_code == 404
    foreign_project = world.outsider.client.post(
        URL, {"project": project.pk, "selected_items": {"all": True}, "result": []}, format="json"
    )
    assert foreign_project.status_code == 404
    assert not Annotation.objects.exists()


def test_at_most_the_limit_per_request(world: World, project: Project, task_ids: list[int]) -> None:
    too_many = list(range(1, BULK_ANNOTATION_LIMIT + 2))
    answer = world.admin.client.post(URL, {"tasks": too_many, "result": []}, format="json")
    assert answer.status_code == 400
    assert not Annotation.objects.exists()


def test_someone_else_only_by_managers(world: World, project: Project, task_ids: list[int]) -> None:
    as_member = world.member.client.post(
        URL,
        {"tasks": task_ids[:1], "result": [], "completed_by": world.admin.user.pk},
        format="json",
    )
    assert as_member.status_code == 403
    as_admin = world.admin.client.post(
        URL,
        {"tasks": task_ids[:1], "result": [], "completed_by": world.member.user.pk},
        format="json",
    )
    assert as_admin.status_code == 201
    assert Annotation.objects.get().completed_by_id == world.member.user.pk

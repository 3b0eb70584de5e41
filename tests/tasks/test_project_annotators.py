"""`api/projects/{id}/annotators/`: who has annotated a project, as the client's
`projects.list_unique_annotators` reads it."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from labelkeep.accounts.models import User
from labelkeep.accounts.roles import Role
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import services as tasks
from labelkeep.tasks.access import annotator_ids
from labelkeep.tasks.models import Annotation, Task
from tests.conftest import TEST_ORIGIN, World, as_actor, make_user
from tests.tasks.conftest import choice
from tests.tasks.test_stream_plans import plan


def _annotate(
    world: World, project: Project, task: int, author: User, *, skip: bool = False
) -> None:
    tasks.create_annotation(
        Task.objects.select_related("project").get(pk=task),
        {"result": [] if skip else choice("Positive"), "was_cancelled": skip},
        actor=world.admin.user,
        completed_by=author,
        origin=TEST_ORIGIN,
    )


def _listed(client: Any, project: Project) -> list[dict[str, Any]]:
    response = client.get(f"/api/projects/{project.pk}/annotators/")
    assert response.status_code == 200, response.content
    listed: list[dict[str, Any]] = response.json()
    return listed


def test_everyone_who_annotated_or_skipped_once_each(
    world: World, project: Project, task_ids: list[int]
) -> None:
    assert _listed(world.admin.client, project) == []
    reviewer = make_user("reviewer@a.example", org=world.org, role=Role.REVIEWER)
    projects.add_members(project, [reviewer], actor=world.admin.user, origin=TEST_ORIGIN)
    _annotate(world, project, task_ids[0], world.member.user)
    _annotate(world, project, task_ids[1], world.member.user)
    _annotate(world, project, task_ids[2], world.admin.user, skip=True)
    listed = _listed(world.admin.client, project)
    assert [u["id"] for u in listed] == sorted([world.member.user.pk, world.admin.user.pk])
    member = next(u for u in listed if u["id"] == world.member.user.pk)
    assert member == {
        "id": world.member.user.pk,
        "username": world.member.user.username,
        "email": world.member.user.email,
        "first_name": world.member.user.first_name,
        "last_name": world.member.user.last_name,
        "avatar": None,
    }
    # Reviewers read everyone's annotations, so they may list who made them.
    assert len(_listed(as_actor(reviewer).client, project)) == 2
    # Another project's authors are not listed.
    other = Project.objects.create(organization=world.org, title="Other")
    assert _listed(world.admin.client, other) == []


def test_annotators_and_outsiders_are_refused(
    world: World, project: Project, task_ids: list[int]
) -> None:
    _annotate(world, project, task_ids[0], world.admin.user)
    refused = world.member.client.get(f"/api/projects/{project.pk}/annotators/")
    assert refused.status_code == 403
    assert b"a.example" not in refused.content
    hidden = world.outsider.client.get(f"/api/projects/{project.pk}/annotators/")
    assert hidden.status_code == 404
    assert b"a.example" not in hidden.content


def test_one_query_per_author_step_not_per_annotation(
    world: World, project: Project, task_ids: list[int]
) -> None:
    authors = [make_user(f"a{n}@a.example", org=world.org) for n in range(3)]
    Annotation.objects.bulk_create(
        Annotation(task_id=pk, project=project, completed_by=author, result=choice("Neutral"))
        for author in authors
        for pk in task_ids
    )
    with CaptureQueriesContext(connection) as queries:
        found = annotator_ids(project)
    assert found == [a.pk for a in authors]
    assert len(queries) == 1


def test_a_deleted_authors_annotations_are_skipped(
    world: World, project: Project, task_ids: list[int]
) -> None:
    _annotate(world, project, task_ids[0], world.member.user)
    Annotation.objects.filter(project=project).update(completed_by=None)
    assert annotator_ids(project) == []


def test_each_step_is_a_probe_of_the_author_index(
    world: World, project: Project, task_ids: list[int]
) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The table is tiny: make the planner show the plan it has for a big one.
            cursor.execute("SET LOCAL enable_seqscan = off")
    _annotate(world, project, task_ids[0], world.member.user)
    with CaptureQueriesContext(connection) as queries:
        annotator_ids(project)
    found = plan(queries[0]["sql"].replace("%s", str(project.pk)))
    assert "annotation_author" in found, found
    assert "SCAN tasks_annotation" not in found and "Seq Scan" not in found, found

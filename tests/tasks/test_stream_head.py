"""HEAD on the label stream (`api/projects/{id}/next`): the GET's status and headers, as
the export endpoints answer HEAD, but no task is reserved and nothing is written."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from labelkeep.tasks.models import TaskLock
from tests.conftest import HttpsClient, World
from tests.tasks.test_stream_rules import annotate, annotator, make_project, next_id

WRITES = ("INSERT", "UPDATE", "DELETE")


def head(actor_client: HttpsClient, project_id: int) -> tuple[int, str, bytes]:
    response = actor_client.head(f"/api/projects/{project_id}/next")
    return response.status_code, response.get("Content-Type", ""), response.content


def test_head_reserves_nothing_so_the_task_stays_free_for_others(world: World) -> None:
    project, t = make_project(world, 2)
    a, b = annotator(world, project, "a"), annotator(world, project, "b")
    with CaptureQueriesContext(connection) as captured:
        status, content_type, body = head(a.client, project.pk)
    assert (status, content_type, body) == (200, "application/json", b"")
    # (Authentication notes when the key was last used; the stream writes nothing.)
    writes = [q["sql"] for q in captured if q["sql"].lstrip().upper().startswith(WRITES)]
    assert [sql for sql in writes if '"tasks_' in sql] == []
    assert any('"tasks_' in q["sql"] for q in captured)  # it did look at the tasks
    assert not TaskLock.objects.filter(project=project).exists()
    # With overlap 1, the task a GET would have reserved for a is still b's to take.
    assert next_id(b, project) == t[0]
    assert next_id(a, project) == t[1]


def test_head_leaves_the_callers_own_lock_as_it_is(world: World) -> None:
    project, t = make_project(world, 1)
    a, b = annotator(world, project, "a"), annotator(world, project, "b")
    assert next_id(a, project) == t[0]
    lock = TaskLock.objects.get(project=project)
    assert head(a.client, project.pk)[0] == 200  # a holds the task: a GET would give it
    assert head(b.client, project.pk)[0] == 404  # a's lock covers the only task
    assert list(TaskLock.objects.filter(project=project)) == [lock]
    assert TaskLock.objects.get(pk=lock.pk).expires_at == lock.expires_at  # not extended


def test_head_says_404_when_nothing_is_left(world: World) -> None:
    project, t = make_project(world, 2)
    a = annotator(world, project, "a")
    annotate(a, t[0])
    annotate(a, t[1], skip=True)
    status, content_type, body = head(a.client, project.pk)
    assert (status, body) == (404, b"")
    assert content_type == "application/json"
    assert a.client.get(f"/api/projects/{project.pk}/next").status_code == 404


def test_head_needs_what_get_needs(world: World) -> None:
    project, _ = make_project(world, 1)
    # The member is an annotator of Org A but not on this project: they cannot see it.
    assert head(world.member.client, project.pk)[0] == 404
    assert head(world.outsider.client, project.pk)[0] == 404
    assert head(HttpsClient(), project.pk)[0] == 401
    assert not TaskLock.objects.exists()

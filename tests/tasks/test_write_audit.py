"""Every write through the API leaves exactly one audit entry per changed object: the
action, who did it, in which organization, from which address and client, and the ids of
what changed. A refused write leaves none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labelkeep.audit import services as audit
from labelkeep.audit.models import AuditEvent
from labelkeep.jobs.worker import run_batch
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Prediction, Task
from tests.conftest import Actor, World
from tests.tasks.conftest import CONFIG, choice

ADDRESS = "198.51.100.23"
AGENT = "audit-test/1.0"


def write(
    actor: Actor, method: str, url: str, body: Any = None, *, expect: int
) -> tuple[Any, list[AuditEvent]]:
    """Send one request from ADDRESS as AGENT; the audit entries it added, oldest first."""
    mark = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = getattr(actor.client, method)(
        url, body, format="json", REMOTE_ADDR=ADDRESS, HTTP_USER_AGENT=AGENT
    )
    assert response.status_code == expect, response.content
    return response, list(AuditEvent.objects.filter(pk__gt=mark).order_by("id"))


def check(event: AuditEvent, action: str, by: Actor, project_id: int, **details: Any) -> AuditEvent:
    assert event.action == action
    assert (event.actor_id, event.actor_email) == (by.user.pk, by.user.email)
    assert event.organization_id == by.org.pk
    assert (event.ip_address, event.user_agent) == (ADDRESS, AGENT)
    assert (event.target_type, event.target_id) == ("project", str(project_id))
    assert {k: event.details.get(k) for k in details} == details
    return event


def only(events: list[AuditEvent], action: str, by: Actor, project_id: int, **details: Any) -> None:
    assert [e.action for e in events] == [action]
    check(events[0], action, by, project_id, **details)


def test_project_create_update_delete(world: World) -> None:
    admin = world.admin
    created, events = write(
        admin, "post", "/api/projects/", {"title": "Audited", "label_config": CONFIG}, expect=201
    )
    pk = created.json()["id"]
    only(events, "project.create", admin, pk, title="Audited")

    _, events = write(admin, "patch", f"/api/projects/{pk}/", {"title": "Renamed"}, expect=200)
    only(events, "project.update", admin, pk, fields=["title"])

    _, events = write(admin, "delete", f"/api/projects/{pk}/", expect=204)
    only(events, "project.delete", admin, pk, title="Renamed", task_number=0)
    assert not Project.objects.filter(pk=pk).exists()


def test_project_members_add_and_remove(world: World, project: Project) -> None:
    url = f"/api/projects/{project.pk}/members"
    owner, member = world.owner.user.pk, world.member.user.pk
    _, events = write(world.admin, "post", url, {"user": owner}, expect=201)
    only(events, "project.member_add", world.admin, project.pk, user=owner)
    # Adding someone already there changes nothing and records nothing.
    _, events = write(world.admin, "post", url, {"users": [owner]}, expect=200)
    assert events == []
    _, events = write(world.admin, "delete", url, {"users": [member]}, expect=204)
    only(events, "project.member_remove", world.admin, project.pk, user=member)


def test_task_create_update_delete(world: World, project: Project) -> None:
    admin = world.admin
    body = {"project": project.pk, "data": {"text": "hello"}}
    created, events = write(admin, "post", "/api/tasks/", body, expect=201)
    pk = created.json()["id"]
    only(events, "tasks.create", admin, project.pk, count=1, ids=[pk])

    _, events = write(admin, "patch", f"/api/tasks/{pk}/", {"data": {"text": "bye"}}, expect=200)
    only(events, "task.update", admin, project.pk, task=pk, fields=["data"])

    _, events = write(admin, "delete", f"/api/tasks/{pk}/", expect=204)
    only(events, "tasks.delete", admin, project.pk, count=1, all=False, ids=[pk])
    assert not Task.objects.filter(pk=pk).exists()


def test_task_deletes_in_bulk(world: World, project: Project, task_ids: list[int]) -> None:
    admin = world.admin
    chosen = {"selectedItems": {"all": False, "included": task_ids[:2]}}
    url = f"/api/dm/actions?id=delete_tasks&project={project.pk}"
    _, events = write(admin, "post", url, chosen, expect=200)
    only(events, "tasks.delete", admin, project.pk, count=2, all=False, ids=task_ids[:2])

    _, events = write(admin, "delete", f"/api/projects/{project.pk}/tasks/", expect=204)
    only(events, "tasks.delete", admin, project.pk, count=3, all=True)
    assert not Task.objects.filter(project=project).exists()

    # Deleting what is no longer there changes nothing and records nothing.
    _, events = write(admin, "post", url, chosen, expect=200)
    assert events == []
    _, events = write(admin, "delete", f"/api/projects/{project.pk}/tasks/", expect=204)
    assert events == []
    _, events = write(admin, "delete", f"/api/tasks/{task_ids[0]}/", expect=404)
    assert events == []


def test_annotation_create_update_delete(world: World, project: Project, task_ids: Any) -> None:
    member, task = world.member, task_ids[0]
    body = {"result": choice("Positive")}
    created, events = write(member, "post", f"/api/tasks/{task}/annotations/", body, expect=201)
    pk = created.json()["id"]
    only(events, "annotation.create", member, project.pk, annotation=pk, task=task)

    changed = {"result": choice("Negative")}
    _, events = write(member, "patch", f"/api/annotations/{pk}/", changed, expect=200)
    only(events, "annotation.update", member, project.pk, annotation=pk, fields=["result"])

    # A manager deleting someone else's annotation is the one recorded.
    _, events = write(world.admin, "delete", f"/api/annotations/{pk}/", expect=204)
    only(events, "annotation.delete", world.admin, project.pk, annotation=pk, task=task)


def test_annotations_in_bulk(world: World, project: Project, task_ids: list[int]) -> None:
    member = world.member
    body = {"tasks": task_ids[:3], "result": choice("Neutral")}
    created, events = write(member, "post", "/api/annotations/bulk/", body, expect=201)
    made = [a["id"] for a in created.json()]
    only(events, "annotations.create_bulk", member, project.pk, count=3, ids=made, tasks=3)

    gone = made[:2]
    _, events = write(member, "post", "/api/annotations/bulk-delete/", {"ids": gone}, expect=200)
    # One entry per project, counting and naming the deleted annotations.
    only(events, "annotations.delete_bulk", member, project.pk, count=2, ids=sorted(gone))
    assert Annotation.objects.filter(pk__in=made).count() == 1


def test_prediction_create_update_delete(world: World, project: Project, task_ids: Any) -> None:
    admin, task = world.admin, task_ids[0]
    body = {"task": task, "result": choice("Neutral"), "score": 0.7}
    created, events = write(admin, "post", "/api/predictions/", body, expect=201)
    pk = created.json()["id"]
    only(events, "predictions.create", admin, project.pk, count=1, ids=[pk])

    _, events = write(admin, "patch", f"/api/predictions/{pk}/", {"score": 0.2}, expect=200)
    only(events, "prediction.update", admin, project.pk, prediction=pk)

    _, events = write(admin, "delete", f"/api/predictions/{pk}/", expect=204)
    only(events, "prediction.delete", admin, project.pk, prediction=pk)


def test_saved_view_writes(world: World, project: Project) -> None:
    admin = world.admin
    body = {"project": project.pk, "data": {"title": "Mine"}}
    created, events = write(admin, "post", "/api/dm/views/", body, expect=201)
    pk = created.json()["id"]
    only(events, "view.create", admin, project.pk, view=pk)
    _, events = write(admin, "patch", f"/api/dm/views/{pk}/", {"data": {}}, expect=200)
    only(events, "view.update", admin, project.pk, view=pk)
    order = {"project": project.pk, "ids": [pk]}
    _, events = write(admin, "post", "/api/dm/views/order/", order, expect=204)
    only(events, "view.reorder", admin, project.pk, ids=[pk])
    _, events = write(admin, "delete", f"/api/dm/views/{pk}/", expect=204)
    only(events, "view.delete", admin, project.pk, view=pk)
    write(admin, "post", "/api/dm/views/", body, expect=201)
    _, events = write(admin, "delete", f"/api/dm/views/reset/?project={project.pk}", expect=204)
    only(events, "view.reset", admin, project.pk, deleted=1)
    _, events = write(admin, "delete", f"/api/dm/views/reset/?project={project.pk}", expect=204)
    assert events == []  # nothing left to delete: nothing recorded


def prediction_ids(project: Project) -> list[int]:
    return list(
        Prediction.objects.filter(project=project).order_by("id").values_list("pk", flat=True)
    )


def test_import_predictions(world: World, project: Project, task_ids: list[int]) -> None:
    rows = [{"task": t, "result": choice("Positive"), "score": 0.5} for t in task_ids]
    url = f"/api/projects/{project.pk}/import/predictions"
    _, events = write(world.admin, "post", url, rows, expect=201)
    made = prediction_ids(project)
    only(events, "predictions.create", world.admin, project.pk, count=5, ids=made)


def test_entries_list_a_bounded_number_of_ids(
    world: World, project: Project, task_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "LISTED_IDS", 3)
    rows = [{"task": t, "result": choice("Positive")} for t in task_ids]
    url = f"/api/projects/{project.pk}/import/predictions"
    _, events = write(world.admin, "post", url, rows, expect=201)
    made = prediction_ids(project)
    only(events, "predictions.create", world.admin, project.pk, count=5, ids=made[:3])


def test_refused_writes_record_nothing(world: World, project: Project, task_ids: Any) -> None:
    task = task_ids[0]
    _, events = write(world.member, "patch", f"/api/tasks/{task}/", {"data": {}}, expect=403)
    assert events == []
    _, events = write(world.outsider, "delete", f"/api/tasks/{task}/", expect=404)
    assert events == []
    bad = {"result": choice("Ecstatic")}
    _, events = write(world.member, "post", f"/api/tasks/{task}/annotations/", bad, expect=400)
    assert events == []


@pytest.mark.django_db(transaction=True)
def test_export_snapshot_job_and_delete(
    world: World, project: Project, task_ids: Any, tmp_path: Path, settings: Any
) -> None:
    settings.EXPORTS_ROOT = tmp_path / "exports"
    admin, url = world.admin, f"/api/projects/{project.pk}/exports/"
    created, events = write(admin, "post", url, {"title": "nightly"}, expect=201)
    snapshot = created.json()["id"]
    # The request is recorded at once; the export itself when its job has written it,
    # with the creator and the address and client of the request that created it.
    only(events, "project.export_request", admin, project.pk, snapshot=snapshot, format="JSON")
    mark = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    run_batch()
    events = list(AuditEvent.objects.filter(pk__gt=mark or 0).order_by("id"))
    only(events, "project.export", admin, project.pk, snapshot=snapshot, format="JSON")

    _, events = write(admin, "delete", f"{url}{snapshot}", expect=204)
    only(events, "project.export_delete", admin, project.pk, snapshot=snapshot)

"""Drafts: a person's unsaved work on a task (Label Studio's annotation drafts), kept for
them alone, carried by exports, gone with what they were drafts of."""

from __future__ import annotations

from typing import Any

import pytest

from labelkeep.accounts.roles import Role
from labelkeep.audit.models import AuditEvent
from labelkeep.dataio.exporting.jobs import selection_of
from labelkeep.dataio.exporting.source import DatabaseSource
from labelkeep.dataio.models import ExportSnapshot
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import drafts, services
from labelkeep.tasks.models import Annotation, Draft, Task
from tests.conftest import TEST_ORIGIN, Actor, World, as_actor, make_user
from tests.dataio.test_export_support import exported_json
from tests.tasks.conftest import choice

pytestmark = pytest.mark.django_db

FIELDS = {
    "id",
    "user",
    "created_username",
    "created_ago",
    "result",
    "lead_time",
    "was_postponed",
    "import_id",
    "created_at",
    "updated_at",
    "task",
    "annotation",
    "project",
}


def draft(who: Actor, task: int, body: Any = None, *, annotation: int | None = None) -> Any:
    path = f"/api/tasks/{task}/drafts"
    if annotation is not None:
        path = f"/api/tasks/{task}/annotations/{annotation}/drafts"
    return who.client.post(
        path, {"result": choice("Positive")} if body is None else body, format="json"
    )


def made(who: Actor, task: int, **kwargs: Any) -> dict[str, Any]:
    response = draft(who, task, **kwargs)
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def test_a_draft_is_saved_read_changed_and_deleted(
    world: World, project: Project, task_ids: list[int]
) -> None:
    member = world.member
    member.user.first_name, member.user.last_name = "Ada", "Byron"
    member.user.save()
    body = made(member, task_ids[0], body={"result": choice("Positive"), "lead_time": 4.5})
    assert set(body) == FIELDS
    assert body["user"] == member.user.email
    assert body["created_username"] == f"Ada Byron {member.user.email}, {member.user.pk}"
    assert (body["task"], body["annotation"], body["project"]) == (task_ids[0], None, project.pk)
    assert (body["result"], body["lead_time"], body["was_postponed"]) == (
        choice("Positive"),
        4.5,
        False,
    )
    assert body["created_at"].endswith("Z") and body["import_id"] is None
    pk = body["id"]
    listed = member.client.get(f"/api/tasks/{task_ids[0]}/drafts").json()
    assert [d["id"] for d in listed] == [pk]
    assert member.client.get(f"/api/drafts/{pk}/").json() == listed[0]

    changed = member.client.patch(f"/api/drafts/{pk}/", {"was_postponed": True}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["was_postponed"] is True
    assert changed.json()["result"] == choice("Positive")  # kept: not given
    assert changed.json()["lead_time"] == 4.5
    replaced = member.client.put(f"/api/drafts/{pk}", {"result": choice("Negative")}, format="json")
    assert replaced.status_code == 200, replaced.content
    assert (replaced.json()["result"], replaced.json()["lead_time"]) == (choice("Negative"), None)
    assert replaced.json()["was_postponed"] is False  # a replacement empties the rest

    assert member.client.delete(f"/api/drafts/{pk}/").status_code == 204
    assert member.client.get(f"/api/drafts/{pk}/").status_code == 404
    assert member.client.delete(f"/api/drafts/{pk}/").status_code == 404
    actions = list(
        AuditEvent.objects.filter(action__startswith="draft.").values_list("action", flat=True)
    )
    assert sorted(actions) == ["draft.create", "draft.delete", "draft.update", "draft.update"]
    assert AuditEvent.objects.filter(action="draft.create", actor=member.user).exists()


def test_drafts_are_their_authors_alone(
    world: World, project: Project, task_ids: list[int], anon: Any
) -> None:
    """Nobody else reads, changes or deletes a draft, whatever their role: a 404, as for
    an id that does not exist. Someone off the project loses their own."""
    pk = made(world.member, task_ids[0])["id"]
    others = [world.admin, world.owner, world.outsider]
    for role in (Role.REVIEWER, Role.MANAGER):
        user = make_user(f"{role.value}-d@a.example", org=world.org, role=role)
        projects.add_members(project, [user], actor=world.admin.user, origin=TEST_ORIGIN)
        others.append(as_actor(user))
    for other in others:
        client = other.client
        assert client.get(f"/api/drafts/{pk}/").status_code == 404
        assert client.patch(f"/api/drafts/{pk}/", {"result": []}, format="json").status_code == 404
        assert client.put(f"/api/drafts/{pk}/", {"result": []}, format="json").status_code == 404
        assert client.delete(f"/api/drafts/{pk}/").status_code == 404
    for call in (anon.get, anon.delete):
        assert call(f"/api/drafts/{pk}/").status_code == 401
    assert world.admin.client.get(f"/api/tasks/{task_ids[0]}/drafts").json() == []
    assert world.outsider.client.get(f"/api/tasks/{task_ids[0]}/drafts").status_code == 404
    assert Draft.objects.get(pk=pk).result == choice("Positive")
    projects.remove_member(project, world.member.user, actor=world.admin.user, origin=TEST_ORIGIN)
    assert world.member.client.get(f"/api/drafts/{pk}/").status_code == 404


def test_a_task_shows_the_readers_own_drafts(
    world: World, project: Project, task_ids: list[int]
) -> None:
    """The task (and the label stream's answer) carries the reader's drafts of it;
    `draft_exists` tells reviewers and above of anyone's, annotators of their own."""
    task = task_ids[0]
    mine = made(world.member, task)
    theirs = made(world.admin, task, body={"result": choice("Negative")})
    member_view = world.member.client.get(f"/api/tasks/{task}/").json()
    assert member_view["drafts"] == [world.member.client.get(f"/api/drafts/{mine['id']}").json()]
    assert member_view["draft_exists"] is True
    admin_view = world.admin.client.get(f"/api/tasks/{task}/").json()
    assert [d["id"] for d in admin_view["drafts"]] == [theirs["id"]]
    other = task_ids[1]
    made(world.admin, other)
    assert world.member.client.get(f"/api/tasks/{other}/").json()["draft_exists"] is False
    assert world.admin.client.get(f"/api/tasks/{other}/").json()["draft_exists"] is True
    given = world.member.client.get(f"/api/projects/{project.pk}/next").json()
    assert given["id"] == task and [d["id"] for d in given["drafts"]] == [mine["id"]]
    # The task list with fields=all: the same, a page at a time.
    for who, own, exists in (
        (world.member, [mine["id"]], {task}),
        (world.admin, [theirs["id"]], {task, other}),
    ):
        page = who.client.get(f"/api/tasks/?project={project.pk}&fields=all").json()["tasks"]
        by_id = {t["id"]: t for t in page}
        assert [d["id"] for d in by_id[task]["drafts"]] == own
        assert {t["id"] for t in page if t["draft_exists"]} == exists
    picked = world.admin.client.get(
        f"/api/tasks/?project={project.pk}&fields=all&include=draft_exists"
    ).json()["tasks"]
    assert {t["id"] for t in picked if t["draft_exists"]} == {task, other}
    assert all(set(t) == {"id", "draft_exists"} for t in picked)
    # Drafts count nowhere.
    assert Task.objects.get(pk=task).total_annotations == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"result": "Positive"}, "result"),
        ({"result": [1, 2]}, "result"),
        ({"result": [["nested"]]}, "result"),
        ({"result": {"a": 1}}, "result"),
        ({"lead_time": "soon"}, "lead_time"),
        ({"lead_time": -1}, "lead_time"),
        ({"lead_time": "nan"}, "lead_time"),
        ({"was_postponed": "maybe"}, "was_postponed"),
        ({"result": [{"text": "nul \u0000"}]}, "result"),
    ],
)
def test_bad_drafts_are_a_400_and_write_nothing(
    world: World, task_ids: list[int], body: dict[str, Any], field: str
) -> None:
    response = draft(world.member, task_ids[0], body)
    assert response.status_code == 400, response.content
    assert field in response.json()["validation_errors"] or field in str(response.json())
    pk = made(world.member, task_ids[0])["id"]
    changed = world.member.client.patch(f"/api/drafts/{pk}", body, format="json")
    assert changed.status_code == 400, changed.content
    assert Draft.objects.count() == 1
    assert Draft.objects.get(pk=pk).result == choice("Positive")


def test_malformed_json_is_a_400(world: World, task_ids: list[int]) -> None:
    response = world.member.client.post(
        f"/api/tasks/{task_ids[0]}/drafts", b'{"result": [', content_type="application/json"
    )
    assert response.status_code == 400
    assert not Draft.objects.exists()


def test_hostile_strings_are_kept_as_written(world: World, task_ids: list[int]) -> None:
    hostile = [{"value": {"text": ["</script><script>alert(1)</script>", "../../etc/passwd"]}}]
    hostile.append({"value": {"text": ["javascript:alert(1)", 'Crème "brûlée" \\ é']}})
    body = made(world.member, task_ids[0], body={"result": hostile})
    response = world.member.client.get(f"/api/drafts/{body['id']}")
    assert response["Content-Type"] == "application/json"
    assert response.json()["result"] == hostile


def test_an_annotation_made_from_a_draft_deletes_it(
    world: World, project: Project, task_ids: list[int]
) -> None:
    member, task = world.member, task_ids[0]
    pk = made(member, task)["id"]
    kept = made(member, task)["id"]
    admins = made(world.admin, task)["id"]
    # Someone else's draft, or a draft of another task, is left alone.
    saved = member.client.post(
        f"/api/tasks/{task}/annotations/",
        {"result": choice("Positive"), "draft_id": admins},
        format="json",
    )
    assert saved.status_code == 201, saved.content
    assert Draft.objects.filter(pk=admins).exists()
    other = task_ids[1]
    saved = member.client.post(
        f"/api/tasks/{other}/annotations/",
        {"result": choice("Positive"), "draft_id": pk},
        format="json",
    )
    assert saved.status_code == 201 and Draft.objects.filter(pk=pk).exists()
    # A refused annotation keeps its draft.
    refused = member.client.post(
        f"/api/tasks/{task}/annotations/",
        {"result": choice("Nonsense"), "draft_id": pk},
        format="json",
    )
    assert refused.status_code == 400 and Draft.objects.filter(pk=pk).exists()
    bad = member.client.post(
        f"/api/tasks/{task}/annotations/", {"result": [], "draft_id": "x"}, format="json"
    )
    assert bad.status_code == 400 and "draft_id" in str(bad.json())
    assert Annotation.objects.filter(task_id=task).count() == 1
    made_from = member.client.post(
        f"/api/tasks/{task}/annotations/",
        {"result": choice("Negative"), "draft_id": pk},
        format="json",
    )
    assert made_from.status_code == 201, made_from.content
    assert not Draft.objects.filter(pk=pk).exists()
    assert set(Draft.objects.values_list("pk", flat=True)) == {kept, admins}
    # A change to an annotation made from a draft of that change deletes it too.
    annotation = made_from.json()["id"]
    change = made(member, task, annotation=annotation)
    assert change["annotation"] == annotation
    listed = member.client.get(f"/api/tasks/{task}/annotations/{annotation}/drafts").json()
    assert [d["id"] for d in listed] == [change["id"]]
    assert [d["id"] for d in member.client.get(f"/api/tasks/{task}/drafts").json()] == [kept]
    patched = member.client.patch(
        f"/api/annotations/{annotation}/",
        {"result": choice("Neutral"), "draft_id": change["id"]},
        format="json",
    )
    assert patched.status_code == 200, patched.content
    assert not Draft.objects.filter(pk=change["id"]).exists()


def test_drafts_of_an_annotation_need_the_annotation(
    world: World, project: Project, task_ids: list[int]
) -> None:
    task = task_ids[0]
    annotation = services.create_annotation(
        Task.objects.get(pk=task),
        {"result": choice("Positive")},
        actor=world.admin.user,
        completed_by=world.admin.user,
        origin=TEST_ORIGIN,
    ).pk
    # The admin's annotation: the annotator does not see it, so may not draft a change.
    assert draft(world.member, task, annotation=annotation).status_code == 404
    # Another task's route for it is a 404 too.
    assert draft(world.admin, task_ids[1], annotation=annotation).status_code == 404
    assert made(world.admin, task, annotation=annotation)["annotation"] == annotation


def test_drafts_go_with_their_annotation_task_and_project(
    world: World, project: Project, task_ids: list[int]
) -> None:
    def annotate(task: int) -> int:
        return services.create_annotation(
            Task.objects.get(pk=task),
            {"result": choice("Positive")},
            actor=world.admin.user,
            completed_by=world.admin.user,
            origin=TEST_ORIGIN,
        ).pk

    first, second, third = (annotate(task) for task in task_ids[:3])
    single = made(world.admin, task_ids[0], annotation=first)["id"]
    in_bulk = made(world.admin, task_ids[1], annotation=second)["id"]
    by_action = made(world.admin, task_ids[2], annotation=third)["id"]
    of_task = made(world.member, task_ids[3])["id"]
    elsewhere = made(world.member, task_ids[4])["id"]
    assert world.admin.client.delete(f"/api/annotations/{first}/").status_code == 204
    assert not Draft.objects.filter(pk=single).exists()
    bulk = world.admin.client.post(
        "/api/annotations/bulk-delete/", {"ids": [second]}, format="json"
    )
    assert bulk.status_code == 200, bulk.content
    assert not Draft.objects.filter(pk=in_bulk).exists()
    action = world.admin.client.post(
        f"/api/dm/actions?id=delete_tasks_annotations&project={project.pk}",
        {"selectedItems": {"all": False, "included": [task_ids[2]]}},
        format="json",
    )
    assert action.status_code == 200, action.content
    assert not Draft.objects.filter(pk=by_action).exists()
    assert world.admin.client.delete(f"/api/tasks/{task_ids[3]}/").status_code == 204
    assert not Draft.objects.filter(pk=of_task).exists()
    assert Draft.objects.filter(pk=elsewhere).exists()
    assert world.admin.client.delete(f"/api/projects/{project.pk}/").status_code == 204
    assert not Draft.objects.exists()


def test_exports_carry_every_draft(world: World, project: Project, task_ids: list[int]) -> None:
    """The streamed export names drafts by id (as it does predictions); a snapshot asked
    for `drafts` without `only_id` carries them whole."""
    mine = made(world.member, task_ids[0])
    theirs = made(world.admin, task_ids[0], body={"result": choice("Negative"), "lead_time": 2})
    query = "?export_type=JSON&download_all_tasks=true"
    exported = exported_json(world.admin.client, project, query)
    by_id = {t["id"]: t for t in exported}
    assert by_id[task_ids[0]]["drafts"] == [mine["id"], theirs["id"]]
    assert by_id[task_ids[1]]["drafts"] == []
    snapshot = ExportSnapshot(project=project, serialization_options={"drafts": {"only_id": False}})
    tasks = {t["id"]: t for t in DatabaseSource(selection_of(snapshot), 100).tasks()}
    whole = tasks[task_ids[0]]["drafts"]
    assert [d["id"] for d in whole] == [mine["id"], theirs["id"]]
    assert whole[1]["result"] == choice("Negative") and whole[1]["lead_time"] == 2
    assert whole[1]["user"] == world.admin.user.email
    assert set(whole[0]) == FIELDS


@pytest.mark.parametrize("gone", ["task", "annotation"])
def test_a_draft_of_something_deleted_meanwhile_is_a_404(
    world: World, task_ids: list[int], monkeypatch: pytest.MonkeyPatch, gone: str
) -> None:
    """Deleted between the request's lookup and the draft's insert: the insert would fail
    the foreign key at the commit (a 500); it finds the task (or annotation) gone."""
    task = Task.objects.get(pk=task_ids[0])
    annotation = services.create_annotation(
        task, {"result": choice("Positive")}, actor=world.admin.user,
        completed_by=world.admin.user, origin=TEST_ORIGIN,
    )  # fmt: skip
    original = drafts.create_draft

    def deleted_first(*args: Any, **kwargs: Any) -> Any:
        if gone == "task":
            services.delete_tasks(
                task.project, [task.pk], actor=world.admin.user, origin=TEST_ORIGIN
            )
        else:
            services.delete_annotations([annotation], actor=world.admin.user, origin=TEST_ORIGIN)
        return original(*args, **kwargs)

    monkeypatch.setattr(drafts, "create_draft", deleted_first)
    response = draft(world.admin, task.pk, annotation=annotation.pk)
    assert response.status_code == 404, response.content
    assert not Draft.objects.exists()


def test_a_change_keeps_what_it_does_not_name(world: World, task_ids: list[int]) -> None:
    """Two tabs: one saves a new result, the other only postpones; the result stays."""
    pk = made(world.member, task_ids[0])["id"]
    read_by_the_other_tab = Draft.objects.select_related("task__project").get(pk=pk)
    saved = world.member.client.patch(
        f"/api/drafts/{pk}", {"result": choice("Negative")}, format="json"
    )
    assert saved.status_code == 200
    drafts.update_draft(
        read_by_the_other_tab, {"was_postponed": True}, actor=world.member.user,
        origin=TEST_ORIGIN,
    )  # fmt: skip
    stored = Draft.objects.get(pk=pk)
    assert (stored.result, stored.was_postponed) == (choice("Negative"), True)


def test_drafts_of_one_task_are_capped(world: World, task_ids: list[int]) -> None:
    for _ in range(drafts.MAX_PER_TASK):
        made(world.member, task_ids[0])
    refused = draft(world.member, task_ids[0])
    assert refused.status_code == 400 and "task" in refused.json()["validation_errors"]
    assert Draft.objects.count() == drafts.MAX_PER_TASK
    made(world.member, task_ids[1])  # another task
    made(world.admin, task_ids[0])  # another person

"""Tasks, annotations and predictions through the API, with every role and outsiders."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from labelkeep.accounts.roles import Role
from labelkeep.tasks.models import Annotation, Task
from tests.conftest import World, make_user
from tests.tasks.conftest import choice
from tests.tasks.test_predictions_list import ids


def test_task_list_envelope(world: World, project, task_ids) -> None:
    response = world.member.client.get(f"/api/tasks/?project={project.pk}&fields=all")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"tasks", "total", "total_annotations", "total_predictions"}
    assert body["total"] == 5
    assert [t["id"] for t in body["tasks"]] == task_ids
    first = body["tasks"][0]
    assert first["data"] == {"text": "review 0"}
    assert first["annotations"] == [] and first["predictions"] == []


def test_task_list_pages(world: World, project, task_ids) -> None:
    page2 = world.member.client.get(f"/api/tasks/?project={project.pk}&page=2&page_size=2").json()
    assert [t["id"] for t in page2["tasks"]] == task_ids[2:4]
    past = world.member.client.get(f"/api/tasks/?project={project.pk}&page=9&page_size=2").json()
    assert past["tasks"] == []
    newest = world.member.client.get(f"/api/tasks/?project={project.pk}&ordering=-id").json()
    assert newest["tasks"][0]["id"] == task_ids[-1]


def test_task_list_refuses_unknown_ordering(world: World, project, task_ids) -> None:
    for bad in ("updated_by__password", "data", "project__organization"):
        response = world.member.client.get(f"/api/tasks/?project={project.pk}&ordering={bad}")
        assert response.status_code == 400, bad


def test_task_list_query_count_is_flat(world: World, project, task_ids) -> None:
    for task_id in task_ids:
        world.member.client.post(
            f"/api/tasks/{task_id}/annotations/", {"result": choice("Positive")}, format="json"
        )

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert (
                world.admin.client.get(f"/api/tasks/?project={project.pk}&fields=all").status_code
                == 200
            )
        return len(queries)

    count()  # the first call also records the key's last use
    before = count()
    world.admin.client.post(
        "/api/tasks/", {"project": project.pk, "data": {"text": "more"}}, format="json"
    )
    assert count() == before
    assert before <= 9


def test_task_list_needs_a_visible_project(world: World, project, task_ids) -> None:
    assert world.outsider.client.get(f"/api/tasks/?project={project.pk}").status_code == 404
    assert world.member.client.get("/api/tasks/").status_code == 400


def test_task_detail_and_outsider(world: World, project, task_ids) -> None:
    body = world.member.client.get(f"/api/tasks/{task_ids[0]}/").json()
    assert body["project"] == project.pk
    for method in ("get", "patch", "delete"):
        response = getattr(world.outsider.client, method)(f"/api/tasks/{task_ids[0]}/")
        assert response.status_code == 404


def test_create_update_delete_task(world: World, project) -> None:
    created = world.admin.client.post(
        "/api/tasks/", {"project": project.pk, "data": {"text": "hello"}}, format="json"
    )
    assert created.status_code == 201
    pk = created.json()["id"]
    changed = world.admin.client.patch(
        f"/api/tasks/{pk}/", {"data": {"text": "bye"}}, format="json"
    )
    assert changed.json()["data"] == {"text": "bye"}
    assert (
        world.member.client.patch(f"/api/tasks/{pk}/", {"data": {}}, format="json").status_code
        == 403
    )
    assert (
        world.member.client.post(
            "/api/tasks/", {"project": project.pk, "data": {}}, format="json"
        ).status_code
        == 403
    )
    assert world.admin.client.delete(f"/api/tasks/{pk}/").status_code == 204
    assert not Task.objects.filter(pk=pk).exists()
    assert world.admin.client.get(f"/api/projects/{project.pk}/").json()["task_number"] == 0


def test_patch_marks_a_task_done_until_its_annotations_change(
    world: World, project, task_ids
) -> None:
    first = task_ids[0]
    url = f"/api/tasks/{first}/"
    marked = world.admin.client.patch(url, {"is_labeled": True}, format="json")
    assert marked.status_code == 200 and marked.json()["is_labeled"] is True
    # Sequential sampling would give the first task; it is done now.
    assert world.member.client.get(f"/api/projects/{project.pk}/next").json()["id"] == task_ids[1]
    # With overlap in the same request, the given value wins over the recount.
    both = world.admin.client.patch(url, {"is_labeled": True, "overlap": 3}, format="json")
    assert both.status_code == 200 and Task.objects.get(pk=first).is_labeled is True
    world.admin.client.patch(url, {"is_labeled": False, "overlap": 1}, format="json")
    assert Task.objects.get(pk=first).is_labeled is False
    # An annotation change recounts it.
    created = world.member.client.post(
        f"/api/tasks/{first}/annotations/", {"result": choice("Positive")}, format="json"
    )
    assert created.status_code == 201 and Task.objects.get(pk=first).is_labeled is True
    for bad in ("maybe", None, [True]):
        assert world.admin.client.patch(url, {"is_labeled": bad}, format="json").status_code == 400
    assert world.member.client.patch(url, {"is_labeled": False}, format="json").status_code == 403
    assert Task.objects.get(pk=first).is_labeled is True


def test_create_keeps_a_given_overlap_and_done_mark(world: World, project) -> None:
    """`ls.tasks.create(..., overlap=3, is_labeled=True)` sends both; they are kept."""
    created = world.admin.client.post(
        "/api/tasks/",
        {"project": project.pk, "data": {"text": "x"}, "overlap": 3, "is_labeled": True},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["overlap"], body["is_labeled"]) == (3, True)
    stored = Task.objects.get(pk=body["id"])
    assert (stored.overlap, stored.is_labeled) == (3, True)
    plain = world.admin.client.post(
        "/api/tasks/", {"project": project.pk, "data": {"text": "y"}}, format="json"
    ).json()
    assert (plain["overlap"], plain["is_labeled"]) == (1, False)
    refused = world.admin.client.post(
        "/api/tasks/", {"project": project.pk, "data": {"text": "z"}, "overlap": 0}, format="json"
    )
    assert refused.status_code == 400
    assert not Task.objects.filter(data__text="z").exists()


def test_create_task_in_foreign_project_is_404(world: World, project) -> None:
    response = world.outsider.client.post(
        "/api/tasks/", {"project": project.pk, "data": {"text": "x"}}, format="json"
    )
    assert response.status_code == 404


def test_delete_all_and_bulk(world: World, project, task_ids) -> None:
    url = f"/api/dm/actions?id=delete_tasks&project={project.pk}"
    response = world.admin.client.post(
        url, {"selectedItems": {"all": False, "included": task_ids[:2]}}, format="json"
    )
    assert response.status_code == 200
    assert Task.objects.filter(project=project).count() == 3
    assert world.member.client.delete(f"/api/projects/{project.pk}/tasks/").status_code == 403
    assert world.admin.client.delete(f"/api/projects/{project.pk}/tasks/").status_code == 204
    assert Task.objects.filter(project=project).count() == 0
    assert world.admin.client.get(f"/api/projects/{project.pk}/").json()["task_number"] == 0


def test_bulk_delete_applies_the_filters(world: World, project, task_ids) -> None:
    for pk in task_ids[:3]:
        created = world.member.client.post(
            f"/api/tasks/{pk}/annotations/", {"result": choice("Positive")}, format="json"
        )
        assert created.status_code == 201
    url = f"/api/dm/actions?id=delete_tasks&project={project.pk}"
    unannotated = {
        "conjunction": "and",
        "items": [
            {
                "filter": "filter:tasks:total_annotations",
                "operator": "equal",
                "type": "Number",
                "value": 0,
            }
        ],
    }
    # The SDK's wire shape: every task, narrowed by the filters, one of them left out.
    body = {
        "filters": unannotated,
        "selectedItems": {"all": True, "excluded": [task_ids[4]]},
    }
    response = world.admin.client.post(url, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["processed_items"] == 1
    left = set(Task.objects.filter(project=project).values_list("pk", flat=True))
    assert left == set(task_ids[:3]) | {task_ids[4]}
    # Chosen ids that do not match are kept too.
    chosen = {"filters": unannotated, "selectedItems": {"all": False, "included": task_ids[:2]}}
    assert world.admin.client.post(url, chosen, format="json").json()["processed_items"] == 0
    assert Task.objects.filter(project=project).count() == 4
    counts = world.admin.client.get(f"/api/projects/{project.pk}/").json()
    assert counts["task_number"] == 4 and counts["num_tasks_with_annotations"] == 3
    # A view that is not there, or filters that cannot be read, delete nothing.
    for missing_url, missing_body in (
        (f"{url}&view=7", {"selectedItems": {"all": True}}),
        (url, {"view": 7, "selectedItems": {"all": True}}),
    ):
        assert world.admin.client.post(missing_url, missing_body, format="json").status_code == 404
    for refused_url, refused_body in (
        (url, {"view": "seven", "selectedItems": {"all": True}}),
        (
            url,
            {
                "filters": {"items": [{"filter": "filter:tasks:project__title"}]},
                "selectedItems": {"all": True},
            },
        ),
        (url, {"filters": "everything", "selectedItems": {"all": True}}),
    ):
        refused = world.admin.client.post(refused_url, refused_body, format="json")
        assert refused.status_code == 400, refused_body
    assert Task.objects.filter(project=project).count() == 4


def test_bulk_delete_with_numbers_beyond_a_columns_range(world: World, project, task_ids) -> None:
    """Counters compared with numbers their columns cannot hold match no task or every
    one, as in the task list: the selection is deleted accordingly."""
    url = f"/api/dm/actions?id=delete_tasks&project={project.pk}"

    def delete(name: str, operator: str, value: int, **selected: Any) -> int:
        where = {"filter": f"filter:tasks:{name}", "operator": operator, "type": "Number"}
        body = {"selectedItems": selected, "filters": {"items": [{**where, "value": value}]}}
        response = world.admin.client.post(url, body, format="json")
        assert response.status_code == 200, response.content
        return int(response.json()["processed_items"])

    for name, operator, value in (
        ("total_annotations", "equal", 2**31),
        ("total_predictions", "greater_or_equal", 2**31),
        ("cancelled_annotations", "less", -1),
        ("inner_id", "equal", -1),
        ("id", "greater", 2**63 - 1),
    ):
        assert delete(name, operator, value, all=True, excluded=[]) == 0
        assert delete(name, operator, value, all=False, included=task_ids) == 0
    assert Task.objects.filter(project=project).count() == 5
    assert delete("total_annotations", "not_equal", -1, all=False, included=task_ids[:2]) == 2
    assert delete("inner_id", "greater", -1, all=True, excluded=[task_ids[4]]) == 2
    assert delete("total_annotations", "less", 2**31, all=True, excluded=[]) == 1
    assert not Task.objects.filter(project=project).exists()


def test_annotation_lifecycle(world: World, project, task_ids) -> None:
    url = f"/api/tasks/{task_ids[0]}/annotations/"
    created = world.member.client.post(
        url, {"result": choice("Positive"), "lead_time": 3.5}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["completed_by"] == world.member.user.pk
    assert body["task"] == task_ids[0]
    assert body["result"][0]["value"]["choices"] == ["Positive"]
    pk = body["id"]
    assert [a["id"] for a in world.member.client.get(url).json()] == [pk]
    changed = world.member.client.patch(
        f"/api/annotations/{pk}/", {"result": choice("Negative")}, format="json"
    )
    assert changed.json()["result"][0]["value"]["choices"] == ["Negative"]
    task = Task.objects.get(pk=task_ids[0])
    assert task.is_labeled and task.total_annotations == 1
    assert world.member.client.delete(f"/api/annotations/{pk}/").status_code == 204
    task.refresh_from_db()
    assert not task.is_labeled and task.total_annotations == 0


def test_annotation_result_is_validated(world: World, project, task_ids) -> None:
    url = f"/api/tasks/{task_ids[0]}/annotations/"
    wrong_label = world.member.client.post(url, {"result": choice("Ecstatic")}, format="json")
    assert wrong_label.status_code == 400
    assert "Ecstatic" in str(wrong_label.json())
    not_a_list = world.member.client.post(url, {"result": {"a": 1}}, format="json")
    assert not_a_list.status_code == 400
    assert not Annotation.objects.exists()


def test_annotators_see_and_change_only_their_own(world: World, project, task_ids) -> None:
    url = f"/api/tasks/{task_ids[0]}/annotations/"
    theirs = world.admin.client.post(url, {"result": choice("Positive")}, format="json").json()[
        "id"
    ]
    assert world.member.client.get(url).json() == []
    assert world.member.client.get(f"/api/annotations/{theirs}/").status_code == 404
    assert (
        world.member.client.patch(
            f"/api/annotations/{theirs}/", {"result": []}, format="json"
        ).status_code
        == 404
    )
    task = world.member.client.get(f"/api/tasks/{task_ids[0]}/").json()
    assert task["annotations"] == []


def test_outsider_cannot_touch_annotations(world: World, project, task_ids) -> None:
    pk = world.member.client.post(
        f"/api/tasks/{task_ids[0]}/annotations/", {"result": choice("Positive")}, format="json"
    ).json()["id"]
    for method in ("get", "patch", "delete"):
        assert getattr(world.outsider.client, method)(f"/api/annotations/{pk}/").status_code == 404
    assert (
        world.outsider.client.post(
            f"/api/tasks/{task_ids[0]}/annotations/", {"result": []}, format="json"
        ).status_code
        == 404
    )
    bulk = world.outsider.client.post("/api/annotations/bulk-delete/", {"ids": [pk]}, format="json")
    assert bulk.status_code == 404
    assert Annotation.objects.filter(pk=pk).exists()


def test_completed_by_someone_else_needs_a_manager(world: World, project, task_ids) -> None:
    url = f"/api/tasks/{task_ids[0]}/annotations/"
    refused = world.member.client.post(
        url, {"result": [], "completed_by": world.admin.user.pk}, format="json"
    )
    assert refused.status_code == 403
    ok = world.admin.client.post(
        url, {"result": [], "completed_by": world.member.user.pk}, format="json"
    )
    assert ok.json()["completed_by"] == world.member.user.pk
    outsider = world.admin.client.post(
        url, {"result": [], "completed_by": world.outsider.user.pk}, format="json"
    )
    assert outsider.status_code == 400


def test_completed_by_must_be_able_to_open_the_project(world: World, project, task_ids) -> None:
    """Not a deactivated member, nor an annotator who is not on the project: the
    annotation would sit where its author cannot see it."""
    url = f"/api/tasks/{task_ids[0]}/annotations/"
    stranger = make_user("stranger@a.example", org=world.org, role=Role.ANNOTATOR)
    gone = make_user("gone@a.example", org=world.org, role=Role.DEACTIVATED)
    manager = make_user("manager@a.example", org=world.org, role=Role.MANAGER)
    for user, message in ((stranger, "this project"), (gone, "active member")):
        for body in (
            {"result": [], "completed_by": user.pk},
            {"tasks": [task_ids[0]], "result": [], "completed_by": user.pk},
        ):
            path = url if "tasks" not in body else "/api/annotations/bulk/"
            refused = world.admin.client.post(path, body, format="json")
            assert refused.status_code == 400, refused.content
            assert message in str(refused.json())
    # A manager sees every project, on it or not.
    ok = world.admin.client.post(url, {"result": [], "completed_by": manager.pk}, format="json")
    assert ok.status_code == 201
    assert Annotation.objects.filter(task_id=task_ids[0]).count() == 1


def test_predictions(world: World, project, task_ids) -> None:
    created = world.admin.client.post(
        "/api/predictions/",
        {"task": task_ids[0], "result": choice("Neutral"), "score": 0.7, "model_version": "v1"},
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["task"] == task_ids[0]
    assert ids(world.member.client, f"?task={task_ids[0]}") == [pk]
    assert (
        world.member.client.post(
            "/api/predictions/", {"task": task_ids[0], "result": []}, format="json"
        ).status_code
        == 403
    )
    assert world.outsider.client.get(f"/api/predictions/{pk}/").status_code == 404
    assert (
        world.outsider.client.post(
            "/api/predictions/", {"task": task_ids[0], "result": []}, format="json"
        ).status_code
        == 404
    )
    imported = world.admin.client.post(
        f"/api/projects/{project.pk}/import/predictions",
        [{"task": t, "result": choice("Positive"), "score": 0.5} for t in task_ids],
        format="json",
    )
    assert imported.json() == {"created": 5}
    assert (
        world.admin.client.get(f"/api/projects/{project.pk}/").json()["total_predictions_number"]
        == 6
    )
    assert world.admin.client.delete(f"/api/predictions/{pk}/").status_code == 204


def test_next_task_sequential_and_locked(world: World, project, task_ids) -> None:
    first = world.member.client.get(f"/api/projects/{project.pk}/next").json()
    assert first["id"] == task_ids[0]
    # The admin (also on the project) gets another task while the member holds the first.
    second = world.admin.client.get(f"/api/projects/{project.pk}/next").json()
    assert second["id"] == task_ids[1]
    # Asking again returns the task already held.
    assert world.member.client.get(f"/api/projects/{project.pk}/next").json()["id"] == task_ids[0]
    world.member.client.post(
        f"/api/tasks/{task_ids[0]}/annotations/", {"result": choice("Positive")}, format="json"
    )
    assert world.member.client.get(f"/api/projects/{project.pk}/next").json()["id"] == task_ids[2]


def test_next_task_skips_skipped_and_finishes(world: World, project, task_ids) -> None:
    for task_id in task_ids:
        world.member.client.post(
            f"/api/tasks/{task_id}/annotations/",
            {"result": [], "was_cancelled": True},
            format="json",
        )
    response = world.member.client.get(f"/api/projects/{project.pk}/next")
    assert response.status_code == 404
    assert world.outsider.client.get(f"/api/projects/{project.pk}/next").status_code == 404


def test_task_ids_are_never_reused(world: World, project, task_ids) -> None:
    world.admin.client.delete(f"/api/projects/{project.pk}/tasks/")
    created = world.admin.client.post(
        "/api/tasks/", {"project": project.pk, "data": {"text": "again"}}, format="json"
    )
    assert created.json()["id"] > max(task_ids)


def test_task_data_must_carry_the_configs_keys(world: World, project, task_ids) -> None:
    created = world.admin.client.post(
        "/api/tasks/", {"project": project.pk, "data": {"other": "x"}}, format="json"
    )
    assert created.status_code == 400
    assert '"text"' in str(created.json()["validation_errors"]["data"])
    assert Task.objects.filter(project=project).count() == 5
    url = f"/api/tasks/{task_ids[0]}/"
    changed = world.admin.client.patch(url, {"data": {"nope": 1}}, format="json")
    assert changed.status_code == 400 and "$text" in str(changed.json())
    assert Task.objects.get(pk=task_ids[0]).data == {"text": "review 0"}
    kept = world.admin.client.patch(url, {"data": {"text": "new", "extra": 1}}, format="json")
    assert kept.status_code == 200
    assert Task.objects.get(pk=task_ids[0]).data == {"text": "new", "extra": 1}

"""Label Studio's annotation bookkeeping: `unique_id`, `result_count`, `import_id`,
`last_action` and `bulk_created`, kept by every way an annotation is written, read only,
and the same in the API and the JSON export."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation
from tests.conftest import World
from tests.dataio.test_export_support import exported_json
from tests.tasks.conftest import choice

BOOKKEEPING = ("unique_id", "result_count", "import_id", "last_action", "bulk_created")
TWO_REGIONS = [*choice("Positive"), {**choice("Negative")[0], "id": "second"}]


def kept(answer: dict[str, Any]) -> dict[str, Any]:
    return {name: answer[name] for name in BOOKKEEPING}


def is_uuid4(text: str) -> bool:
    return uuid.UUID(text).version == 4 and str(uuid.UUID(text)) == text


def annotate(world: World, task: int, body: dict[str, Any]) -> dict[str, Any]:
    answer = world.member.client.post(f"/api/tasks/{task}/annotations/", body, format="json")
    assert answer.status_code == 201, answer.content
    created: dict[str, Any] = answer.json()
    return created


def change(world: World, pk: int, body: dict[str, Any]) -> dict[str, Any]:
    answer = world.member.client.patch(f"/api/annotations/{pk}/", body, format="json")
    assert answer.status_code == 200, answer.content
    changed: dict[str, Any] = answer.json()
    return changed


def test_one_by_one_annotations_are_submitted_skipped_and_updated(
    world: World, task_ids: list[int]
) -> None:
    made = annotate(world, task_ids[0], {"result": TWO_REGIONS})
    assert is_uuid4(made["unique_id"])
    assert kept(made) == {
        "unique_id": made["unique_id"],
        "result_count": 2,
        "import_id": None,
        "last_action": "submitted",
        "bulk_created": False,
    }
    skip = annotate(world, task_ids[1], {"result": [], "was_cancelled": True})
    assert skip["last_action"] == "skipped" and skip["result_count"] == 0
    assert skip["unique_id"] != made["unique_id"]

    changed = change(world, made["id"], {"result": choice("Neutral")})
    assert (changed["last_action"], changed["result_count"]) == ("updated", 1)
    assert changed["unique_id"] == made["unique_id"]  # it stays with the annotation
    skipped = change(world, made["id"], {"was_cancelled": True})
    assert (skipped["last_action"], skipped["result_count"]) == ("skipped", 1)
    back = change(world, made["id"], {"was_cancelled": False})
    assert back["last_action"] == "updated"
    fetched = world.member.client.get(f"/api/annotations/{made['id']}/").json()
    assert kept(fetched) == kept(back)


def test_the_bookkeeping_is_read_only(world: World, task_ids: list[int]) -> None:
    forged = {
        "unique_id": str(uuid.uuid4()),
        "result_count": 99,
        "import_id": 7,
        "last_action": "accepted",
        "bulk_created": True,
    }
    made = annotate(world, task_ids[0], {"result": choice("Positive"), **forged})
    assert made["unique_id"] != forged["unique_id"]
    assert (made["result_count"], made["import_id"], made["bulk_created"]) == (1, None, False)
    assert made["last_action"] == "submitted"
    changed = change(world, made["id"], forged)
    assert kept(changed) == {**kept(made), "last_action": "updated"}


def test_bulk_annotations_are_bulk_created_with_ids_of_their_own(
    world: World, task_ids: list[int]
) -> None:
    answer = world.member.client.post(
        "/api/annotations/bulk/", {"tasks": task_ids[:3], "result": TWO_REGIONS}, format="json"
    )
    assert answer.status_code == 201, answer.content
    made = Annotation.objects.filter(pk__in=[row["id"] for row in answer.json()])
    assert {(a.bulk_created, a.result_count, a.last_action) for a in made} == {
        (True, 2, "submitted")
    }
    assert len({a.unique_id for a in made}) == 3


def test_imported_annotations_keep_their_old_id(world: World, project: Project) -> None:
    def item(text: str, annotation_id: Any) -> dict[str, Any]:
        given = {"result": TWO_REGIONS, "id": annotation_id, "unique_id": "not kept"}
        return {"data": {"text": text}, "annotations": [given]}

    odd_ids = ["12", True, 0, -4, 2**63, 1.5, None]
    body = [item("kept", 4321), *(item(f"odd {n}", value) for n, value in enumerate(odd_ids))]
    answer = world.admin.client.post(f"/api/projects/{project.pk}/import", body, format="json")
    assert answer.status_code == 201, answer.content
    made = {a.task.data["text"]: a for a in Annotation.objects.select_related("task")}
    assert made["kept"].import_id == 4321
    assert {made[f"odd {n}"].import_id for n in range(len(odd_ids))} == {None}
    assert {(a.last_action, a.bulk_created, a.result_count) for a in made.values()} == {
        ("imported", True, 2)
    }
    assert len({a.unique_id for a in made.values()}) == len(body)


def test_the_export_shows_what_the_api_shows(
    world: World, project: Project, task_ids: list[int]
) -> None:
    first = annotate(world, task_ids[0], {"result": TWO_REGIONS})
    second = annotate(world, task_ids[1], {"result": [], "was_cancelled": True})
    Annotation.objects.filter(pk=second["id"]).update(last_action="")  # written before it was kept
    shown = {first["id"]: kept(first), second["id"]: {**kept(second), "last_action": None}}
    exported = exported_json(world.admin.client, project, "?exportType=JSON")
    annotations = [a for task in exported for a in task["annotations"]]
    assert {a["id"]: kept(a) for a in annotations} == shown
    fetched = world.admin.client.get(f"/api/tasks/{task_ids[1]}/").json()
    assert kept(fetched["annotations"][0]) == shown[second["id"]]


@pytest.mark.django_db(transaction=True)
def test_migration_gives_existing_annotations_ids_and_counts() -> None:
    before = [("tasks", "0009_task_file_upload")]
    after = [("tasks", "0010_annotation_bookkeeping")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        organization = old.get_model("accounts", "Organization").objects.create(title="Old")
        project = old.get_model("projects", "Project").objects.create(
            organization_id=organization.pk, title="old"
        )
        task = old.get_model("tasks", "Task").objects.create(
            project_id=project.pk, data={"text": "x"}, inner_id=1
        )
        annotation_model = old.get_model("tasks", "Annotation")
        shared = [{**r, "id": "same"} for r in TWO_REGIONS]  # a label and its text: one
        for result in ([], choice("Positive"), TWO_REGIONS, {"not": "a list"}, shared):
            annotation_model.objects.create(task_id=task.pk, project_id=project.pk, result=result)

        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps
        rows = new.get_model("tasks", "Annotation").objects.order_by("id")
        assert [a.result_count for a in rows] == [0, 1, 2, 0, 1]
        ids = [a.unique_id for a in rows]
        assert len(set(ids)) == 5 and all(isinstance(i, uuid.UUID) for i in ids)
        assert {i.version for i in ids} == {4}
        assert {a.last_action for a in rows} == {""} and not any(a.bulk_created for a in rows)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

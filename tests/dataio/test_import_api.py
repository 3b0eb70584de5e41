"""`POST api/projects/{id}/import` with a JSON body: shapes, checks, limits, permissions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labelkeep.accounts.roles import Role
from labelkeep.audit.models import AuditEvent
from labelkeep.dataio.models import ProjectImport, RunStatus
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Draft, Prediction, Task
from tests.conftest import TEST_ORIGIN, World, as_actor, make_user
from tests.dataio.test_import_support import (
    choice,
    import_path,
    make_project,
    nothing_imported,
    post_json,
    use_uploads_root,
)


@pytest.fixture
def project(world: World) -> Project:
    return make_project(world)


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    return use_uploads_root(settings, tmp_path)


def tasks_of(project: Project) -> list[Task]:
    return list(Task.objects.filter(project=project).order_by("id"))


# --- Shapes -------------------------------------------------------------------------------


def test_array_of_bare_and_wrapped_tasks(world: World, project: Project) -> None:
    body = [
        {"text": "bare"},
        {"data": {"text": "wrapped"}, "meta": {"source": "crm"}},
    ]
    response = post_json(world.admin.client, project, body, "return_task_ids=true")
    assert response.status_code == 201, response.json()
    answer = response.json()
    made = tasks_of(project)
    assert answer["task_ids"] == [t.pk for t in made]
    assert answer["task_count"] == 2
    assert answer["annotation_count"] == answer["prediction_count"] == 0
    assert answer["predictions_count"] == 0
    assert answer["data_columns"] == ["text"]
    assert answer["file_upload_ids"] == [] and answer["could_be_tasks_list"] is False
    assert isinstance(answer["duration"], float)
    assert [t.data for t in made] == [{"text": "bare"}, {"text": "wrapped"}]
    assert [t.meta for t in made] == [{}, {"source": "crm"}]
    assert all(t.overlap == 1 and not t.is_labeled for t in made)
    project.refresh_from_db()
    assert project.task_number == 2


def test_one_object_is_one_task_and_task_ids_only_on_request(
    world: World, project: Project
) -> None:
    response = post_json(world.admin.client, project, {"text": "only one"})
    assert response.status_code == 201
    assert "task_ids" not in response.json()
    assert "import" not in response.json()  # a finished import: nothing to poll
    assert [t.data for t in tasks_of(project)] == [{"text": "only one"}]


def test_both_spellings_of_the_path(world: World, project: Project) -> None:
    for path in (import_path(project), import_path(project) + "/"):
        response = world.admin.client.post(path, [{"text": "x"}], format="json")
        assert response.status_code == 201, path
    assert Task.objects.filter(project=project).count() == 2


def test_import_is_recorded_and_audited(world: World, project: Project) -> None:
    post_json(world.admin.client, project, [{"text": "a"}, {"text": "b"}])
    done = ProjectImport.objects.get(project=project)
    assert done.status == RunStatus.COMPLETED
    assert done.task_count == 2 and len(done.task_ids) == 2
    assert done.created_by == world.admin.user and done.finished_at is not None
    actions = list(
        AuditEvent.objects.filter(target_id=str(project.pk)).values_list("action", flat=True)
    )
    assert "tasks.create" in actions and "project.import" in actions
    event = AuditEvent.objects.get(action="project.import")
    assert event.actor == world.admin.user
    assert event.details["tasks"] == 2 and event.details["import_id"] == done.pk


def test_hostile_strings_are_stored_verbatim(world: World, project: Project) -> None:
    hostile = [
        "</script><script>alert(1)</script>",
        "../../../etc/passwd",
        "javascript:alert(document.cookie)",
        "<img src=x onerror=alert(1)>",
        "'; DROP TABLE tasks_task; --",
        "emoji 🙂 and \u202e right-to-left",
        "back\\slash and \\u0000 spelled out",
    ]
    response = post_json(world.admin.client, project, [{"text": h, "h": h} for h in hostile])
    assert response.status_code == 201
    stored = [t.data for t in tasks_of(project)]
    assert stored == [{"text": h, "h": h} for h in hostile]
    page = world.admin.client.get(f"/api/tasks/?project={project.pk}").json()
    assert [t["data"]["text"] for t in page["tasks"]] == hostile


def test_commit_to_project_false_creates_nothing(world: World, project: Project) -> None:
    response = post_json(
        world.admin.client, project, [{"text": "a"}, {"text": "b"}], "commit_to_project=false"
    )
    assert response.status_code == 201
    assert response.json()["task_count"] == 2
    assert not Task.objects.filter(project=project).exists()


def test_query_flags_must_be_booleans(world: World, project: Project) -> None:
    response = post_json(world.admin.client, project, [{"text": "a"}], "return_task_ids=maybe")
    assert response.status_code == 400
    assert not Task.objects.exists()


# --- Annotations, predictions, Label Studio exports ---------------------------------------


def test_annotations_and_predictions(world: World, project: Project) -> None:
    body = [
        {
            "data": {"text": "good"},
            "annotations": [
                {
                    "result": choice("Positive"),
                    "lead_time": 4.5,
                    "ground_truth": True,
                    "completed_by": world.member.user.pk,
                },
                {"result": [], "was_cancelled": True},
            ],
            "predictions": [{"result": choice("Negative"), "score": 0.25, "model_version": "v2"}],
        },
        {"data": {"text": "plain"}},
    ]
    response = post_json(world.admin.client, project, body)
    assert response.status_code == 201, response.json()
    assert response.json()["annotation_count"] == 2
    assert response.json()["prediction_count"] == response.json()["predictions_count"] == 1
    first, second = tasks_of(project)
    done, skipped = Annotation.objects.filter(task=first).order_by("id")
    assert done.result == choice("Positive") and done.ground_truth and done.lead_time == 4.5
    assert done.completed_by == world.member.user  # a member of the organization: kept
    assert skipped.was_cancelled and skipped.completed_by == world.admin.user
    prediction = Prediction.objects.get(task=first)
    assert (prediction.score, prediction.model_version) == (0.25, "v2")
    assert (first.total_annotations, first.cancelled_annotations, first.total_predictions) == (
        1,
        1,
        1,
    )
    assert first.is_labeled and not second.is_labeled
    project.refresh_from_db()
    assert project.total_annotations_number == 1
    assert project.num_tasks_with_annotations == 1
    assert project.total_predictions_number == 1
    listed = world.admin.client.get(f"/api/tasks/{first.pk}/").json()
    assert [a["result"] for a in listed["annotations"]] == [choice("Positive"), []]


LS_EXPORT: list[dict[str, Any]] = [
    {
        "id": 901,
        "annotations": [
            {
                "id": 77,
                "completed_by": 1234567,
                "result": [
                    {
                        "id": "r1",
                        "type": "choices",
                        "value": {"choices": ["Neutral"]},
                        "origin": "manual",
                        "to_name": "text",
                        "from_name": "sentiment",
                    }
                ],
                "was_cancelled": False,
                "ground_truth": False,
                "created_at": "2025-10-01T10:00:00.000000Z",
                "updated_at": "2025-10-01T10:00:05.000000Z",
                "draft_created_at": None,
                "lead_time": 5.2,
                "prediction": {},
                "result_count": 1,
                "unique_id": "0b9c4c4e-1111-2222-3333-444455556666",
                "import_id": None,
                "last_action": None,
                "bulk_created": False,
                "task": 901,
                "project": 12,
                "updated_by": 1234567,
                "parent_prediction": None,
                "parent_annotation": None,
                "last_created_by": None,
            }
        ],
        "file_upload": None,
        # Draft ids, or whole drafts from a snapshot: unfinished work, not imported.
        "drafts": [3, {"id": 4, "result": [], "user": "someone@elsewhere.example"}],
        "predictions": [6],
        "data": {"text": "Exported from Label Studio"},
        "meta": {},
        "created_at": "2025-10-01T09:00:00.000000Z",
        "updated_at": "2025-10-01T10:00:05.000000Z",
        "inner_id": 1,
        "total_annotations": 1,
        "cancelled_annotations": 0,
        "total_predictions": 1,
        "comment_count": 0,
        "unresolved_comment_count": 0,
        "last_comment_updated_at": None,
        "project": 12,
        "updated_by": 1234567,
        "comment_authors": [],
    }
]


def test_label_studio_export_reimports_intact(world: World, project: Project) -> None:
    response = post_json(world.admin.client, project, LS_EXPORT, "return_task_ids=true")
    assert response.status_code == 201, response.json()
    (task_id,) = response.json()["task_ids"]
    assert task_id != 901  # ids in the file are never reused
    task = Task.objects.get(pk=task_id)
    assert task.data == {"text": "Exported from Label Studio"}
    assert task.meta == {}
    annotation = Annotation.objects.get(task=task)
    assert annotation.result == LS_EXPORT[0]["annotations"][0]["result"]
    assert annotation.lead_time == 5.2
    # The exporting server's user 1234567 is nobody here: the importer becomes the author.
    assert annotation.completed_by == world.admin.user
    # Label Studio 1.23 exports prediction ids (`[6]`), which are not predictions.
    assert not Prediction.objects.filter(task=task).exists()
    assert task.total_predictions == 0 and task.total_annotations == 1
    assert not Draft.objects.filter(task=task).exists()


def test_completed_by_of_another_organization_is_not_kept(world: World, project: Project) -> None:
    body = [
        {
            "data": {"text": "x"},
            "annotations": [
                {"result": choice("Positive"), "completed_by": world.outsider.user.pk},
                {"result": choice("Negative"), "completed_by": {"email": "MEMBER@a.example"}},
                {"result": choice("Neutral"), "completed_by": "nobody"},
            ],
        }
    ]
    assert post_json(world.admin.client, project, body).status_code == 201
    authors = list(Annotation.objects.order_by("id").values_list("completed_by", flat=True))
    assert authors == [world.admin.user.pk, world.member.user.pk, world.admin.user.pk]


def test_preannotated_from_fields(world: World, project: Project) -> None:
    body = [{"text": "great", "sentiment": "Positive"}, {"text": "meh", "sentiment": ""}]
    response = post_json(world.admin.client, project, body, "preannotated_from_fields=sentiment")
    assert response.status_code == 201, response.json()
    assert response.json()["prediction_count"] == 1
    first, second = tasks_of(project)
    assert first.data == {"text": "great"}  # the field becomes the prediction
    prediction = Prediction.objects.get(task=first)
    assert prediction.result == [
        {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["Positive"]},
        }
    ]
    assert not Prediction.objects.filter(task=second).exists()


@pytest.mark.parametrize(
    ("query", "body", "message"),
    [
        ("preannotated_from_fields=nope", [{"text": "a", "nope": "x"}], "not a control"),
        ("preannotated_from_fields=sentiment", [{"text": "a", "sentiment": "Bad"}], "'Bad'"),
        ("preannotated_from_fields=sentiment", [{"text": "a"}], 'no "sentiment"'),
    ],
)
def test_preannotated_from_fields_refusals(
    world: World, project: Project, query: str, body: Any, message: str
) -> None:
    response = post_json(world.admin.client, project, body, query)
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not Task.objects.exists()


# --- Refusals: nothing is written ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([{"txt": "typo"}], 'the task data has no "text", which the labeling config reads ($text)'),
        ([{}], "the task data is empty"),
        (["just a string"], "each task must be a JSON object"),
        ([{"data": "text"}], '"data" must be an object'),
        ([{"data": {"text": "a"}, "annotations": {}}], '"annotations" must be a list'),
        ([{"data": {"text": "a"}, "meta": []}], '"meta" must be an object'),
        (
            [{"data": {"text": "a"}, "annotations": [{"result": choice("Maybe")}]}],
            "annotation 0: Result 0: label 'Maybe' is not an option of control 'sentiment'",
        ),
        (
            [{"data": {"text": "a"}, "annotations": [{"result": "Positive"}]}],
            "annotation 0: The result must be a list",
        ),
        (
            [{"data": {"text": "a"}, "annotations": [{"lead_time": "long"}]}],
            "lead_time a number",
        ),
        (
            [{"data": {"text": "a"}, "predictions": [{"result": choice("X"), "score": "hi"}]}],
            "prediction 0: score must be a number",
        ),
        ([{"text": "nul \u0000 inside"}], "NUL character"),
        ([{"text": "lone \ud800 surrogate"}], "not valid Unicode"),
        ([], "No tasks found"),
        ("text", "No tasks found"),
        (5, "No tasks found"),
    ],
)
def test_bad_items_are_refused_with_a_clear_message(
    world: World, project: Project, root: Path, body: Any, message: str
) -> None:
    response = post_json(world.admin.client, project, body)
    assert response.status_code == 400, response.json()
    answer = response.json()
    assert message in answer["detail"], answer
    assert answer["status_code"] == 400
    assert nothing_imported(project, root)


def test_one_bad_task_in_the_middle_refuses_all(world: World, project: Project, root: Path) -> None:
    body: list[Any] = [{"text": f"t{n}"} for n in range(3000)]
    body[1500] = {"data": {"text": "x"}, "annotations": [{"result": choice("Nope")}]}
    body[2100] = {"wrong": 1}
    response = post_json(world.admin.client, project, body)
    assert response.status_code == 400
    errors = response.json()["validation_errors"]["tasks"]
    assert errors[0].startswith("request body, task 1500: annotation 0")
    assert errors[1].startswith("request body, task 2100: the task data has no")
    assert nothing_imported(project, root)
    assert not ProjectImport.objects.exists()


def test_malformed_json_is_a_400(world: World, project: Project) -> None:
    response = world.admin.client.post(
        import_path(project), '[{"text": "a"', content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    nan = world.admin.client.post(
        import_path(project), '[{"text": NaN}]', content_type="application/json"
    )
    assert nan.status_code == 400
    assert not Task.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        *(
            '[{"text": "a", "meta": ' + '{"a": ' * depth + '"\\u0000"' + "}" * depth + "}]"
            for depth in (99, 300, 600, 900, 5000)
        ),
    ],
    ids=["array", "meta-101", "meta-302", "meta-602", "meta-902", "meta-5002"],
)
def test_json_nested_too_deeply_is_a_400(
    world: World, project: Project, root: Path, body: str
) -> None:
    response = world.admin.client.post(import_path(project), body, content_type="application/json")
    assert response.status_code == 400
    assert "nested more than 100 levels deep" in response.json()["detail"]
    assert nothing_imported(project, root)


def test_json_nested_a_hundred_deep_is_imported_and_reads_back(
    world: World, project: Project
) -> None:
    meta = '{"a": ' * 98 + "1" + "}" * 98  # the body's array and the task are two more
    body = '[{"data": {"text": "a"}, "meta": ' + meta + "}]"
    response = world.admin.client.post(
        import_path(project) + "?return_task_ids=true", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    (task_id,) = response.json()["task_ids"]
    assert world.admin.client.get(f"/api/tasks/{task_id}/").status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[{"data": {"text": "a"}, "annotations": [{"result": [], "lead_time": 1e400}]}]',
            "annotation 0: was_cancelled and ground_truth must be true or false, lead_time a",
        ),
        (
            '[{"data": {"text": "a"}, "predictions": [{"result": [], "score": -1e400}]}]',
            "prediction 0: score must be a number",
        ),
        (
            '[{"data": {"text": "a"}, "predictions": [{"result": [], "score": 1'
            + "0" * 400
            + "}]}]",
            "prediction 0: score must be a number",
        ),
        ('[{"text": "a", "n": 1e400}]', "holds a number too large to store"),
    ],
    ids=["lead_time", "score", "integer-score", "data"],
)
def test_numbers_json_cannot_hold_are_refused(
    world: World, project: Project, root: Path, body: str, message: str
) -> None:
    # Python reads 1e400 as infinity, which JSON answers cannot carry back out.
    response = world.admin.client.post(import_path(project), body, content_type="application/json")
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert nothing_imported(project, root)


def test_json_body_limit_names_the_setting(world: World, project: Project, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = [{"text": "x" * 100} for _ in range(40)]
    response = post_json(world.admin.client, project, body)
    assert response.status_code == 413
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE (2048 bytes)" in response.json()["detail"]
    assert not Task.objects.exists()


def test_task_count_limit(world: World, project: Project, settings: Any) -> None:
    settings.IMPORT_MAX_TASKS = 3
    response = post_json(world.admin.client, project, [{"text": str(n)} for n in range(4)])
    assert response.status_code == 400
    assert "IMPORT_MAX_TASKS (3)" in response.json()["detail"]
    assert post_json(world.admin.client, project, [{"text": "1"}] * 3).status_code == 201


def test_a_config_without_data_keys_takes_any_data(world: World) -> None:
    project = make_project(world, "<View></View>")
    response = post_json(world.admin.client, project, [{"anything": 1}, {"other": [1, 2]}])
    assert response.status_code == 201
    assert response.json()["data_columns"] == ["anything", "other"]


# --- Who may import -----------------------------------------------------------------------


def test_annotator_may_not_import(world: World, project: Project) -> None:
    response = post_json(world.member.client, project, [{"text": "a"}])
    assert response.status_code == 403
    assert not Task.objects.exists()


@pytest.mark.parametrize(
    ("role", "allowed"),
    [(Role.OWNER, True), (Role.MANAGER, True), (Role.REVIEWER, False)],
)
def test_import_follows_the_role_matrix(
    world: World, project: Project, role: Role, allowed: bool
) -> None:
    # docs/roles.md: tasks.import_export is owner, admin and manager; a reviewer on the
    # project still may not import, nor read its imports.
    actor = as_actor(make_user(f"new-{role}@a.example", org=world.org, role=role))
    projects.add_members(project, [actor.user], actor=world.admin.user, origin=TEST_ORIGIN)
    response = post_json(actor.client, project, [{"text": "a"}])
    assert response.status_code == (201 if allowed else 403)
    assert Task.objects.filter(project=project).exists() is allowed
    post_json(world.admin.client, project, [{"text": "b"}])
    latest = ProjectImport.objects.filter(project=project).latest("pk")
    status = actor.client.get(f"/api/projects/{project.pk}/imports/{latest.pk}/")
    assert status.status_code == (200 if allowed else 403)


def test_outsider_gets_404(world: World, project: Project) -> None:
    response = post_json(world.outsider.client, project, [{"text": "a"}])
    assert response.status_code == 404
    assert not Task.objects.exists()


def test_anonymous_gets_401(anon: Any, project: Project) -> None:
    response = post_json(anon, project, [{"text": "a"}])
    assert response.status_code == 401
    assert not Task.objects.exists()


def test_unknown_project_is_404(world: World) -> None:
    response = world.admin.client.post("/api/projects/999999/import", [], format="json")
    assert response.status_code == 404


def test_only_post(world: World, project: Project) -> None:
    assert world.admin.client.get(import_path(project)).status_code == 405
    assert world.admin.client.put(import_path(project), [], format="json").status_code == 405


def test_import_status_permissions(world: World, project: Project, anon: Any) -> None:
    post_json(world.admin.client, project, [{"text": "a"}])
    done = ProjectImport.objects.get()
    path = f"/api/projects/{project.pk}/imports/{done.pk}/"
    answer = world.admin.client.get(path)
    assert answer.status_code == 200
    assert answer.json()["status"] == "completed"
    assert world.admin.client.get(path.rstrip("/")).status_code == 200
    assert world.member.client.get(path).status_code == 403
    assert world.outsider.client.get(path).status_code == 404
    assert anon.get(path).status_code == 401
    other = make_project(world)
    assert world.admin.client.get(f"/api/projects/{other.pk}/imports/{done.pk}/").status_code == 404


def test_query_count_does_not_grow_with_the_import(world: World, project: Project) -> None:
    def count(size: int) -> int:
        body = [
            {
                "data": {"text": f"t{n}"},
                "annotations": [
                    {"result": choice("Positive"), "completed_by": world.member.user.pk}
                ],
                "predictions": [{"result": choice("Negative")}],
            }
            for n in range(size)
        ]
        with CaptureQueriesContext(connection) as queries:
            assert post_json(world.admin.client, project, body).status_code == 201
        return len(queries)

    count(1)  # the first call also records the key's last use
    assert count(1500) == count(5)
    assert Task.objects.filter(project=project).count() == 1506


def test_imported_annotations_are_ground_truth_unless_they_say_otherwise(
    world: World, project: Project
) -> None:
    body = [
        {"data": {"text": "left out"}, "annotations": [{"result": choice("Positive")}]},
        {
            "data": {"text": "said"},
            "annotations": [{"result": choice("Positive"), "ground_truth": False}],
        },
    ]
    answer = post_json(world.admin.client, project, body)
    assert answer.status_code == 201, answer.json()
    truth = dict(Annotation.objects.values_list("task__data__text", "ground_truth"))
    assert truth == {"left out": True, "said": False}

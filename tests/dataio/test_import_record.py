"""An import's record (`GET api/projects/{id}/imports/{import}`) keeps the request's options,
whether its files could be task lists and when it last changed, as Label Studio's does;
records made before those fields existed are filled in by the migration."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from labelkeep.dataio.models import ProjectImport
from labelkeep.jobs.services import execute
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Prediction
from tests.conftest import World
from tests.dataio.test_import_support import make_project, post_files, post_json, use_uploads_root

OPTIONS = ("commit_to_project", "return_task_ids", "preannotated_from_fields")


@pytest.fixture
def project(world: World) -> Project:
    return make_project(world)


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    settings.IMPORT_SYNC_MAX_TASKS = 10
    return use_uploads_root(settings, tmp_path)


def record(world: World, project: Project, pk: int) -> dict[str, Any]:
    response = world.admin.client.get(f"/api/projects/{project.pk}/imports/{pk}/")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def stored(pk: int) -> dict[str, Any]:
    found: dict[str, Any] = ProjectImport.objects.values(*OPTIONS, "could_be_tasks_list").get(pk=pk)
    return found


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_a_check_only_import_records_its_options(world: World, project: Project) -> None:
    body = [{"text": "great", "sentiment": "Positive"}, {"text": "meh", "sentiment": ""}]
    query = "commit_to_project=false&return_task_ids=true&preannotated_from_fields=sentiment"
    answer = post_json(world.admin.client, project, body, query)
    assert answer.status_code == 201, answer.json()
    assert not Prediction.objects.exists()
    done = ProjectImport.objects.get(project=project)
    shown = record(world, project, done.pk)
    expected = {
        "commit_to_project": False,
        "return_task_ids": True,
        "preannotated_from_fields": ["sentiment"],
        "could_be_tasks_list": answer.json()["could_be_tasks_list"],
    }
    assert stored(done.pk) == expected
    assert {name: shown[name] for name in expected} == expected
    assert shown["task_count"] == 0
    assert when(shown["created_at"]) <= when(shown["updated_at"])


def test_an_import_without_options_records_the_defaults(world: World, project: Project) -> None:
    assert post_json(world.admin.client, project, [{"text": "a"}]).status_code == 201
    shown = record(world, project, ProjectImport.objects.get(project=project).pk)
    assert [shown[name] for name in OPTIONS] == [True, False, []]
    assert shown["could_be_tasks_list"] is False


@pytest.mark.parametrize(
    ("name", "content", "lists"),
    [
        ("rows.csv", b"text\nfirst\nsecond\n", True),
        ("rows.txt", b"first\nsecond\n", True),
        ("tasks.json", b'[{"text": "first"}]', False),
    ],
    ids=["csv", "txt", "json"],
)
def test_a_file_import_records_what_its_answer_said(
    world: World, project: Project, root: Path, name: str, content: bytes, lists: bool
) -> None:
    answer = post_files(world.admin.client, project, {name: content})
    assert answer.status_code == 201, answer.json()
    assert answer.json()["could_be_tasks_list"] is lists
    done = ProjectImport.objects.get(project=project)
    assert stored(done.pk)["could_be_tasks_list"] is lists
    assert record(world, project, done.pk)["could_be_tasks_list"] is lists


def test_a_queued_import_records_its_options_before_and_after_its_job(
    world: World, project: Project, root: Path
) -> None:
    body = [{"text": f"review {n}", "sentiment": "Positive"} for n in range(11)]
    query = "return_task_ids=true&preannotated_from_fields=sentiment"
    queued = post_json(world.admin.client, project, body, query).json()
    assert set(queued) == {"import", "job", "status", "file_upload_ids"}
    expected = {
        "commit_to_project": True,
        "return_task_ids": True,
        "preannotated_from_fields": ["sentiment"],
        "could_be_tasks_list": False,  # a request body, though the job reads it from a file
    }
    before = record(world, project, queued["import"])
    assert before["status"] == "created"
    assert {name: before[name] for name in expected} == expected
    assert stored(queued["import"]) == expected

    execute(queued["job"])
    after = record(world, project, queued["import"])
    assert after["status"] == "completed" and after["prediction_count"] == 11
    assert {name: after[name] for name in expected} == expected
    assert when(after["updated_at"]) > when(before["updated_at"])
    assert when(after["updated_at"]) >= when(after["finished_at"])


def test_a_queued_task_file_could_be_a_list_before_its_job_runs(
    world: World, project: Project, root: Path
) -> None:
    rows = b"text\n" + b"".join(b"row %d\n" % n for n in range(11))
    queued = post_files(world.admin.client, project, {"rows.csv": rows}).json()
    assert "import" in queued
    assert record(world, project, queued["import"])["could_be_tasks_list"] is True
    execute(queued["job"])
    after = record(world, project, queued["import"])
    assert after["status"] == "completed" and after["could_be_tasks_list"] is True


@pytest.mark.django_db(transaction=True)
def test_migration_fills_in_records_made_before() -> None:
    executor = MigrationExecutor(connection)
    after = executor.loader.graph.leaf_nodes()
    # Only dataio goes back; the other apps keep their tables, so their models match them.
    before = [
        ("dataio", "0002_projectimport_written") if app == "dataio" else (app, name)
        for app, name in after
    ]
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        organization = old.get_model("accounts", "Organization").objects.create(title="Old")
        project = old.get_model("projects", "Project").objects.create(
            organization_id=organization.pk, title="old imports"
        )
        job = old.get_model("jobs", "Job").objects.create(
            kind="dataio.import",
            payload={"commit": False, "preannotated_from_fields": ["sentiment"]},
        )
        made = old.get_model("dataio", "ProjectImport").objects
        queued = made.create(project_id=project.pk, job_id=job.pk)
        finished_at = timezone.now() - timedelta(days=3)
        from_csv = made.create(
            project_id=project.pk,
            status="completed",
            found_formats={".csv": 1, ".png": 2},
            finished_at=finished_at,
        )
        from_body = made.create(project_id=project.pk, status="completed", finished_at=finished_at)

        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps.get_model("dataio", "ProjectImport")
        columns = (*OPTIONS, "could_be_tasks_list")
        filled = {row["id"]: row for row in new.objects.values("id", "updated_at", *columns)}
        assert {pk: [row[c] for c in columns] for pk, row in filled.items()} == {
            queued.pk: [False, False, ["sentiment"], False],
            from_csv.pk: [True, False, [], True],
            from_body.pk: [True, False, [], False],
        }
        assert filled[queued.pk]["updated_at"] == queued.created_at
        assert filled[from_csv.pk]["updated_at"] == finished_at
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

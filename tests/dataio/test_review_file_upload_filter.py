"""Regression tests from the review of task `file_upload`: each docstring tells the fault
it caught, since fixed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from labelkeep.dataio.models import FileUpload
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Task, TaskLock
from tests.conftest import World
from tests.dataio.test_import_support import post_files, post_json
from tests.dataio.test_task_file_upload import csv, imported, project, root, upload_filter

__all__ = ["imported", "project", "root"]  # fixtures, used by name


def page(world: World, project: Project, query: str) -> dict[str, Any]:
    response = world.admin.client.get(f"/api/tasks/?project={project.pk}&page_size=100{query}")
    assert response.status_code == 200, response.json()
    answer: dict[str, Any] = response.json()
    return answer


def test_file_filter_total_follows_an_upload_deletion(
    world: World, project: Project, imported: dict[str, int]
) -> None:
    """Deleting an upload's record unlinks its tasks (SET NULL) but does not move the
    project's tasks_version (labelkeep/dataio/upload_records.py, delete_uploads), so a
    filtered list's remembered `total` (labelkeep/tasks/anchors.py) stays as it was."""
    by_file = upload_filter("equal", "reviews.csv")
    no_file = upload_filter("empty", True)
    assert page(world, project, by_file)["total"] == 2
    assert page(world, project, no_file)["total"] == 1
    reviews = FileUpload.objects.get(project=project, original_name="reviews.csv")
    response = world.admin.client.delete(
        f"/api/projects/{project.pk}/file-uploads",
        data=json.dumps({"file_upload_ids": [reviews.pk]}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    after = page(world, project, by_file)
    assert after["tasks"] == []
    assert after["total"] == 0  # fails: 2, remembered from before the deletion
    emptied = page(world, project, no_file)
    assert len(emptied["tasks"]) == 3
    assert emptied["total"] == 3  # fails: 1


def test_next_task_reads_a_files_name_in_one_query(
    world: World, project: Project, root: Path
) -> None:
    """The label stream's task is loaded without the upload's name (a join in the stream's
    tuned selects would cost every request), so task_fields_json reads it in one query of
    its own, for tasks that came from a file only."""

    def queries() -> int:
        path = f"/api/projects/{project.pk}/next"
        assert world.member.client.get(path).status_code == 200  # the key's last use noted
        with CaptureQueriesContext(connection) as captured:
            assert world.member.client.get(path).status_code == 200
        return len(captured)

    assert post_json(world.admin.client, project, [{"text": "b1"}]).status_code == 201
    from_body = queries()
    TaskLock.objects.all().delete()
    Task.objects.all().delete()
    assert post_files(world.admin.client, project, {"a.csv": csv("f1")}).status_code == 201
    assert queries() == from_body + 1

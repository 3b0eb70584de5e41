"""Tasks remember the file they were imported from (Label Studio's task `file_upload`):
shown by the task endpoints and the JSON export, filtered and ordered by in the task list,
and unlinked, never deleted, when the upload's record goes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labelkeep.dataio import jobs
from labelkeep.dataio.models import FileUpload
from labelkeep.jobs.services import execute
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Task
from tests.conftest import World
from tests.dataio.test_export_support import exported_json
from tests.dataio.test_import_support import (
    make_project,
    post_files,
    post_json,
    stored_files,
    use_uploads_root,
)
from tests.dataio.test_import_url import Server, remote, run, url

__all__ = ["remote"]  # the fixture, used by name below


@pytest.fixture
def project(world: World) -> Project:
    return make_project(world)


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    settings.SSRF_PROTECTION_ENABLED = True
    settings.SSRF_ALLOWLIST = ["127.0.0.1"]
    return use_uploads_root(settings, tmp_path)


def csv(*rows: str) -> bytes:
    return ("text\n" + "".join(f"{row}\n" for row in rows)).encode()


def listing(world: World, project: Project, query: str = "") -> list[dict[str, Any]]:
    response = world.admin.client.get(f"/api/tasks/?project={project.pk}&page_size=100{query}")
    assert response.status_code == 200, response.json()
    tasks: list[dict[str, Any]] = response.json()["tasks"]
    return tasks


def names(world: World, project: Project) -> dict[str, str | None]:
    """Each task's text → the name of the file it came from, as the task list shows it."""
    return {t["data"]["text"]: t["file_upload"] for t in listing(world, project)}


def dm_query(**given: Any) -> str:
    return "&query=" + json.dumps(given)


def upload_filter(operator: str, value: Any) -> str:
    item = {"filter": "filter:tasks:file_upload", "operator": operator, "type": "String"}
    return dm_query(filters={"conjunction": "and", "items": [{**item, "value": value}]})


@pytest.fixture
def imported(world: World, project: Project, root: Path) -> dict[str, int]:
    """Tasks from two CSV files in one request, one from a JSON body."""
    files = {"reviews.csv": csv("r1", "r2"), "mail.csv": csv("m1")}
    assert post_files(world.admin.client, project, files).status_code == 201
    assert post_json(world.admin.client, project, [{"text": "b1"}]).status_code == 201
    return {t.data["text"]: t.pk for t in Task.objects.filter(project=project)}


def test_each_task_names_its_file_wherever_it_is_shown(
    world: World, project: Project, imported: dict[str, int]
) -> None:
    expected = {"r1": "reviews.csv", "r2": "reviews.csv", "m1": "mail.csv", "b1": None}
    assert names(world, project) == expected
    for text, pk in imported.items():
        detail = world.admin.client.get(f"/api/tasks/{pk}/")
        assert detail.status_code == 200 and detail.json()["file_upload"] == expected[text]
    exported = exported_json(world.admin.client, project, "?download_all_tasks=true")
    assert {t["data"]["text"]: t["file_upload"] for t in exported} == expected
    only = listing(world, project, "&include=id,file_upload")
    assert {tuple(sorted(t)) for t in only} == {("file_upload", "id")}
    # An annotator's next task carries it too.
    nexted = world.member.client.get(f"/api/projects/{project.pk}/next")
    assert nexted.status_code == 200
    assert nexted.json()["file_upload"] == expected[nexted.json()["data"]["text"]]


def test_the_task_list_filters_and_orders_by_file(
    world: World, project: Project, imported: dict[str, int]
) -> None:
    def texts(query: str) -> list[str]:
        return [t["data"]["text"] for t in listing(world, project, query)]

    assert texts(upload_filter("equal", "reviews.csv")) == ["r1", "r2"]
    assert texts(upload_filter("contains", "MAIL")) == ["m1"]  # as Label Studio: any case
    assert texts(upload_filter("not_equal", "reviews.csv")) == ["m1", "b1"]
    assert texts(upload_filter("starts_with", "rev")) == ["r1", "r2"]
    assert texts(upload_filter("ends_with", ".csv")) == ["r1", "r2", "m1"]
    assert texts(upload_filter("empty", True)) == ["b1"]
    assert texts(upload_filter("empty", False)) == ["r1", "r2", "m1"]
    assert texts(dm_query(ordering=["tasks:file_upload"])) == ["m1", "r1", "r2", "b1"]
    assert texts(dm_query(ordering=["-tasks:file_upload"])) == ["r2", "r1", "m1", "b1"]


@pytest.mark.parametrize(
    ("operator", "value", "kind"),
    [
        ("greater", "a", "String"),
        ("equal", 5, "String"),
        ("equal", "x" * 1001, "String"),
        ("empty", "yes", "String"),
        ("equal", "reviews.csv", "Number"),
        ("contains", "a\x00b", "String"),
    ],
)
def test_bad_file_filters_are_refused(
    world: World, project: Project, operator: str, value: Any, kind: str
) -> None:
    item = {"filter": "filter:tasks:file_upload", "operator": operator, "type": kind}
    query = dm_query(filters={"conjunction": "and", "items": [{**item, "value": value}]})
    response = world.admin.client.get(f"/api/tasks/?project={project.pk}{query}")
    assert response.status_code == 400
    assert "file_upload" in json.dumps(response.json())


def test_deleting_the_upload_record_unlinks_its_tasks(
    world: World, project: Project, imported: dict[str, int]
) -> None:
    reviews = FileUpload.objects.get(project=project, original_name="reviews.csv")
    response = world.admin.client.delete(
        f"/api/projects/{project.pk}/file-uploads",
        data=json.dumps({"file_upload_ids": [reviews.pk]}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    assert names(world, project) == {"r1": None, "r2": None, "m1": "mail.csv", "b1": None}
    assert Task.objects.filter(project=project).count() == 4


def test_queued_imports_link_files_but_not_a_staged_body(
    world: World, project: Project, root: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.IMPORT_SYNC_MAX_TASKS = 3
    monkeypatch.setattr(jobs, "CHUNK", 2)
    from_file = post_files(world.admin.client, project, {"many.csv": csv("f1", "f2", "f3", "f4")})
    body = [{"text": f"b{n}"} for n in range(4)]
    from_body = post_json(world.admin.client, project, body)
    for response in (from_file, from_body):
        assert response.status_code == 201 and "import" in response.json()
        execute(response.json()["job"])
    shown = names(world, project)
    assert {shown[f"f{n}"] for n in range(1, 5)} == {"many.csv"}
    assert {shown[f"b{n}"] for n in range(4)} == {None}  # the staged body is gone
    assert len(stored_files(root)) == 1
    assert Task.objects.filter(project=project, file_upload__isnull=False).count() == 4


def test_a_url_import_links_the_fetched_file(
    world: World, project: Project, root: Path, remote: Server
) -> None:
    done = run(
        world, project, post_json(world.admin.client, project, {"url": url(remote, "/tasks.json")})
    )
    assert done["status"] == "completed", done
    assert set(names(world, project).values()) == {"tasks.json"}


def test_tasks_made_through_the_api_have_no_file(world: World, project: Project) -> None:
    response = world.admin.client.post(
        "/api/tasks/",
        data=json.dumps({"project": project.pk, "data": {"text": "by hand"}}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["file_upload"] is None


def test_an_outsider_sees_no_file_names(world: World, project: Project, imported: Any) -> None:
    query = upload_filter("contains", "csv")
    response = world.outsider.client.get(f"/api/tasks/?project={project.pk}{query}")
    assert response.status_code == 404

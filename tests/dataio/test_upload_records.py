"""A project's uploaded files as records (`api/projects/{id}/file-uploads`,
`api/import/file-upload/{id}`): listed, read and deleted, never from under a task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labelkeep.accounts.roles import Role
from labelkeep.audit.models import AuditEvent
from labelkeep.dataio import upload_records
from labelkeep.dataio.models import FileUpload, ProjectImport, RunStatus
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Task
from tests.conftest import World, as_actor, make_user
from tests.dataio.test_import_support import make_project, post_files, use_uploads_root
from tests.sdk.conftest import SdkFactory, sdk, wire

__all__ = ["sdk", "wire"]  # fixtures

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
TASKS_CSV = b"image\nhttps://example.com/a.png\n"


@pytest.fixture
def project(world: World) -> Project:
    return make_project(world, '<View><Image name="image" value="$image"/></View>')


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    return use_uploads_root(settings, tmp_path)


def uploaded(world: World, project: Project, files: dict[str, bytes]) -> list[int]:
    response = post_files(world.admin.client, project, files)
    assert response.status_code == 201, response.content
    ids: list[int] = response.json()["file_upload_ids"]
    return ids


def listed(world: World, project: Project, query: str = "") -> list[dict[str, Any]]:
    response: Any = world.admin.client.get(f"/api/projects/{project.pk}/file-uploads?{query}")
    assert response.status_code == 200, response
    content = b"".join(response.streaming_content) if response.streaming else response.content
    body: list[dict[str, Any]] = json.loads(content)
    return body


def test_listing_asks_for_ids_or_all(world: World, project: Project, root: Path) -> None:
    image, table = uploaded(world, project, {"cat.png": PNG, "tasks.csv": TASKS_CSV})
    assert listed(world, project) == []  # as Label Studio: only what was asked for
    every = listed(world, project, "all=true")
    assert [u["id"] for u in every] == [image, table]
    first = every[0]
    assert first["original_name"] == "cat.png" and first["size"] == len(PNG)
    assert first["file"].startswith(f"/data/upload/{project.pk}/")
    assert first["created_by"] == world.admin.user.pk
    for query in (f"ids={table}", f"ids=[{table}]", f"ids={table}&ids=999999"):
        assert [u["id"] for u in listed(world, project, query)] == [table], query
    for bad in ("ids=abc", "ids=[1,", "ids=-1", "ids=" + ",".join(["1"] * 1001)):
        response = world.admin.client.get(f"/api/projects/{project.pk}/file-uploads?{bad}")
        assert response.status_code == 400, bad


def test_a_file_a_task_shows_is_kept(
    world: World, project: Project, root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    image, table = uploaded(world, project, {"cat.png": PNG, "tasks.csv": TASKS_CSV})
    one = world.admin.client.delete(f"/api/import/file-upload/{image}")
    assert one.status_code == 400
    assert "cat.png" in str(one.json()) and "delete those tasks first" in str(one.json())
    every = world.admin.client.delete(f"/api/projects/{project.pk}/file-uploads", {}, format="json")
    assert every.status_code == 400
    assert FileUpload.objects.filter(pk__in=[image, table]).count() == 2  # all or none
    # The table's rows are imported: the file itself is no longer needed.
    chosen = {"file_upload_ids": [table]}
    gone = world.admin.client.delete(
        f"/api/projects/{project.pk}/file-uploads", chosen, format="json"
    )
    assert gone.status_code == 200 and gone.json() == {"deleted": 1}
    event = AuditEvent.objects.get(action="uploads.delete")
    assert event.details == {"count": 1, "ids": [table]}
    # Once no task shows the image, it goes too, file and all.
    stored = root / FileUpload.objects.get(pk=image).path
    Task.objects.filter(project=project).delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert world.admin.client.delete(f"/api/import/file-upload/{image}").status_code == 204
    assert not FileUpload.objects.exists()
    assert not stored.exists()


def test_a_full_url_to_the_file_counts_as_showing_it(
    world: World, project: Project, root: Path
) -> None:
    (image,) = uploaded(world, project, {"cat.png": PNG})
    path = FileUpload.objects.get(pk=image).path
    Task.objects.filter(project=project).update(
        data={"image": f"https://labels.example/data/upload/{path}?download=1"}
    )
    assert world.admin.client.delete(f"/api/import/file-upload/{image}").status_code == 400
    Task.objects.filter(project=project).update(data={"image": "https://elsewhere/cat.png"})
    assert world.admin.client.delete(f"/api/import/file-upload/{image}").status_code == 204


def test_files_of_an_unfinished_import_are_kept(world: World, project: Project, root: Path) -> None:
    (table,) = uploaded(world, project, {"tasks.csv": TASKS_CSV})
    ProjectImport.objects.create(
        project=project, status=RunStatus.IN_PROGRESS, file_upload_ids=[table]
    )
    refused = world.admin.client.delete(f"/api/import/file-upload/{table}")
    assert refused.status_code == 400 and "has not finished" in str(refused.json())
    ProjectImport.objects.update(status=RunStatus.COMPLETED)
    assert world.admin.client.delete(f"/api/import/file-upload/{table}").status_code == 204


def test_who_may_see_and_delete_upload_records(
    world: World, project: Project, root: Path, anon: Any
) -> None:
    (table,) = uploaded(world, project, {"tasks.csv": TASKS_CSV})
    record = f"/api/import/file-upload/{table}"
    project_path = f"/api/projects/{project.pk}/file-uploads"
    assert world.admin.client.get(record).json()["id"] == table
    # Annotators and reviewers do not import: 403, even on the project.
    reviewer = as_actor(make_user("reviewer@a.example", org=world.org, role=Role.REVIEWER))
    for actor in (world.member, reviewer):
        assert actor.client.get(record).status_code == 403
        assert actor.client.get(f"{project_path}?all=true").status_code == 403
        assert actor.client.delete(record).status_code == 403
    for path in (record, f"{project_path}?all=true"):
        assert world.outsider.client.get(path).status_code == 404
        assert anon.get(path).status_code == 401
    assert world.outsider.client.delete(record).status_code == 404
    other = make_project(world)
    elsewhere = world.admin.client.delete(
        f"/api/projects/{other.pk}/file-uploads", {"file_upload_ids": [table]}, format="json"
    )
    assert elsewhere.json() == {"deleted": 0}  # another project's upload is not chosen
    for bad in ([table], {"file_upload_ids": "all"}, {"file_upload_ids": [0]}):
        assert world.admin.client.delete(project_path, bad, format="json").status_code == 400
    assert FileUpload.objects.filter(pk=table).exists()
    assert world.admin.client.get("/api/import/file-upload/99999999999999999999").status_code == 404


def test_scanning_reads_the_tasks_in_chunks(
    world: World, project: Project, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload_records, "SCAN_CHUNK", 2)
    image, other = uploaded(world, project, {"cat.png": PNG, "dog.png": PNG})
    first = FileUpload.objects.get(pk=image).path
    Task.objects.filter(project=project).delete()
    made = Task.objects.bulk_create(
        Task(project=project, inner_id=n, data={"image": f"/data/upload/{first}"} if n == 5 else {})
        for n in range(1, 8)
    )
    assert len(made) == 7
    assert world.admin.client.delete(f"/api/import/file-upload/{image}").status_code == 400
    assert world.admin.client.delete(f"/api/import/file-upload/{other}").status_code == 204


def test_the_sdk_lists_and_deletes_files(
    world: World, project: Project, root: Path, sdk: SdkFactory
) -> None:
    (table,) = uploaded(world, project, {"tasks.csv": TASKS_CSV})
    client = sdk(world.admin.key)
    assert [f.id for f in client.files.list(id=project.pk, all_=True)] == [table]
    assert [f.id for f in client.files.list(id=project.pk, ids=[str(table)])] == [table]
    assert client.files.get(id=table).file.startswith("/data/upload/")
    client.files.delete(id=table)
    assert client.files.list(id=project.pk, all_=True) == []

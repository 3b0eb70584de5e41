"""Defects found in review of the upload records (`ls.files`): each test failed before
its fix."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connections, transaction

from labelkeep.audit.models import AuditEvent
from labelkeep.dataio.models import FileUpload
from labelkeep.projects.models import Project
from labelkeep.tasks import services
from labelkeep.tasks.models import Task
from tests.conftest import TEST_ORIGIN, World, as_actor
from tests.dataio.test_import_support import make_project
from tests.dataio.test_upload_records import PNG, TASKS_CSV, project, root, uploaded

__all__ = ["project", "root"]  # fixtures


def _path_of(upload_id: int) -> str:
    path: str = FileUpload.objects.get(pk=upload_id).path
    return path


def _encoded(text: str) -> str:
    """Every character percent-encoded, as some clients write URLs."""
    return "".join(f"%{ord(c):02X}" for c in text)


@pytest.mark.parametrize(
    ("served", "stored"),
    [
        # The name percent-encoded: the server decodes the path before routing it.
        (
            lambda pid, name: f"/data/upload/{pid}/{_encoded(name)}",
            lambda pid, name: f"/data/upload/{pid}/{_encoded(name)}",
        ),
        # Every slash encoded, in a full URL.
        (
            lambda pid, name: f"/data%2Fupload%2F{pid}%2F{name}",
            lambda pid, name: f"https://labels.example/data%2Fupload%2F{pid}%2F{name}?x=1",
        ),
    ],
)
def test_a_percent_encoded_reference_counts_as_showing_the_file(
    world: World, project: Project, root: Path, served: Any, stored: Any
) -> None:
    (image,) = uploaded(world, project, {"cat.png": PNG})
    pid, name = _path_of(image).split("/")
    # The browser asks for the task's URL as written; the server answers with the file.
    shown: Any = world.admin.client.get(served(pid, name))
    assert shown.status_code == 200
    assert b"".join(shown.streaming_content) == PNG
    Task.objects.filter(project=project).update(data={"image": stored(pid, name)})
    refused = world.admin.client.delete(f"/api/import/file-upload/{image}")
    assert refused.status_code == 400, refused.content
    assert "cat.png" in str(refused.json())
    assert (root / _path_of(image)).exists()


def test_a_task_of_another_project_that_shows_the_file_keeps_it(
    world: World, project: Project, root: Path
) -> None:
    """Tasks copied to another project of the organization (exported, then imported)
    keep naming the first project's uploads, and show them to anyone who sees both."""
    (image,) = uploaded(world, project, {"cat.png": PNG})
    url = f"/data/upload/{_path_of(image)}"
    Task.objects.filter(project=project).delete()
    copy = make_project(world, '<View><Image name="image" value="$image"/></View>')
    services.create_tasks(
        copy, [services.NewTask({"image": url})], actor=world.admin.user, origin=TEST_ORIGIN
    )
    assert world.admin.client.get(url).status_code == 200
    refused = world.admin.client.delete(f"/api/import/file-upload/{image}")
    assert refused.status_code == 400, refused.content
    assert FileUpload.objects.filter(pk=image).exists()
    # Another organization's tasks never show it: they do not hold it back.
    outsider_project = Project.objects.create(
        organization=world.outsider.org, title="Theirs", created_by=world.outsider.user
    )
    Task.objects.filter(project=copy).update(project=outsider_project)
    assert world.admin.client.delete(f"/api/import/file-upload/{image}").status_code == 204


def test_deleting_more_uploads_than_a_statement_binds(
    world: World, project: Project, root: Path
) -> None:
    """A project's uploads all deleted at once (its tasks deleted first): more of them
    than one statement may bind as parameters (32,766 on SQLite, 65,535 on PostgreSQL)."""
    Task.objects.filter(project=project).delete()
    count = 66_000
    FileUpload.objects.bulk_create(
        (
            FileUpload(
                project=project,
                path=f"{project.pk}/{n:032x}.png",
                original_name=f"{n}.png",
                content_type="image/png",
                size=1,
            )
            for n in range(count)
        ),
        batch_size=5000,
    )
    gone = world.admin.client.delete(f"/api/projects/{project.pk}/file-uploads", {}, format="json")
    assert gone.status_code == 200, gone.content
    assert gone.json() == {"deleted": count}
    assert not FileUpload.objects.filter(project=project).exists()


def _threads(*work: Any) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(job: Any) -> None:
        try:
            job()
        except BaseException as exc:  # surfaced by the caller
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.django_db(transaction=True)
def test_a_task_written_while_the_delete_checks_keeps_its_file(
    world: World, project: Project, root: Path
) -> None:
    """An import that names an upload commits while the deletion reads the tasks: on
    PostgreSQL the deletion read the tasks as they were and deleted the file the new
    task shows."""
    (image,) = uploaded(world, project, {"cat.png": PNG})
    url = f"/data/upload/{_path_of(image)}"
    Task.objects.filter(project=project).delete()
    writing, go = threading.Event(), threading.Event()
    answers: list[int] = []

    def import_task() -> None:
        try:
            with transaction.atomic():  # held open until the deletion has begun
                services.create_tasks(
                    project,
                    [services.NewTask({"image": url})],
                    actor=world.admin.user,
                    origin=TEST_ORIGIN,
                )
                writing.set()
                go.wait(10)
        finally:
            writing.set()

    def delete_upload() -> None:
        writing.wait(10)
        client = as_actor(world.admin.user).client
        answers.append(client.delete(f"/api/import/file-upload/{image}").status_code)

    def release() -> None:
        writing.wait(10)
        time.sleep(0.5)  # the deletion has read the tasks, or waits (SQLite, or locked)
        go.set()

    assert not _threads(import_task, delete_upload, release)
    assert answers == [400]
    assert FileUpload.objects.filter(pk=image).exists()
    assert Task.objects.filter(project=project, data__image=url).exists()


@pytest.mark.django_db(transaction=True)
def test_the_same_upload_deleted_twice_at_once_is_deleted_once(
    world: World, project: Project, root: Path
) -> None:
    (table,) = uploaded(world, project, {"tasks.csv": TASKS_CSV})
    start = threading.Barrier(2)
    answers: list[int] = []
    clients = [world.admin.client, world.owner.client]

    def delete(n: int) -> Any:
        def run() -> None:
            start.wait()
            answers.append(clients[n].delete(f"/api/import/file-upload/{table}").status_code)

        return run

    assert not _threads(delete(0), delete(1))
    assert sorted(answers) == [204, 404]
    assert AuditEvent.objects.filter(action="uploads.delete").count() == 1

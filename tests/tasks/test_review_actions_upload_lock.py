"""Regression test from the review of deleting uploads (labelkeep/dataio/upload_records.py):
the docstring tells the fault it caught, since fixed."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connections

from labelkeep.dataio import upload_records
from labelkeep.dataio.models import FileUpload
from labelkeep.projects.models import Project
from labelkeep.tasks import services
from labelkeep.tasks.models import Task
from tests.conftest import TEST_ORIGIN, World
from tests.tasks.conftest import choice


@pytest.mark.django_db(transaction=True)
def test_deleting_an_upload_while_its_task_is_annotated_is_not_deadlocked(
    world: World, project: Project, task_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """delete_uploads locks the project's row first (select_for_update), checks every
    task of the organization (_refuse_if_kept: a scan that grows with the organization),
    then deletes the uploads, whose SET_NULL updates the tasks imported from them. Saving
    an annotation locks its task first, then the project's row: on a task of the upload,
    each waits for the other and PostgreSQL aborts one ("deadlock detected")."""
    upload = FileUpload.objects.create(
        project=project,
        path="t/tasks.json",
        original_name="tasks.json",
        content_type="application/json",
        size=2,
    )
    Task.objects.filter(pk=task_ids[0]).update(file_upload=upload)
    checking, go = threading.Event(), threading.Event()
    real = upload_records._refuse_if_kept

    def slow_check(*args: Any, **kwargs: Any) -> None:
        checking.set()  # the project's row is locked by now
        go.wait(20)
        real(*args, **kwargs)

    monkeypatch.setattr(upload_records, "_refuse_if_kept", slow_check)
    task = Task.objects.select_related("project").get(pk=task_ids[0])
    errors: list[BaseException] = []

    def delete() -> None:
        chosen = FileUpload.objects.filter(pk=upload.pk)
        upload_records.delete_uploads(project, chosen, actor=world.admin.user, origin=TEST_ORIGIN)

    def annotate() -> None:
        checking.wait(20)
        services.create_annotation(
            task,
            {"result": choice("Positive")},
            actor=world.member.user,
            completed_by=world.member.user,
            origin=TEST_ORIGIN,
        )

    def run(work: Any) -> None:
        try:
            work()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(w,)) for w in (delete, annotate)]
    for thread in threads:
        thread.start()
    checking.wait(20)
    time.sleep(1.0)  # the annotation now waits for the project's row
    go.set()
    for thread in threads:
        thread.join(60)
    assert not errors, errors  # fails on PostgreSQL: "deadlock detected"
    assert not FileUpload.objects.filter(pk=upload.pk).exists()

"""A stored config that no longer parses at all (edited outside the API, or stored under
rules since tightened) gives clear 400s naming the problem, never a 500; the project can
still be read, and a valid config sent in repairs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labelkeep.jobs.worker import run_batch
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Prediction, Task
from tests.conftest import World
from tests.dataio.test_export_support import add_tasks, make_project
from tests.dataio.test_import_support import import_path
from tests.tasks.conftest import CONFIG, choice

BROKEN = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="gone">'
    '<Choice value="positive"/></Choices></View>'
)


@pytest.fixture
def broken(world: World) -> Project:
    project = make_project(world, CONFIG)
    add_tasks(project, world, [{"text": "one"}, {"text": "two"}])
    Project.objects.filter(pk=project.pk).update(label_config=BROKEN)
    project.refresh_from_db()
    return project


def probe(world: World, project: Project) -> dict[str, Any]:
    task = Task.objects.filter(project=project).order_by("id").first()
    assert task is not None
    client = world.admin.client
    return {
        "get": client.get(f"/api/projects/{project.pk}/"),
        "next": client.get(f"/api/projects/{project.pk}/next"),
        "formats": client.get(f"/api/projects/{project.pk}/export/formats"),
        "export": client.get(f"/api/projects/{project.pk}/export?export_type=JSON"),
        "task": client.post(
            "/api/tasks/", {"project": project.pk, "data": {"text": "x"}}, format="json"
        ),
        "annotation": client.post(
            f"/api/tasks/{task.pk}/annotations/", {"result": choice("Positive")}, format="json"
        ),
        "prediction": client.post(
            "/api/predictions/", {"task": task.pk, "result": choice("Positive")}, format="json"
        ),
        "import": client.post(import_path(project), [{"text": "three"}], format="json"),
        "snapshot": client.post(
            f"/api/projects/{project.pk}/exports/", {"title": "s"}, format="json"
        ),
    }


FIRST = "The project's labeling config is not valid; save a valid one first."
PROBLEM = 'toName "gone" is not an object tag'


def test_work_that_reads_the_config_is_refused_clearly(world: World, broken: Project) -> None:
    answers = probe(world, broken)
    assert answers["get"].status_code == 200
    assert answers["next"].status_code == 200  # giving a task needs no config
    refused = [name for name, response in answers.items() if response.status_code == 400]
    assert refused == ["formats", "export", "task", "annotation", "prediction", "import"]
    for name in refused:
        messages = answers[name].json()["validation_errors"]["label_config"]
        assert messages[0] == FIRST
        assert PROBLEM in messages[1], name
    assert Task.objects.filter(project=broken).count() == 2  # nothing was added
    assert not Annotation.objects.filter(task__project=broken).exists()
    assert not Prediction.objects.filter(task__project=broken).exists()


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_fails_with_the_reason(
    world: World, broken: Project, tmp_path: Path, settings: Any
) -> None:
    settings.EXPORTS_ROOT = tmp_path / "exports"
    snapshot = probe(world, broken)["snapshot"]
    assert snapshot.status_code == 201
    run_batch()
    url = f"/api/projects/{broken.pk}/exports/{snapshot.json()['id']}"
    done = world.admin.client.get(url).json()
    assert done["status"] == "failed"
    assert FIRST in done["error"]  # not an "internal error"
    assert PROBLEM in done["error"]


def test_a_valid_config_repairs_the_project(world: World, broken: Project) -> None:
    url = f"/api/projects/{broken.pk}/"
    validated = world.admin.client.post(f"{url}validate/", {"label_config": CONFIG}, format="json")
    assert validated.status_code == 200, validated.content
    patched = world.admin.client.patch(url, {"label_config": CONFIG}, format="json")
    assert patched.status_code == 200, patched.content
    answers = probe(world, broken)
    assert {name: r.status_code for name, r in answers.items()} == {
        "get": 200,
        "next": 200,
        "formats": 200,
        "export": 200,
        "task": 201,
        "annotation": 201,
        "prediction": 201,
        "import": 201,
        "snapshot": 201,
    }

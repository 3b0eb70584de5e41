"""Export snapshots end to end: created over HTTP, written by the job worker, converted,
downloaded and deleted, with their files under the exports root."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from labelkeep.audit.models import AuditEvent
from labelkeep.dataio.models import ExportSnapshot, RunStatus
from labelkeep.jobs.models import Job, JobStatus
from labelkeep.jobs.worker import run_batch
from labelkeep.tasks.models import Prediction, Task
from tests.conftest import World
from tests.dataio.test_export_support import (
    IMAGE_CONFIG,
    TEXT_CONFIG,
    add_tasks,
    annotate,
    body,
    box,
    choice,
    exported_json,
    make_project,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def exports_root(tmp_path: Path, settings: Any) -> Path:
    settings.EXPORTS_ROOT = tmp_path / "exports"
    return tmp_path / "exports"


@pytest.fixture
def project(world: World, exports_root: Path) -> Any:
    made = make_project(world, TEXT_CONFIG)
    ids = add_tasks(made, world, [{"text": f"t{n}"} for n in range(4)])
    annotate(ids[0], choice("Positive"), world)
    annotate(ids[1], choice("Negative"), world, ground_truth=True)
    annotate(ids[2], choice("Negative"), world, was_cancelled=True)
    Prediction.objects.create(task_id=ids[0], project=made, result=choice("Negative"), score=0.9)
    return made


def project_task_ids(project: Any) -> list[int]:
    return list(Task.objects.filter(project=project).order_by("id").values_list("id", flat=True))


def url(project: Any, tail: str = "") -> str:
    return f"/api/projects/{project.pk}/exports/{tail}"


def test_snapshot_lifecycle(world: World, project: Any, exports_root: Path) -> None:
    client = world.admin.client
    created = client.post(url(project), {"title": "nightly"}, format="json")
    assert created.status_code == 201
    snapshot = created.json()
    assert snapshot["status"] == "created" and snapshot["title"] == "nightly"
    assert snapshot["created_by"]["email"] == "admin@a.example"
    run_batch()
    done = client.get(url(project, str(snapshot["id"]))).json()
    assert done["status"] == "completed" and done["finished_at"]
    assert done["counters"] == {"task_number": 4, "annotation_number": 3, "prediction_number": 1}
    assert len(done["md5"]) == 32 and done["converted_formats"] == []
    assert [s["id"] for s in client.get(url(project)).json()] == [snapshot["id"]]

    head = client.head(url(project, f"{snapshot['id']}/download?exportType=JSON"))
    assert head.status_code == 200 and head.content == b""
    assert "attachment" in head["Content-Disposition"] and int(head["Content-Length"]) > 2
    assert not AuditEvent.objects.filter(action="project.export_download").exists()
    download = client.get(url(project, f"{snapshot['id']}/download?exportType=JSON"))
    assert download.status_code == 200
    content = body(download)
    assert int(head["Content-Length"]) == len(content)
    assert AuditEvent.objects.filter(action="project.export_download").count() == 1
    assert "attachment" in download["Content-Disposition"]
    tasks = json.loads(content)
    assert tasks == exported_json(client, project, "?download_all_tasks=true")

    converted = client.post(
        url(project, f"{snapshot['id']}/convert"), {"export_type": "CSV"}, format="json"
    )
    assert converted.json() == {"converted_format": 1, "export_type": "CSV"}
    pending = client.get(url(project, f"{snapshot['id']}/download?exportType=CSV"))
    assert pending.status_code == 404
    run_batch()
    entry = client.get(url(project, str(snapshot["id"]))).json()["converted_formats"]
    assert entry == [{"id": 1, "export_type": "CSV", "status": "completed", "traceback": ""}]
    table = body(client.get(url(project, f"{snapshot['id']}/download?exportType=CSV")))
    rows = list(csv.DictReader(io.StringIO(table.decode())))
    assert sorted(r["sentiment"] for r in rows) == ["", "Negative", "Positive"]

    files = sorted(p.name for p in exports_root.rglob("*") if p.is_file())
    assert files == [f"export-{snapshot['id']}-1.csv", f"export-{snapshot['id']}.json"]
    assert client.delete(url(project, str(snapshot["id"]))).status_code == 204
    assert not [p for p in exports_root.rglob("*") if p.is_file()]
    assert client.get(url(project, str(snapshot["id"]))).status_code == 404

    actions = list(
        AuditEvent.objects.filter(action__startswith="project.export")
        .order_by("id")
        .values_list("action", "details")
    )
    snapshot_exports = [d for a, d in actions if a == "project.export" and d.get("snapshot")]
    assert [d["format"] for d in snapshot_exports] == ["JSON", "CSV"]
    assert snapshot_exports[0]["task_number"] == 4
    assert {"project.export_download", "project.export_delete"} <= {a for a, _ in actions}


def test_filters_and_serialization_options(world: World, project: Any) -> None:
    options = {
        "task_filter_options": {"only_with_annotations": True, "skipped": "exclude"},
        "annotation_filter_options": {"usual": True},
        "serialization_options": {
            "predictions": {"only_id": False},
            "annotations__completed_by": {"only_id": False},
        },
    }
    created = world.admin.client.post(url(project), options, format="json").json()
    assert created["task_filter_options"] == options["task_filter_options"]
    run_batch()
    tasks = json.loads(body(world.admin.client.get(url(project, f"{created['id']}/download"))))
    assert [len(t["annotations"]) for t in tasks] == [1, 0]  # the ground truth is not "usual"
    first = tasks[0]
    assert first["predictions"][0]["score"] == 0.9
    assert first["predictions"][0]["result"] == choice("Negative")
    assert first["annotations"][0]["completed_by"]["email"] == "member@a.example"


def test_refused_options(world: World, project: Any) -> None:
    missing_view = {"task_filter_options": {"view": 3}}
    assert world.admin.client.post(url(project), missing_view, format="json").status_code == 404
    for bad in (
        {"task_filter_options": {"view": "three"}},
        {"task_filter_options": {"finished": "maybe"}},
        {"annotation_filter_options": {"reviewed": "only"}},
    ):
        response = world.admin.client.post(url(project), bad, format="json")
        assert response.status_code == 400, bad
    assert not ExportSnapshot.objects.exists()


def test_a_snapshot_through_a_saved_view(world: World, project: Any) -> None:
    """The view's filters and selection as they stood when the snapshot was requested."""
    ids = list(project_task_ids(project))
    text = {"filter": "filter:tasks:data.text", "operator": "contains", "type": "String"}
    data = {
        "filters": {"conjunction": "or", "items": [{**text, "value": v} for v in ("0", "2", "3")]},
        "selectedItems": {"all": True, "excluded": [ids[3]]},
    }
    client = world.admin.client
    view = client.post("/api/dm/views/", {"project": project.pk, "data": data}, format="json")
    assert view.status_code == 201
    options = {"task_filter_options": {"view": view.json()["id"]}}
    created = client.post(url(project), options, format="json")
    assert created.status_code == 201, created.content
    # Changed after the request: the snapshot keeps what it was asked for.
    client.patch(f"/api/dm/views/{view.json()['id']}/", {"data": {}}, format="json")
    run_batch()
    done = json.loads(body(client.get(url(project, f"{created.json()['id']}/download"))))
    assert [task["id"] for task in done] == [ids[0], ids[2]]

    other = make_project(world, TEXT_CONFIG)
    elsewhere = client.post(url(other), options, format="json")
    assert elsewhere.status_code == 400
    assert "another project" in str(elsewhere.json())
    outsider = world.outsider.client.post(url(project), options, format="json")
    assert outsider.status_code == 404


def test_convert_rules(world: World, project: Any) -> None:
    client = world.admin.client
    snapshot = client.post(url(project), {}, format="json").json()
    early = client.post(
        url(project, f"{snapshot['id']}/convert"), {"export_type": "CSV"}, format="json"
    )
    assert early.status_code == 400 and "completed" in early.json()["detail"]
    run_batch()
    unfit = client.post(
        url(project, f"{snapshot['id']}/convert"), {"export_type": "COCO"}, format="json"
    )
    assert unfit.status_code == 400
    to_json = client.post(
        url(project, f"{snapshot['id']}/convert"), {"export_type": "JSON"}, format="json"
    )
    assert to_json.status_code == 400
    first = client.post(
        url(project, f"{snapshot['id']}/convert"), {"export_type": "TSV"}, format="json"
    ).json()
    again = client.post(
        url(project, f"{snapshot['id']}/convert"), {"export_type": "tsv"}, format="json"
    ).json()
    assert first == again  # a retried request queues nothing new
    assert Job.objects.filter(kind="dataio.export_convert").count() == 1


def test_download_names_a_known_format(world: World, project: Any) -> None:
    snapshot = world.admin.client.post(url(project), {}, format="json").json()
    run_batch()
    unknown = world.admin.client.get(url(project, f"{snapshot['id']}/download?exportType=PDF"))
    assert unknown.status_code == 400
    assert "JSON_MIN" in unknown.json()["validation_errors"]["exportType"]
    missing = world.admin.client.get(url(project, f"{snapshot['id']}/download?exportType=csv"))
    assert missing.status_code == 404  # a known format, not converted yet
    assert not AuditEvent.objects.filter(action="project.export_download").exists()


def test_image_snapshot_converts_to_an_archive(world: World, exports_root: Path) -> None:
    made = make_project(world, IMAGE_CONFIG)
    (task,) = add_tasks(made, world, [{"image": "/data/upload/1/a.jpg"}])
    annotate(task, [box(10, 10, 20, 20, "Dog")], world)
    client = world.admin.client
    snapshot = client.post(url(made), {}, format="json").json()
    run_batch()
    client.post(url(made, f"{snapshot['id']}/convert"), {"export_type": "YOLO"}, format="json")
    run_batch()
    download = client.get(url(made, f"{snapshot['id']}/download?exportType=YOLO"))
    assert download["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(body(download))) as zipped:
        assert zipped.read("labels/a.txt") == b"1 0.2 0.2 0.2 0.2\n"


def test_a_failing_snapshot_is_marked_failed(
    world: World, project: Any, exports_root: Path, settings: Any
) -> None:
    exports_root.parent.mkdir(parents=True, exist_ok=True)
    exports_root.write_text("a file where the directory should be")
    created = world.admin.client.post(url(project), {}, format="json").json()
    run_batch()
    snapshot = ExportSnapshot.objects.get(pk=created["id"])
    assert snapshot.status == RunStatus.FAILED and snapshot.error
    assert snapshot.job is not None and snapshot.job.status == JobStatus.FAILED
    response = world.admin.client.get(url(project, f"{snapshot.pk}/download"))
    assert response.status_code == 404


def test_deleting_the_project_removes_snapshot_files(
    world: World, project: Any, exports_root: Path
) -> None:
    world.admin.client.post(url(project), {}, format="json")
    run_batch()
    assert list(exports_root.rglob("*.json"))
    assert world.admin.client.delete(f"/api/projects/{project.pk}/").status_code == 204
    assert not list(exports_root.rglob("*.json"))


def test_a_snapshot_deleted_before_its_job_ran_is_skipped(world: World, project: Any) -> None:
    created = world.admin.client.post(url(project), {}, format="json").json()
    assert world.admin.client.delete(url(project, str(created["id"]))).status_code == 204
    run_batch()
    job = Job.objects.get(kind="dataio.export_snapshot")
    assert job.status == JobStatus.SUCCEEDED
    assert job.result == {"skipped": "the export was deleted before the job ran"}


@pytest.mark.parametrize(
    ("filters", "kept"),
    [
        ({"finished": "only"}, [0, 1]),
        ({"finished": "exclude"}, [2, 3]),
        ({"annotated": "only"}, [0, 1]),
        ({"annotated": "exclude"}, [2, 3]),
        ({"skipped": "only"}, [2]),
        ({"skipped": "exclude"}, [0, 1, 3]),
        ({"finished": "exclude", "skipped": "exclude"}, [3]),
    ],
)
def test_snapshot_task_filters(
    world: World, project: Any, filters: dict[str, str], kept: list[int]
) -> None:
    client = world.admin.client
    ids = sorted(t["id"] for t in exported_json(client, project, "?download_all_tasks=true"))
    created = client.post(url(project), {"task_filter_options": filters}, format="json")
    assert created.status_code == 201, created.content
    run_batch()
    download = client.get(url(project, f"{created.json()['id']}/download"))
    assert download.status_code == 200
    assert sorted(t["id"] for t in json.loads(body(download))) == [ids[n] for n in kept]

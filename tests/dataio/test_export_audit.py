"""Snapshots and conversions are audited when asked for and when their job fails, and a
failure shows a message that names no path or internal detail (the log has those)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from labelkeep.audit.models import AuditEvent
from labelkeep.dataio.models import ExportSnapshot, RunStatus
from labelkeep.jobs.models import Job, JobStatus
from labelkeep.jobs.worker import run_batch
from tests.conftest import World
from tests.dataio.test_export_support import TEXT_CONFIG, add_tasks, annotate, choice, make_project

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "198.51.100.7"
AGENT = "export-audit/1.0"


@pytest.fixture
def exports_root(tmp_path: Path, settings: Any) -> Path:
    settings.EXPORTS_ROOT = tmp_path / "exports"
    return tmp_path / "exports"


@pytest.fixture
def project(world: World, exports_root: Path) -> Any:
    made = make_project(world, TEXT_CONFIG)
    (task,) = add_tasks(made, world, [{"text": "fine"}])
    annotate(task, choice("Positive"), world)
    return made


def post(world: World, path: str, body: dict[str, Any]) -> Any:
    return world.admin.client.post(
        path, body, format="json", REMOTE_ADDR=ADDRESS, HTTP_USER_AGENT=AGENT
    )


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def snapshots(project: Any, tail: str = "") -> str:
    return f"/api/projects/{project.pk}/exports/{tail}"


def assert_by_admin(event: AuditEvent, world: World, project: Any) -> None:
    assert (event.actor_id, event.organization_id) == (world.admin.user.pk, world.org.pk)
    assert (event.target_type, event.target_id) == ("project", str(project.pk))
    assert (event.ip_address, event.user_agent) == (ADDRESS, AGENT)


def test_a_snapshot_request_is_audited_when_made(world: World, project: Any) -> None:
    filters = {"task_filter_options": {"annotated": "only"}}
    created = post(world, snapshots(project), {"title": "nightly", **filters})
    assert created.status_code == 201
    snapshot = ExportSnapshot.objects.get(pk=created.json()["id"])
    (requested,) = events("project.export_request")
    assert_by_admin(requested, world, project)
    assert requested.details == {
        "snapshot": snapshot.pk,
        "format": "JSON",
        "job": snapshot.job_id,
        "task_filter_options": {"annotated": "only"},
        "annotation_filter_options": {},
    }
    # Nothing has left the server yet: the export itself is recorded by the job.
    assert not events("project.export")
    run_batch()
    assert [e.details["snapshot"] for e in events("project.export")] == [snapshot.pk]


def test_a_conversion_request_is_audited_once(world: World, project: Any) -> None:
    snapshot = post(world, snapshots(project), {}).json()["id"]
    run_batch()
    convert = snapshots(project, f"{snapshot}/convert")
    assert post(world, convert, {"export_type": "CSV"}).status_code == 200
    # Asked again while it exists: the same entry, nothing queued, nothing recorded.
    assert post(world, convert, {"export_type": "csv"}).status_code == 200
    requests = events("project.export_request")
    assert [e.details["format"] for e in requests] == ["JSON", "CSV"]
    asked = requests[1]
    assert_by_admin(asked, world, project)
    job = Job.objects.get(kind="dataio.export_convert")
    assert asked.details == {
        "snapshot": snapshot,
        "format": "CSV",
        "job": job.pk,
        "converted": 1,
        "download_resources": False,
    }


def test_refused_requests_are_not_audited(world: World, project: Any) -> None:
    snapshot = post(world, snapshots(project), {}).json()["id"]  # not written yet
    refused = post(world, snapshots(project, f"{snapshot}/convert"), {"export_type": "CSV"})
    assert refused.status_code == 400
    outsider = world.outsider.client.post(snapshots(project), {}, format="json")
    assert outsider.status_code == 404
    assert len(events("project.export_request")) == 1


def test_a_failed_snapshot_names_no_path_and_is_audited(
    world: World, project: Any, exports_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exports_root.parent.mkdir(parents=True, exist_ok=True)
    exports_root.write_text("a file where the directory should be")
    created = post(world, snapshots(project), {}).json()
    with caplog.at_level(logging.ERROR):
        run_batch()
    shown = world.admin.client.get(snapshots(project, str(created["id"]))).json()
    assert shown["status"] == "failed"
    snapshot = ExportSnapshot.objects.get(pk=created["id"])
    job = snapshot.job
    assert job is not None
    expected = (
        f"The export failed because of an internal error (job {job.pk}); "
        "the server's log has the details."
    )
    assert snapshot.error == expected
    assert job.status == JobStatus.FAILED and job.error == f"ExportFailed: {expected}"
    job_answer = world.admin.client.get(f"/api/jobs/{job.pk}").json()
    for text in (snapshot.error, job_answer["error"]):
        assert str(exports_root.parent) not in text and "Errno" not in text
    # The server's log keeps the whole story.
    assert any(
        str(exports_root) in record.getMessage() or str(exports_root) in (record.exc_text or "")
        for record in caplog.records
    )
    (failed,) = events("project.export_failed")
    assert_by_admin(failed, world, project)
    assert failed.details == {"snapshot": snapshot.pk, "format": "JSON", "error": expected}
    assert not events("project.export")


def test_a_failed_conversion_names_no_path_and_is_audited(
    world: World, project: Any, exports_root: Path
) -> None:
    snapshot_id = post(world, snapshots(project), {}).json()["id"]
    run_batch()
    snapshot = ExportSnapshot.objects.get(pk=snapshot_id)
    assert snapshot.status == RunStatus.COMPLETED
    (exports_root / snapshot.path).unlink()  # the file the conversion reads is gone
    post(world, snapshots(project, f"{snapshot_id}/convert"), {"export_type": "CSV"})
    run_batch()
    (entry,) = world.admin.client.get(snapshots(project, str(snapshot_id))).json()[
        "converted_formats"
    ]
    job = Job.objects.get(kind="dataio.export_convert")
    expected = (
        f"The export failed because of an internal error (job {job.pk}); "
        "the server's log has the details."
    )
    assert entry == {"id": 1, "export_type": "CSV", "status": "failed", "traceback": expected}
    assert "FileNotFoundError" not in job.error and str(exports_root) not in job.error
    (failed,) = events("project.export_failed")
    assert_by_admin(failed, world, project)
    assert failed.details == {"snapshot": snapshot_id, "format": "CSV", "error": expected}
    # A failed conversion may be asked for again.
    again = post(world, snapshots(project, f"{snapshot_id}/convert"), {"export_type": "CSV"})
    assert again.json() == {"converted_format": 2, "export_type": "CSV"}

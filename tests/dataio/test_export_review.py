"""Found in review: snapshot files that outlived their record, and shapes of the formats on
edge cases (several controls of one kind)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from labelkeep.dataio.exporting import files, formats, imaging, jobs, services
from labelkeep.dataio.models import ExportSnapshot, RunStatus
from labelkeep.jobs.models import Job
from labelkeep.jobs.services import JobGone, execute, recover_stale
from labelkeep.jobs.worker import run_batch
from tests.conftest import TEST_ORIGIN, World
from tests.dataio.test_export_recovery import exports_root, project, snapshots
from tests.dataio.test_export_support import (
    IMAGE_CONFIG,
    add_tasks,
    annotate,
    archive,
    body,
    box,
    make_project,
)

__all__ = ["exports_root", "project"]  # fixtures


def left_on_disk(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file())


def deleted_midway(world: World, project: Any, snapshot_id: int) -> Any:
    """A writer that deletes the snapshot over the API while its file is being written."""

    def write(*args: Any) -> Iterator[bytes]:
        yield b"[\n"
        deleted = world.admin.client.delete(snapshots(project, str(snapshot_id)))
        assert deleted.status_code == 204
        yield b"]\n"

    return write


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_deleted_while_its_job_writes_leaves_no_file(
    world: World, project: Any, exports_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot_id = world.admin.client.post(snapshots(project), {}, format="json").json()["id"]
    monkeypatch.setattr(jobs, "write_json", deleted_midway(world, project, snapshot_id))
    run_batch()
    assert not ExportSnapshot.objects.exists()
    assert left_on_disk(exports_root) == []


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_deleted_while_it_converts_leaves_no_file(
    world: World, project: Any, exports_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot_id = world.admin.client.post(snapshots(project), {}, format="json").json()["id"]
    run_batch()
    world.admin.client.post(
        snapshots(project, f"{snapshot_id}/convert"), {"export_type": "CSV"}, format="json"
    )
    csv = dataclasses.replace(
        formats.FORMATS["CSV"], write=deleted_midway(world, project, snapshot_id)
    )
    monkeypatch.setitem(formats.FORMATS, "CSV", csv)
    run_batch()
    assert not ExportSnapshot.objects.exists()
    assert left_on_disk(exports_root) == []


@pytest.mark.django_db(transaction=True)
def test_deleting_a_snapshot_read_before_its_job_finished_removes_the_file(
    world: World, project: Any, exports_root: Path
) -> None:
    """The record was read (as the DELETE request reads it) while the job still ran: the
    file the job wrote since goes with it all the same."""
    snapshot_id = world.admin.client.post(snapshots(project), {}, format="json").json()["id"]
    read_early = ExportSnapshot.objects.select_related("project").get(pk=snapshot_id)
    run_batch()
    assert left_on_disk(exports_root) == [f"export-{snapshot_id}.json"]
    services.delete_snapshot(read_early, actor=world.admin.user, origin=TEST_ORIGIN)
    assert left_on_disk(exports_root) == []


@pytest.mark.django_db(transaction=True)
def test_deleting_a_snapshot_whose_worker_died_removes_its_partial_file(
    world: World, project: Any, exports_root: Path
) -> None:
    snapshot_id = world.admin.client.post(snapshots(project), {}, format="json").json()["id"]
    ExportSnapshot.objects.filter(pk=snapshot_id).update(status=RunStatus.IN_PROGRESS)
    folder = exports_root / str(project.pk)
    folder.mkdir(parents=True)
    partial = folder / f".part-export-{snapshot_id}.json-dead1234"
    partial.write_bytes(b"[")
    # Files of other snapshots (ids that start alike) are not this one's.
    others = [f"export-{snapshot_id}0.json", f"export-{snapshot_id}0-1.csv"]
    for name in others:
        (folder / name).write_bytes(b"[]")
    assert world.admin.client.delete(snapshots(project, str(snapshot_id))).status_code == 204
    assert left_on_disk(exports_root) == sorted(others)


@pytest.mark.django_db(transaction=True)
def test_a_conversion_given_up_for_dead_after_writing_stays_failed(
    world: World, project: Any, exports_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker was alive after all and finished the file: the conversion, failed by
    the recovery meanwhile, stays failed (no file, none kept) and may be asked for again."""
    snapshot_id = world.admin.client.post(snapshots(project), {}, format="json").json()["id"]
    run_batch()
    world.admin.client.post(
        snapshots(project, f"{snapshot_id}/convert"), {"export_type": "CSV"}, format="json"
    )
    job = Job.objects.get(kind=jobs.CONVERT_KIND)
    writing = files.write

    def given_up_once_written(*args: Any) -> str:
        md5 = writing(*args)
        stale = timezone.now() - timedelta(seconds=301)
        Job.objects.filter(pk=job.pk).update(heartbeat_at=stale)
        assert recover_stale() == [job.pk]
        return md5

    monkeypatch.setattr(files, "write", given_up_once_written)
    with pytest.raises(JobGone):  # its last progress report finds the run given up
        execute(job.pk)
    (entry,) = ExportSnapshot.objects.get(pk=snapshot_id).converted_formats
    assert entry["status"] == "failed"
    assert left_on_disk(exports_root) == [f"export-{snapshot_id}.json"]
    again = world.admin.client.post(
        snapshots(project, f"{snapshot_id}/convert"), {"export_type": "CSV"}, format="json"
    )
    assert again.json() == {"converted_format": 2, "export_type": "CSV"}


TWO_LABELS_CONFIG = """
<View>
  <Text name="text" value="$text"/>
  <Labels name="ner" toName="text">
    <Label value="PER"/>
  </Labels>
  <Labels name="pos" toName="text">
    <Label value="NOUN"/>
  </Labels>
</View>
"""


def _span(control: str, start: int, end: int, label: str) -> dict[str, Any]:
    return {
        "from_name": control,
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": end, "labels": [label]},
    }


@pytest.mark.django_db
def test_conll_tags_come_from_the_first_labels_control_whatever_the_result_order(
    world: World,
) -> None:
    made = make_project(world, TWO_LABELS_CONFIG)
    first, second = add_tasks(made, world, [{"text": "Ada sleeps"}, {"text": "Ada sleeps"}])
    annotate(first, [_span("ner", 0, 3, "PER"), _span("pos", 4, 10, "NOUN")], world)
    annotate(second, [_span("pos", 4, 10, "NOUN"), _span("ner", 0, 3, "PER")], world)
    response = world.admin.client.get(f"/api/projects/{made.pk}/export?export_type=CONLL2003")
    assert response.status_code == 200
    text = body(response).decode()
    document = ["Ada -X- _ B-PER", "sleeps -X- _ O", ""]
    assert text.splitlines() == ["-DOCSTART- -X- O", *document, *document]


@pytest.mark.parametrize(
    ("reference", "name"),
    [
        ("https://cdn.example/photos/cat.jpg?id=5", "cat.jpg"),
        ("https://cdn.example/photos/cat.jpg?size=2&d=../../x.png", "cat.jpg"),
        ("/data/upload/1/cat%20one.jpg?d=dog.jpg", "cat one.jpg"),
        ("/data/local-files/?d=set/dog.jpg", "dog.jpg"),
        ("/data/local-files?d=set%2Fdog.jpg", "dog.jpg"),
    ],
)
def test_an_image_is_named_by_its_path_and_only_local_files_by_their_d(
    reference: str, name: str
) -> None:
    assert imaging.file_name(reference) == name


@pytest.mark.django_db
def test_yolo_label_files_are_named_after_remote_images_with_a_query(world: World) -> None:
    made = make_project(world, IMAGE_CONFIG)
    (task,) = add_tasks(made, world, [{"image": "https://cdn.example/cat.jpg?id=5"}])
    annotate(task, [box(10, 10, 20, 20, "Dog")], world)
    response = world.admin.client.get(f"/api/projects/{made.pk}/export?export_type=YOLO")
    with archive(response) as zipped:
        assert "labels/cat.txt" in zipped.namelist()


@pytest.mark.django_db(transaction=True)
def test_converting_a_snapshot_deleted_since_it_was_read_is_not_found(
    world: World, project: Any, exports_root: Path
) -> None:
    """The convert request read the snapshot; a DELETE committed before it queued the job."""
    snapshot_id = world.admin.client.post(snapshots(project), {}, format="json").json()["id"]
    run_batch()
    read_early = ExportSnapshot.objects.select_related("project").get(pk=snapshot_id)
    assert world.admin.client.delete(snapshots(project, str(snapshot_id))).status_code == 204
    with pytest.raises(services.NotReady):
        services.convert_snapshot(
            read_early,
            formats.FORMATS["CSV"],
            download_resources=False,
            actor=world.admin.user,
            origin=TEST_ORIGIN,
        )
    assert not Job.objects.filter(kind=jobs.CONVERT_KIND).exists()

"""The real label-studio-sdk exporting from Labelkeep: the sync helpers and snapshots."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from label_studio_sdk.client import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from labelkeep.jobs.worker import run_batch
from tests.conftest import World
from tests.dataio.test_export_support import TEXT_CONFIG, add_tasks, annotate, choice, make_project
from tests.sdk.conftest import BASE_URL, Wire, in_process_client

pytestmark = pytest.mark.filterwarnings(
    "ignore:The `parse_obj` method is deprecated:DeprecationWarning"
)


@pytest.fixture
def ls(world: World) -> Iterator[LabelStudio]:
    """The SDK as an admin's script uses it; no redirects, retries or non-JSON errors."""
    wire = Wire()
    http = in_process_client(wire)
    client = LabelStudio(  # type: ignore[no-untyped-call]
        base_url=BASE_URL, api_key=world.admin.key, httpx_client=http
    )
    yield client
    http.close()
    assert wire.responses and wire.problems() == []


@pytest.fixture
def project(world: World) -> Any:
    made = make_project(world, TEXT_CONFIG)
    ids = add_tasks(made, world, [{"text": f"review {n}"} for n in range(3)])
    annotate(ids[0], choice("Positive"), world)
    annotate(ids[2], choice("Negative"), world)
    return made


def test_as_json_returns_every_task(ls: LabelStudio, project: Any) -> None:
    tasks = ls.projects.exports.as_json(project.pk)
    assert [t["data"]["text"] for t in tasks] == ["review 0", "review 1", "review 2"]
    assert tasks[0]["annotations"][0]["result"] == choice("Positive")
    assert tasks[1]["annotations"] == []


def test_download_sync_and_as_pandas(ls: LabelStudio, project: Any) -> None:
    chunks = ls.projects.exports.download_sync(project.pk, export_type="JSON_MIN")
    rows = json.loads(b"".join(chunks))
    assert sorted(r["sentiment"] for r in rows) == ["Negative", "Positive"]
    frame = ls.projects.exports.as_pandas(project.pk)
    assert sorted(frame["text"]) == ["review 0", "review 1", "review 2"]
    assert sorted(frame["sentiment"].dropna()) == ["Negative", "Positive"]


def test_list_formats(ls: LabelStudio, project: Any) -> None:
    formats: Any = ls.projects.exports.list_formats(project.pk)  # typed List[str], holds dicts
    assert formats[0]["name"] == "JSON"


def test_errors_reach_scripts_as_api_errors(ls: LabelStudio, project: Any) -> None:
    with pytest.raises(ApiError) as caught:
        b"".join(ls.projects.exports.download_sync(project.pk, export_type="YOLO"))
    assert caught.value.status_code == 400


@pytest.mark.django_db(transaction=True)
def test_snapshot_calls(ls: LabelStudio, project: Any, tmp_path: Path, settings: Any) -> None:
    settings.EXPORTS_ROOT = tmp_path / "exports"
    exports = ls.projects.exports
    created = exports.create(project.pk, title="from the sdk")
    assert created.id and created.status == "created"
    run_batch()
    assert exports.get(project.pk, created.id).status == "completed"
    assert [e.id for e in exports.list(project.pk)] == [created.id]
    tasks = json.loads(b"".join(exports.download(project.pk, created.id, export_type="JSON")))
    assert len(tasks) == 3
    converted = exports.convert(project.pk, created.id, export_type="CSV")
    assert converted.export_type == "CSV" and converted.converted_format == 1
    run_batch()
    table = b"".join(exports.download(project.pk, created.id, export_type="CSV")).decode()
    assert table.startswith('"annotation_id"')
    (entry,) = exports.get(project.pk, created.id).converted_formats or []
    assert entry.status == "completed"
    exports.delete(project.pk, created.id)
    assert exports.list(project.pk) == []

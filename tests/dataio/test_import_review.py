"""Import review: hostile content types, commit_to_project=false jobs, reading stopped at
IMPORT_MAX_TASKS, signed URLs forgotten after the download, and "data" as a data key."""

from __future__ import annotations

import json
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from labelkeep.dataio import formats
from labelkeep.dataio.formats import FormatError
from labelkeep.dataio.models import FileUpload, ProjectImport, RunStatus
from labelkeep.jobs.models import Job, JobStatus
from labelkeep.jobs.services import recover_stale
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Prediction, Task
from tests.conftest import World
from tests.dataio.test_import_support import (
    import_path,
    make_project,
    nothing_imported,
    post_json,
)
from tests.dataio.test_import_url import ROUTES, Server, project, remote, root, run, url

__all__ = ["project", "remote", "root"]  # fixtures


# --- Content types are labels: printable ASCII only --------------------------------------


def test_a_nul_in_an_uploads_content_type_is_not_stored(
    world: World, project: Project, root: Path
) -> None:
    # A hand-made multipart body: HTTP clients would not send this, an attacker would.
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="file"; filename="tasks.json"\r\n'
        b"Content-Type: application/json\x00\x7f\r\n\r\n"
        b'[{"text": "a"}]\r\n--XyZ--\r\n'
    )
    response = world.admin.client.post(
        import_path(project), body, content_type="multipart/form-data; boundary=XyZ"
    )
    assert response.status_code == 201, response.content
    assert FileUpload.objects.get(project=project).content_type == "application/json"
    assert Task.objects.filter(project=project).count() == 1


def test_a_nul_in_a_remote_content_type_is_not_stored(
    world: World, project: Project, root: Path, remote: Server
) -> None:
    ROUTES["/nul-type.csv"] = (200, {"Content-Type": "text/csv\x00"}, b"text\nrow\n")
    try:
        done = run(
            world,
            project,
            post_json(world.admin.client, project, {"url": url(remote, "/nul-type.csv")}),
        )
    finally:
        del ROUTES["/nul-type.csv"]
    assert done["status"] == "completed", done
    assert FileUpload.objects.get(project=project).content_type == "text/csv"


# --- commit_to_project=false ---------------------------------------------------------


def test_a_queued_import_without_commit_records_nothing_created(
    world: World, project: Project, root: Path, remote: Server
) -> None:
    exported = [
        {
            "data": {"text": "a"},
            "annotations": [{"result": [], "was_cancelled": True}],
            "predictions": [{"result": [], "score": 0.5}],
        }
    ]
    ROUTES["/exported.json"] = (200, {}, json.dumps(exported).encode())
    try:
        response = post_json(
            world.admin.client,
            project,
            {"url": url(remote, "/exported.json")},
            "commit_to_project=false",
        )
        done = run(world, project, response)
    finally:
        del ROUTES["/exported.json"]
    assert done["status"] == "completed"
    # As the record of a request made without commit says: nothing was created.
    assert (done["task_count"], done["annotation_count"], done["prediction_count"]) == (0, 0, 0)
    assert done["predictions_count"] == 0
    assert not Task.objects.filter(project=project).exists()


# --- Reading stops at IMPORT_MAX_TASKS ---------------------------------------------------

TINY_ROWS = {
    "rows.csv": b"text\n" + b"a\n" * 300_000,
    "rows.tsv": b"text\n" + b"a\n" * 300_000,
    "rows.txt": b"a\n" * 300_000,
    "rows.jsonl": b'{"text":"a"}\n' * 60_000,
    "rows.json": b"[" + b"{}," * 200_000 + b"{}]",
}


@pytest.mark.parametrize("name", sorted(TINY_ROWS))
def test_a_file_of_tiny_rows_is_refused_without_reading_it_all(
    world: World, project: Project, root: Path, settings: Any, name: str
) -> None:
    # Read whole, one-byte rows take a hundred times the file's size in memory: a file of
    # IMPORT_MAX_FILE_SIZE could take the server down before its count was refused.
    settings.IMPORT_MAX_TASKS = 1000
    content = TINY_ROWS[name]
    tracemalloc.start()
    try:
        response = world.admin.client.post(
            import_path(project), {"file": [SimpleUploadedFile(name, content)]}, format="multipart"
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 400
    assert "IMPORT_MAX_TASKS (1000)" in response.json()["detail"]
    assert peak < 20 * len(content), f"{peak} bytes held for a file of {len(content)}"
    assert nothing_imported(project, root)


def test_the_limit_counts_every_file_of_the_request(
    world: World, project: Project, root: Path, settings: Any
) -> None:
    settings.IMPORT_MAX_TASKS = 5
    files = [
        SimpleUploadedFile("a.csv", b"text\n1\n2\n3\n"),
        SimpleUploadedFile("b.txt", b"4\n5\n6\n"),
    ]
    response = world.admin.client.post(import_path(project), {"file": files}, format="multipart")
    assert response.status_code == 400
    assert "IMPORT_MAX_TASKS (5)" in response.json()["detail"]
    assert nothing_imported(project, root)
    settings.IMPORT_MAX_TASKS = 6
    files = [
        SimpleUploadedFile("a.csv", b"text\n1\n2\n3\n"),
        SimpleUploadedFile("b.txt", b"4\n5\n6\n"),
    ]
    response = world.admin.client.post(import_path(project), {"file": files}, format="multipart")
    assert response.status_code == 201 and response.json()["task_count"] == 6


@pytest.mark.parametrize("fmt", [".json", ".jsonl", ".csv", ".txt"])
def test_readers_stop_one_item_past_the_most_asked_for(fmt: str) -> None:
    rows = {
        ".json": b"[" + b",".join(b'{"t": %d}' % n for n in range(10)) + b"]",
        ".jsonl": b"".join(b'{"t": %d}\n' % n for n in range(10)),
        ".csv": b"t\n" + b"".join(b"%d\n" % n for n in range(10)),
        ".txt": b"".join(b"%d\n" % n for n in range(10)),
    }[fmt]
    assert len(formats.read_tasks("f" + fmt, rows, fmt, lambda: "t", most=3).items) == 4
    assert len(formats.read_tasks("f" + fmt, rows, fmt, lambda: "t", most=10).items) == 10


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"[]", []),
        (b" \r\n[ \t] \n", []),
        (b'[ {"a": [1, {"b": null}]} , "x",2.5 ]\n', [{"a": [1, {"b": None}]}, "x", 2.5]),
        (b'{"text": "one"}', [{"text": "one"}]),
    ],
)
def test_json_arrays_read_item_by_item_read_as_json_does(content: bytes, expected: Any) -> None:
    assert formats.read_json("f.json", content).items == expected
    assert formats.read_json("f.json", content, most=len(expected)).items == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[", "Expecting value at line 1, column 2"),
        (b"[1,]", "Expecting value at line 1, column 4"),
        (b"[1 2]", "Expecting ',' delimiter at line 1, column 4"),
        (b"[1,\n2", "Expecting ',' delimiter at line 2, column 2"),
        (b"[1] [2]", "Extra data at line 1, column 5"),
        (b"[1, NaN]", "NaN is not valid JSON"),
        (b"[{}, Infinity]", "Infinity is not valid JSON"),
        (b"[" + b"[" * 100 + b"]" * 100 + b"]", "nested more than 100 levels deep"),
        (b"[1, " + b"[" * 100_000 + b"]" * 100_000 + b"]", "nested more than 100 levels deep"),
    ],
)
def test_json_arrays_read_item_by_item_refuse_what_json_refuses(
    content: bytes, message: str
) -> None:
    with pytest.raises(FormatError, match=r"f\.json is not valid JSON") as refused:
        formats.read_json("f.json", content)
    assert message in str(refused.value)
    with pytest.raises(ValueError):
        formats.loads(content.decode())


def test_json_arrays_nested_a_hundred_deep_are_read() -> None:
    deepest = b"[" + b"[" * 99 + b"]" * 99 + b"]"
    assert formats.read_json("f.json", deepest).items == json.loads(deepest)


# --- A signed URL is used for the download only ------------------------------------------


@pytest.mark.parametrize("path", ["/tasks.json", "/error.json"])
def test_the_jobs_record_forgets_the_signature_once_the_download_is_over(
    world: World, project: Project, root: Path, remote: Server, path: str
) -> None:
    signed = url(remote, path) + "?X-Amz-Signature=abc123secret"
    response = post_json(world.admin.client, project, {"url": signed})
    job = Job.objects.get(pk=response.json()["job"])
    assert job.payload["url"] == signed  # the worker needs it to download
    done = run(world, project, response)
    assert done["status"] == ("completed" if path == "/tasks.json" else "failed")
    job.refresh_from_db()
    assert job.payload["url"] == url(remote, path)
    assert "abc123secret" not in json.dumps(job.payload) + job.error + str(job.result)
    assert remote.seen == [f"{path}?X-Amz-Signature=abc123secret"]


def test_the_recovery_forgets_the_signature_of_a_dead_workers_download(
    world: World, project: Project, root: Path, settings: Any
) -> None:
    signed = "http://127.0.0.1:9/tasks.json?token=abc123secret"
    queued = post_json(world.admin.client, project, {"url": signed}).json()
    # Its worker claimed it and died: no heartbeat since.
    stale = timezone.now() - timedelta(seconds=float(settings.JOB_STALE_AFTER) + 1)
    Job.objects.filter(pk=queued["job"]).update(
        status=JobStatus.RUNNING, started_at=stale, heartbeat_at=stale
    )
    assert recover_stale() == [queued["job"]]
    assert Job.objects.get(pk=queued["job"]).payload["url"] == "http://127.0.0.1:9/tasks.json"
    done = ProjectImport.objects.get(pk=queued["import"])
    assert done.status == RunStatus.FAILED and done.source_url == "http://127.0.0.1:9/tasks.json"


# --- Rows, lines and media files are data, even under a key named "data" -----------------

DATA_CONFIG = """
<View>
  <Text name="text" value="$data"/>
  <Choices name="sentiment" toName="text"><Choice value="Positive"/></Choices>
</View>
"""


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("lines.txt", b"hello\n", {"data": "hello"}),
        ("rows.csv", b"data,source\nhello,web\n", {"data": "hello", "source": "web"}),
        ("rows.tsv", b"data\tmeta\nhello\t{}\n", {"data": "hello", "meta": "{}"}),
        ("page.html", b"<p>hello</p>", None),
    ],
)
def test_a_config_reading_data_takes_text_tables_and_media(
    world: World, root: Path, name: str, content: bytes, expected: dict[str, str] | None
) -> None:
    project = make_project(world, DATA_CONFIG)
    response = world.admin.client.post(
        import_path(project), {"file": [SimpleUploadedFile(name, content)]}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    task = Task.objects.get(project=project)
    if expected is None:  # a media file: its served path, under the config's key
        expected = {"data": f"/data/upload/{FileUpload.objects.get(project=project).path}"}
    assert task.data == expected
    assert task.meta == {}


def test_a_data_column_can_be_pre_annotated_from_its_neighbour(world: World, root: Path) -> None:
    project = make_project(world, DATA_CONFIG)
    response = world.admin.client.post(
        import_path(project, "preannotated_from_fields=sentiment"),
        {"file": [SimpleUploadedFile("rows.csv", b"data,sentiment\nhello,Positive\n")]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    task = Task.objects.get(project=project)
    assert task.data == {"data": "hello"}
    (prediction,) = Prediction.objects.filter(task=task)
    assert prediction.result[0]["value"] == {"choices": ["Positive"]}


def test_a_json_task_still_wraps_its_data(world: World, root: Path) -> None:
    project = make_project(world, DATA_CONFIG)
    body = [{"data": {"data": "wrapped"}, "meta": {"m": 1}}]
    assert post_json(world.admin.client, project, body).status_code == 201
    task = Task.objects.get(project=project)
    assert (task.data, task.meta) == ({"data": "wrapped"}, {"m": 1})

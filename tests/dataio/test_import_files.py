"""Importing uploaded files: every task format, media files, limits, failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labelkeep.dataio.models import FileUpload
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Task
from tests.conftest import World
from tests.dataio.test_import_support import (
    IMAGE_CONFIG,
    choice,
    make_project,
    nothing_imported,
    post_files,
    stored_files,
    use_uploads_root,
)


@pytest.fixture
def project(world: World) -> Project:
    return make_project(world)


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    return use_uploads_root(settings, tmp_path)


def data_of(project: Project) -> list[dict[str, Any]]:
    return list(Task.objects.filter(project=project).order_by("id").values_list("data", flat=True))


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "tasks.json",
            json.dumps([{"text": "a"}, {"data": {"text": "b"}}]).encode(),
            [{"text": "a"}, {"text": "b"}],
        ),
        ("one.json", b'{"text": "single"}', [{"text": "single"}]),
        (
            "tasks.jsonl",
            b'{"text": "a"}\n{"data": {"text": "b"}}\n',
            [{"text": "a"}, {"text": "b"}],
        ),
        (
            "tasks.csv",
            b'text,source\n"hello, world",web\n"two\nlines",mail\n',
            [{"text": "hello, world", "source": "web"}, {"text": "two\nlines", "source": "mail"}],
        ),
        ("tasks.tsv", b"text\tsource\nhi\tweb\n", [{"text": "hi", "source": "web"}]),
        (
            "lines.txt",
            b"first line\n\nsecond line\n",
            [{"text": "first line"}, {"text": "second line"}],
        ),
    ],
)
def test_task_formats(
    world: World, project: Project, root: Path, name: str, content: bytes, expected: Any
) -> None:
    response = post_files(world.admin.client, project, {name: content})
    assert response.status_code == 201, response.json()
    answer = response.json()
    assert data_of(project) == expected
    ext = "." + name.rsplit(".", 1)[1]
    assert answer["found_formats"] == {ext: 1}
    assert answer["could_be_tasks_list"] is (ext in (".csv", ".tsv", ".txt"))
    (upload,) = FileUpload.objects.filter(project=project)
    assert answer["file_upload_ids"] == [upload.pk]
    assert upload.original_name == name and upload.size == len(content)
    assert answer["data_columns"] == sorted({k for row in expected for k in row})


def test_txt_fills_the_configs_only_key(world: World, root: Path) -> None:
    project = make_project(
        world,
        '<View><Text name="t" value="$review"/>'
        '<Choices name="c" toName="t"><Choice value="A"/></Choices></View>',
    )
    assert post_files(world.admin.client, project, {"r.txt": b"one\ntwo"}).status_code == 201
    assert data_of(project) == [{"review": "one"}, {"review": "two"}]


def test_txt_needs_a_config_with_one_key(world: World, root: Path) -> None:
    project = make_project(
        world,
        '<View><Text name="a" value="$a"/><Text name="b" value="$b"/>'
        '<Choices name="c" toName="a"><Choice value="A"/></Choices></View>',
    )
    response = post_files(world.admin.client, project, {"r.txt": b"one"})
    assert response.status_code == 400
    assert "reads $a, $b" in response.json()["detail"]
    assert nothing_imported(project, root)


def test_several_files_in_one_request(world: World, project: Project, root: Path) -> None:
    response = post_files(
        world.admin.client,
        project,
        {"a.csv": b"text\nfrom csv\n", "b.json": b'[{"text": "from json"}]'},
        "return_task_ids=true",
    )
    assert response.status_code == 201
    assert len(response.json()["task_ids"]) == 2
    assert sorted(d["text"] for d in data_of(project)) == ["from csv", "from json"]
    assert response.json()["found_formats"] == {".csv": 1, ".json": 1}
    assert len(stored_files(root)) == 2


def test_export_file_with_annotations(world: World, project: Project, root: Path) -> None:
    export = [
        {
            "id": 5,
            "data": {"text": "x"},
            "annotations": [{"id": 9, "result": choice("Neutral"), "completed_by": 1}],
            "predictions": [3],
        }
    ]
    response = post_files(world.admin.client, project, {"export.json": json.dumps(export).encode()})
    assert response.status_code == 201
    assert response.json()["annotation_count"] == 1
    assert Annotation.objects.get().result == choice("Neutral")


def test_media_files_become_tasks_that_refer_to_them(world: World, root: Path) -> None:
    project = make_project(world, IMAGE_CONFIG)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
    response = post_files(world.admin.client, project, {"../../cat photo.PNG": png})
    assert response.status_code == 201, response.json()
    assert response.json()["found_formats"] == {".png": 1}
    (task,) = Task.objects.filter(project=project)
    upload = FileUpload.objects.get(project=project)
    url = task.data["image"]
    assert url == f"/data/upload/{upload.path}"
    name = url.rsplit("/", 1)[1]
    assert len(name) == 36 and name.endswith(".png")  # server-made: 32 hex digits
    assert upload.original_name == "cat photo.PNG"  # the path part is dropped
    (stored,) = stored_files(root)
    assert stored == root / str(project.pk) / name
    assert stored.read_bytes() == png
    served = world.member.client.get(url)
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == png  # type: ignore[attr-defined]


def test_media_key_follows_the_config_or_the_kind(world: World, root: Path) -> None:
    project = make_project(world, "<View></View>")
    response = post_files(world.admin.client, project, {"a.mp3": b"ID3", "b.mp4": b"\0\0"})
    assert response.status_code == 201
    assert sorted(next(iter(d)) for d in data_of(project)) == ["audio", "video"]


def test_unknown_file_types_are_refused(world: World, project: Project, root: Path) -> None:
    for name in ("run.exe", "page.php", "noextension", "archive.zip"):
        response = post_files(world.admin.client, project, {name: b"data"})
        assert response.status_code == 400, name
        assert "not accepted" in response.json()["detail"]
    assert nothing_imported(project, root)


def test_bad_row_in_the_middle_of_a_file_imports_nothing(
    world: World, project: Project, root: Path
) -> None:
    rows = [f"review {n},web" for n in range(5000)]
    rows[2500] = "too,many,values"
    content = ("text,source\n" + "\n".join(rows) + "\n").encode()
    response = post_files(
        world.admin.client, project, {"good.json": b'[{"text": "ok"}]', "big.csv": content}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "big.csv, line 2502: 3 values, but the header names 2 columns."
    )
    assert nothing_imported(project, root)


def test_missing_key_in_a_file_names_file_and_line(
    world: World, project: Project, root: Path
) -> None:
    content = b"text\nfine\n" + b"\n" + b'"quoted\nvalue"\n'
    ok = post_files(world.admin.client, project, {"a.csv": content})
    assert ok.status_code == 201
    bad = post_files(world.admin.client, project, {"b.csv": b"body\nno text column\n"})
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith('b.csv, line 2: the task data has no "text"')
    assert len(stored_files(root)) == 1  # only the first import's file stays


def test_malformed_json_file(world: World, project: Project, root: Path) -> None:
    response = post_files(world.admin.client, project, {"t.json": b'[{"text": "a"},'})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("t.json is not valid JSON:")
    assert nothing_imported(project, root)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("deep.json", b"[" * 100_000 + b"]" * 100_000),
        ("deep.jsonl", b'{"text": "a"}\n' + b"[" * 100_000 + b"]" * 100_000 + b"\n"),
        ("some.json", b'[{"text": "a", "n": ' + b"[" * 400 + b"]" * 400 + b"}]"),
        ("some.jsonl", b'{"text": "a", "n": ' + b"[" * 800 + b"]" * 800 + b"}\n"),
    ],
    ids=["json", "jsonl", "json-402", "jsonl-801"],
)
def test_json_files_nested_too_deeply_are_refused(
    world: World, project: Project, root: Path, name: str, content: bytes
) -> None:
    response = post_files(world.admin.client, project, {name: content})
    assert response.status_code == 400
    assert response.json()["detail"].startswith(name)
    assert "nested more than 100 levels deep" in response.json()["detail"]
    assert nothing_imported(project, root)


def test_long_values_in_csv_and_tsv(world: World, project: Project, root: Path) -> None:
    # Label Studio reads such files whole; Python's csv module stops at 128 KiB a field.
    document = "word " * 60_000
    files = {
        "long.csv": f'text\n"{document}"\n'.encode(),
        "long.tsv": f"text\n{document}\n".encode(),
    }
    response = post_files(world.admin.client, project, files)
    assert response.status_code == 201, response.json()
    assert data_of(project) == [{"text": document}, {"text": document}]


def test_upload_size_limit(world: World, project: Project, root: Path, settings: Any) -> None:
    settings.IMPORT_MAX_FILE_SIZE = 4096
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    big = ("text\n" + "x" * 5000 + "\n").encode()
    response = post_files(world.admin.client, project, {"big.csv": big})
    assert response.status_code == 413
    assert "IMPORT_MAX_FILE_SIZE (4096 bytes together)" in response.json()["detail"]
    # The limit is the files together, so two halves are refused too.
    half = ("text\n" + "x" * 2500 + "\n").encode()
    split = post_files(world.admin.client, project, {"a.csv": half, "b.csv": half})
    assert split.status_code == 413
    assert nothing_imported(project, root)
    assert post_files(world.admin.client, project, {"a.csv": half}).status_code == 201


def test_annotator_and_outsider_cannot_upload(world: World, project: Project, root: Path) -> None:
    assert post_files(world.member.client, project, {"a.csv": b"text\nx\n"}).status_code == 403
    assert post_files(world.outsider.client, project, {"a.csv": b"text\nx\n"}).status_code == 404
    assert nothing_imported(project, root)

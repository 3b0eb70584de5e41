"""Bundled images come only from the permitted storage roots (THREATS.md: path traversal).

Task data is user input: references that leave the uploads root (`../`, absolute paths,
percent-encoded dots, symlinks pointing out) are refused and reported, never read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labelkeep.dataio.exporting import resources
from tests.conftest import World
from tests.dataio.test_export_support import (
    IMAGE_CONFIG,
    add_tasks,
    annotate,
    archive,
    box,
    export,
    make_project,
)

SECRET = b"root:x:0:0:secret-marker"
IMAGE = b"\xff\xd8\xff\xe0 a real jpeg"

ATTACKS = [
    "/data/upload/../../../etc/passwd",
    "/data/upload/1/../../secret.txt",
    "/etc/passwd",
    "/data/upload/%2e%2e/%2e%2e/secret.txt",
    "/data/upload/1/%2E%2E%2F%2E%2E%2Fsecret.txt",
    "/data/upload/1/link.jpg",
    "/data/upload/1/dirlink/secret.txt",
    "../secret.txt",
    "/data/local-files/?d=../../etc/passwd",
    "file:///etc/passwd",
]
HARMLESS = [
    "https://images.example/remote.jpg",  # never fetched by an export
    "/data/upload/%252e%252e/secret.txt",  # decoded once: a literal, missing name
    "/data/upload/1/missing.jpg",
]


@pytest.fixture
def roots(tmp_path: Path, settings: Any) -> Path:
    uploads = tmp_path / "data" / "uploads"
    (uploads / "1").mkdir(parents=True)
    (uploads / "1" / "cat.jpg").write_bytes(IMAGE)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "data" / "secret.txt").write_bytes(SECRET)
    (uploads / "1" / "link.jpg").symlink_to(tmp_path / "secret.txt")
    (uploads / "1" / "dirlink").symlink_to(tmp_path, target_is_directory=True)
    (uploads / "1" / "alias.jpg").symlink_to(uploads / "1" / "cat.jpg")
    settings.UPLOADS_ROOT = uploads
    return tmp_path


@pytest.fixture
def project(world: World, roots: Path) -> Any:
    made = make_project(world, IMAGE_CONFIG)
    references = ["/data/upload/1/cat.jpg", "/data/upload/1/alias.jpg", *ATTACKS, *HARMLESS]
    for task_id in add_tasks(made, world, [{"image": r} for r in references]):
        annotate(task_id, [box(10, 10, 20, 20, "Cat")], world)
    return made


@pytest.mark.parametrize(
    "query",
    [
        "export_type=COCO&download_resources=true",
        "export_type=YOLO&download_resources=true",
        "export_type=VOC&download_resources=true",
        "export_type=COCO_WITH_IMAGES",
        "export_type=YOLO_WITH_IMAGES",
    ],
)
def test_only_permitted_files_enter_the_archive(world: World, project: Any, query: str) -> None:
    with archive(export(world.admin.client, project, f"?{query}")) as zipped:
        images = sorted(n for n in zipped.namelist() if n.startswith("images/"))
        contents = [zipped.read(name) for name in zipped.namelist()]
        report = json.loads(zipped.read("export_report.json"))
    assert images == ["images/alias.jpg", "images/cat.jpg"]
    assert not any(SECRET in content for content in contents)
    assert all(".." not in name and not name.startswith("/") for name in zipped.namelist())
    reported = {entry["reference"]: entry["reason"] for entry in report}
    assert set(reported) == set(ATTACKS) | set(HARMLESS)
    assert "traversal" in reported["/data/upload/../../../etc/passwd"]
    assert "traversal" in reported["/data/upload/%2e%2e/%2e%2e/secret.txt"]
    assert "outside the permitted storage roots" in reported["/etc/passwd"]
    assert "symlink" in reported["/data/upload/1/link.jpg"]
    assert "symlink" in reported["/data/upload/1/dirlink/secret.txt"]
    assert "never download" in reported["https://images.example/remote.jpg"]
    assert reported["/data/upload/%252e%252e/secret.txt"] == "file not found"


def test_bundled_bytes_are_the_upload(world: World, project: Any) -> None:
    query = "?export_type=YOLO&download_resources=true"
    with archive(export(world.admin.client, project, query)) as zipped:
        assert zipped.read("images/cat.jpg") == IMAGE
        assert zipped.getinfo("images/cat.jpg").file_size == len(IMAGE)


def test_nothing_is_read_without_download_resources(world: World, project: Any) -> None:
    with archive(export(world.admin.client, project, "?export_type=COCO")) as zipped:
        assert zipped.namelist() == ["result.json"]
        files = [i["file_name"] for i in json.loads(zipped.read("result.json"))["images"]]
    assert "/data/upload/../../../etc/passwd" in files  # the reference, as data, untouched


def test_refusals_are_logged(world: World, project: Any, caplog: Any) -> None:
    caplog.set_level("WARNING", logger="labelkeep.dataio.exporting.resources")
    archive(export(world.admin.client, project, "?export_type=VOC&download_resources=true"))
    logged = caplog.text
    assert "/etc/passwd" in logged and "path traversal" in logged
    assert "images.example" not in logged  # a remote URL is skipped, not an attack


def test_local_files_root_is_honoured_when_configured(roots: Path, settings: Any) -> None:
    local = roots / "local"
    (local / "set").mkdir(parents=True)
    (local / "set" / "ok.jpg").write_bytes(IMAGE)
    with pytest.raises(resources.Refused, match="not enabled"):
        resources.resolve("/data/local-files/?d=set/ok.jpg")
    settings.LOCAL_FILES_DOCUMENT_ROOT = str(local)
    assert (
        resources.resolve("/data/local-files/?d=set/ok.jpg") == (local / "set" / "ok.jpg").resolve()
    )
    for bad in ("/data/local-files/?d=../secret.txt", "/data/local-files/?d=/etc/passwd"):
        with pytest.raises(resources.Refused, match="traversal"):
            resources.resolve(bad)


def test_a_symlink_swapped_in_after_the_check_is_not_followed(roots: Path) -> None:
    uploads = roots / "data" / "uploads"
    real = resources.resolve("/data/upload/1/cat.jpg")
    real.unlink()
    real.symlink_to(roots / "secret.txt")
    with pytest.raises(resources.Refused):
        resources.open_file(real)
    assert (uploads / "1" / "cat.jpg").is_symlink()

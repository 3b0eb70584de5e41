"""Bundled images come only from the exported project's own uploads (THREATS.md: path
traversal in export; IDOR across organizations).

Task data is user input: references that leave the project's upload folder (`../`,
absolute paths, percent-encoded dots, symlinks pointing out, another project's uploads of
this organization or another) are refused and reported, never read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labelkeep.dataio.exporting import resources
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import services as tasks
from labelkeep.tasks.models import Task
from tests.conftest import TEST_ORIGIN, World
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
ELSEWHERE = b"\xff\xd8\xff\xe0 another project's jpeg"


def attacks(pid: int) -> list[str]:
    return [
        "/data/upload/../../../etc/passwd",
        f"/data/upload/{pid}/../../secret.txt",
        "/etc/passwd",
        "/data/upload/%2e%2e/%2e%2e/secret.txt",
        f"/data/upload/{pid}/%2E%2E%2F%2E%2E%2Fsecret.txt",
        f"/data/upload/{pid}/link.jpg",
        f"/data/upload/{pid}/dirlink/secret.txt",
        "../secret.txt",
        "/data/local-files/?d=../../etc/passwd",
        "file:///etc/passwd",
    ]


def harmless(pid: int) -> list[str]:
    return [
        "https://images.example/remote.jpg",  # never fetched by an export
        f"/data/upload/{pid}/%252e%252e/secret.txt",  # decoded once: a literal, missing name
        f"/data/upload/{pid}/missing.jpg",
    ]


@pytest.fixture
def roots(tmp_path: Path, settings: Any) -> Path:
    uploads = tmp_path / "data" / "uploads"
    uploads.mkdir(parents=True)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "data" / "secret.txt").write_bytes(SECRET)
    settings.UPLOADS_ROOT = uploads
    return tmp_path


def uploads_of(roots: Path, project: Project) -> Path:
    """The project's upload folder, with one image in it."""
    folder = roots / "data" / "uploads" / str(project.pk)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cat.jpg").write_bytes(IMAGE)
    return folder


@pytest.fixture
def project(world: World, roots: Path) -> Any:
    made = make_project(world, IMAGE_CONFIG)
    folder = uploads_of(roots, made)
    (folder / "link.jpg").symlink_to(roots / "secret.txt")
    (folder / "dirlink").symlink_to(roots, target_is_directory=True)
    (folder / "alias.jpg").symlink_to(folder / "cat.jpg")
    pid = made.pk
    own = [f"/data/upload/{pid}/cat.jpg", f"/data/upload/{pid}/alias.jpg"]
    for task_id in add_tasks(
        made, world, [{"image": r} for r in own + attacks(pid) + harmless(pid)]
    ):
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
    pid = project.pk
    assert set(reported) == set(attacks(pid)) | set(harmless(pid))
    assert "traversal" in reported["/data/upload/../../../etc/passwd"]
    assert "traversal" in reported["/data/upload/%2e%2e/%2e%2e/secret.txt"]
    assert "traversal" in reported["/data/local-files/?d=../../etc/passwd"]
    assert "outside the permitted storage roots" in reported["/etc/passwd"]
    assert "symlink" in reported[f"/data/upload/{pid}/link.jpg"]
    assert "symlink" in reported[f"/data/upload/{pid}/dirlink/secret.txt"]
    assert "never download" in reported["https://images.example/remote.jpg"]
    assert reported[f"/data/upload/{pid}/%252e%252e/secret.txt"] == "file not found"


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


def test_local_files_are_never_bundled(world: World, roots: Path, settings: Any) -> None:
    # Local-files storage is not built: no setting (Label Studio's LOCAL_FILES_DOCUMENT_ROOT
    # included) opens a server-wide root that every project could read.
    local = roots / "local"
    (local / "set").mkdir(parents=True)
    (local / "set" / "ok.jpg").write_bytes(IMAGE)
    settings.LOCAL_FILES_DOCUMENT_ROOT = str(local)
    settings.LOCAL_FILES_SERVING_ENABLED = True
    made = make_project(world, IMAGE_CONFIG)
    with pytest.raises(resources.Refused, match="not enabled"):
        resources.resolve("/data/local-files/?d=set/ok.jpg", made.pk)
    for bad in ("/data/local-files/?d=../secret.txt", "/data/local-files/?d=/etc/passwd"):
        with pytest.raises(resources.Refused, match="traversal"):
            resources.resolve(bad, made.pk)


def test_a_symlink_swapped_in_after_the_check_is_not_followed(
    world: World, roots: Path, project: Any
) -> None:
    folder = roots / "data" / "uploads" / str(project.pk)
    real = resources.resolve(f"/data/upload/{project.pk}/cat.jpg", project.pk)
    real.unlink()
    real.symlink_to(roots / "secret.txt")
    with pytest.raises(resources.Refused):
        resources.open_file(real)
    assert (folder / "cat.jpg").is_symlink()


# --- Another project's uploads ----------------------------------------------------------

ARCHIVES = [
    "export_type=COCO&download_resources=true",
    "export_type=YOLO&download_resources=true",
    "export_type=VOC&download_resources=true",
]


@pytest.fixture
def victim(world: World, roots: Path) -> Project:
    """Project A of the organization, with an uploaded image."""
    made = make_project(world, IMAGE_CONFIG, title="Victim")
    (uploads_of(roots, made) / "private.jpg").write_bytes(ELSEWHERE)
    return made


def other_org_project(world: World) -> Project:
    made = projects.create_project(
        world.outsider.org,
        {"title": "Elsewhere", "label_config": IMAGE_CONFIG},
        actor=world.outsider.user,
        origin=TEST_ORIGIN,
    )
    return made


def refer_to(project: Project, actor: Any, references: list[str]) -> None:
    """Tasks of `project` whose images are `references`, each with a box by `actor`."""
    created = tasks.create_tasks(
        project,
        [tasks.NewTask(data={"image": r}) for r in references],
        actor=actor.user,
        origin=TEST_ORIGIN,
    )
    for task in Task.objects.select_related("project").filter(pk__in=created.task_ids):
        tasks.create_annotation(
            task,
            {"result": [box(10, 10, 20, 20, "Cat")]},
            actor=actor.user,
            completed_by=actor.user,
            origin=TEST_ORIGIN,
        )


def stolen_references(victim: Project) -> list[str]:
    pid = victim.pk
    return [
        f"/data/upload/{pid}/private.jpg",
        f"/data/upload/{pid}/./private.jpg",
        f"/data/upload/{pid}//private.jpg",
        f"/data/upload/0{pid}/private.jpg",
        f"/data/upload/{pid}%2Fprivate.jpg",
    ]


@pytest.mark.parametrize("query", ARCHIVES)
@pytest.mark.parametrize("where", ["same-org", "other-org"])
def test_another_projects_uploads_are_refused(
    world: World, roots: Path, victim: Project, query: str, where: str, caplog: Any
) -> None:
    caplog.set_level("WARNING", logger="labelkeep.dataio.exporting.resources")
    if where == "same-org":
        thief, actor = make_project(world, IMAGE_CONFIG, title="Thief"), world.admin
    else:
        thief, actor = other_org_project(world), world.outsider
    uploads_of(roots, thief)  # its own image is bundled: the rule is per project
    stolen = stolen_references(victim)
    sideways = f"/data/upload/{thief.pk}/../{victim.pk}/private.jpg"
    refer_to(thief, actor, [f"/data/upload/{thief.pk}/cat.jpg", *stolen, sideways])
    with archive(export(actor.client, thief, f"?{query}")) as zipped:
        images = sorted(n for n in zipped.namelist() if n.startswith("images/"))
        contents = [zipped.read(name) for name in zipped.namelist()]
        report = json.loads(zipped.read("export_report.json"))
    assert images == ["images/cat.jpg"]
    assert not any(ELSEWHERE in content for content in contents)
    reported = {entry["reference"]: entry["reason"] for entry in report}
    assert set(reported) == {*stolen, sideways}
    for reference in stolen:
        assert "not an upload of this project" in reported[reference], reference
    assert "traversal" in reported[sideways]
    assert f"/data/upload/{victim.pk}/private.jpg" in caplog.text


def test_a_symlink_into_another_project_is_refused(
    world: World, roots: Path, victim: Project
) -> None:
    thief = make_project(world, IMAGE_CONFIG, title="Thief")
    folder = uploads_of(roots, thief)
    (folder / "borrowed.jpg").symlink_to(roots / "data" / "uploads" / str(victim.pk) / "cat.jpg")
    with pytest.raises(resources.Refused, match="symlink"):
        resources.resolve(f"/data/upload/{thief.pk}/borrowed.jpg", thief.pk)
    # The victim's own export still bundles it.
    assert resources.resolve(f"/data/upload/{victim.pk}/private.jpg", victim.pk).is_file()

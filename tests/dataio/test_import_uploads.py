"""Uploaded files are served only to people who may see the project, and never render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labelkeep.accounts.roles import Role
from labelkeep.dataio import formats, uploads
from labelkeep.dataio.models import FileUpload
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Task
from tests.conftest import HttpsClient, World, as_actor, make_user
from tests.dataio.test_import_support import make_project, post_files, use_uploads_root

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"/>'
HTML = b"<html><script>fetch('/api/current-user/token')</script></html>"


@pytest.fixture
def project(world: World) -> Project:
    return make_project(world, "<View></View>")


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    return use_uploads_root(settings, tmp_path)


def upload(world: World, project: Project, name: str, content: bytes) -> str:
    """Upload one media file; the URL its task refers to."""
    response = post_files(world.admin.client, project, {name: content}, "return_task_ids=true")
    assert response.status_code == 201, response.json()
    (task_id,) = response.json()["task_ids"]
    (value,) = Task.objects.get(pk=task_id).data.values()
    assert isinstance(value, str)
    return value


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_image_is_served_inline_with_its_type(world: World, project: Project, root: Path) -> None:
    url = upload(world, project, "cat.png", PNG)
    response = world.member.client.get(url, HTTP_ACCEPT="image/avif,image/webp,image/png")
    assert response.status_code == 200
    assert body(response) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Disposition"].startswith("inline")
    assert "private" in response["Cache-Control"]


# Every accepted media type a labeling tag shows, with the type it is served under.
INLINE = [
    ("a.png", "image/png"),
    ("a.jpg", "image/jpeg"),
    ("a.jpeg", "image/jpeg"),
    ("a.gif", "image/gif"),
    ("a.webp", "image/webp"),
    ("a.bmp", "image/bmp"),
    ("a.tif", "image/tiff"),
    ("a.tiff", "image/tiff"),
    ("a.mp3", "audio/mpeg"),
    ("a.wav", "audio/wav"),
    ("a.ogg", "audio/ogg"),
    ("a.flac", "audio/flac"),
    ("a.m4a", "audio/mp4"),
    ("a.aac", "audio/aac"),
    ("a.opus", "audio/ogg"),
    ("a.mp4", "video/mp4"),
    ("a.webm", "video/webm"),
    ("a.ogv", "video/ogg"),
    ("a.mov", "video/quicktime"),
    ("a.m4v", "video/mp4"),
]
# Accepted, but able to run script (or render a document) on our origin: never inline.
ATTACHMENTS = [
    ("evil.svg", SVG),
    ("evil.html", HTML),
    ("evil.htm", HTML),
    ("doc.pdf", b"%PDF-1.4"),
    ("data.xml", b"<x/>"),
]


@pytest.mark.parametrize(("name", "content_type"), INLINE)
def test_media_is_served_inline_with_its_type(
    world: World, project: Project, root: Path, name: str, content_type: str
) -> None:
    url = upload(world, project, name, SVG)  # the content does not choose the type
    response = world.member.client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Disposition"].startswith("inline;")
    assert body(response) == SVG


def test_every_accepted_media_type_is_inline_or_an_attachment() -> None:
    inline = {name[name.rindex(".") :] for name, _ in INLINE}
    attached = {name[name.rindex(".") :] for name, _ in ATTACHMENTS}
    assert set(formats.MEDIA_KINDS) == inline | attached
    assert set(uploads.INLINE_TYPES) == inline
    assert ".svg" not in uploads.INLINE_TYPES


@pytest.mark.parametrize(("name", "content"), ATTACHMENTS)
def test_scriptable_files_are_attachments(
    world: World, project: Project, root: Path, name: str, content: bytes
) -> None:
    url = upload(world, project, name, content)
    assert url.endswith(name[name.rindex(".") :])  # the name is server-made, the type kept
    response = world.member.client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert body(response) == content


def test_svg_stays_an_attachment_when_a_range_is_asked(
    world: World, project: Project, root: Path
) -> None:
    url = upload(world, project, "evil.svg", SVG)
    response = world.member.client.get(url, HTTP_RANGE="bytes=0-9", HTTP_ACCEPT="image/svg+xml")
    assert response.status_code == 206
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_task_files_uploaded_for_import_are_attachments(
    world: World, project: Project, root: Path
) -> None:
    response = post_files(world.admin.client, project, {"t.json": b'[{"x": "<script>"}]'})
    upload_row = FileUpload.objects.get(pk=response.json()["file_upload_ids"][0])
    served = world.admin.client.get(f"/data/upload/{upload_row.path}")
    assert served["Content-Type"] == "application/octet-stream"
    assert served["Content-Disposition"].startswith("attachment;")


def test_who_may_fetch_an_upload(world: World, project: Project, root: Path, anon: Any) -> None:
    url = upload(world, project, "cat.png", PNG)
    assert world.admin.client.get(url).status_code == 200
    assert world.member.client.get(url).status_code == 200  # an annotator of the project
    elsewhere = as_actor(make_user("other@a.example", org=world.org, role=Role.ANNOTATOR))
    assert elsewhere.client.get(url).status_code == 404  # same org, not on the project
    assert world.outsider.client.get(url).status_code == 404
    refused = world.outsider.client.get(url, HTTP_ACCEPT="image/png")
    assert refused.status_code == 404 and refused["Content-Type"] == "application/json"
    assert anon.get(url).status_code == 401
    browser = HttpsClient()
    browser.force_login(world.member.user)  # a browser's session, as <img src> sends it
    assert browser.get(url).status_code == 200


def test_only_the_projects_own_files(world: World, project: Project, root: Path) -> None:
    url = upload(world, project, "cat.png", PNG)
    other = make_project(world, "<View></View>")
    name = url.rsplit("/", 1)[1]
    assert world.admin.client.get(f"/data/upload/{other.pk}/{name}").status_code == 404
    # A file lying in the folder without being an upload of the project is not served.
    stray = root / str(project.pk) / ("0" * 32 + ".png")
    stray.write_bytes(PNG)
    assert world.admin.client.get(f"/data/upload/{project.pk}/{stray.name}").status_code == 404


@pytest.mark.parametrize(
    "tail",
    [
        "../../secret_key",
        "..%2F..%2Fsecret_key",
        "%2e%2e/%2e%2e/secret_key",
        "%2e%2e%2f%2e%2e%2fsecret_key",
        "..\\..\\secret_key",
        "..%5c..%5csecret_key",
        "/etc/passwd",
        "%2fetc%2fpasswd",
        "cat.png%00.png",
        ".",
        "",
    ],
)
def test_traversal_forms_are_404(world: World, project: Project, root: Path, tail: str) -> None:
    (root / "secret_key").parent.mkdir(parents=True, exist_ok=True)
    (root / "secret_key").write_text("top secret")
    upload(world, project, "cat.png", PNG)
    response = world.admin.client.get(f"/data/upload/{project.pk}/{tail}")
    assert response.status_code == 404
    assert b"top secret" not in response.content


def test_symlinks_are_never_followed(world: World, project: Project, root: Path) -> None:
    url = upload(world, project, "cat.png", PNG)
    stored = root / str(project.pk) / url.rsplit("/", 1)[1]
    secret = root.parent / "outside.txt"
    secret.write_text("top secret")
    stored.unlink()
    stored.symlink_to(secret)
    response = world.admin.client.get(url)
    assert response.status_code == 404
    assert b"top secret" not in response.content


def test_a_deleted_file_is_404(world: World, project: Project, root: Path) -> None:
    url = upload(world, project, "cat.png", PNG)
    (root / str(project.pk) / url.rsplit("/", 1)[1]).unlink()
    assert world.admin.client.get(url).status_code == 404


def test_uploads_are_only_read(world: World, project: Project, root: Path) -> None:
    url = upload(world, project, "cat.png", PNG)
    assert world.admin.client.post(url, {}).status_code == 405
    assert world.admin.client.delete(url).status_code == 405
    assert world.admin.client.get(url).status_code == 200


def test_deleting_the_project_removes_its_files(
    world: World, project: Project, root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    url = upload(world, project, "cat.png", PNG)
    stored = root / str(project.pk) / url.rsplit("/", 1)[1]
    assert stored.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert world.admin.client.delete(f"/api/projects/{project.pk}/").status_code == 204
    assert not FileUpload.objects.exists()
    assert not stored.exists()


MEDIA = bytes(range(256)) * 40  # 10,240 bytes


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, len(MEDIA) - 1),
        ("bytes=-10", len(MEDIA) - 10, len(MEDIA) - 1),
        ("bytes=10000-999999", 10000, len(MEDIA) - 1),
        ("bytes=-999999", 0, len(MEDIA) - 1),
    ],
)
def test_one_byte_range_is_a_206(
    world: World, project: Project, root: Path, header: str, first: int, last: int
) -> None:
    url = upload(world, project, "clip.mp3", MEDIA)
    response = world.member.client.get(url, HTTP_RANGE=header)
    assert response.status_code == 206
    assert body(response) == MEDIA[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(MEDIA)}"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Content-Type"] == "audio/mpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Disposition"].startswith("inline")


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "bytes=9-1", "items=0-1", "bytes=-", "x"])
def test_ranges_we_do_not_read_get_the_whole_file(
    world: World, project: Project, root: Path, header: str
) -> None:
    url = upload(world, project, "clip.mp3", MEDIA)
    response = world.member.client.get(url, HTTP_RANGE=header)
    assert response.status_code == 200
    assert body(response) == MEDIA
    assert response["Accept-Ranges"] == "bytes"


def test_a_range_past_the_end_is_416(world: World, project: Project, root: Path) -> None:
    url = upload(world, project, "clip.mp3", MEDIA)
    for header in (f"bytes={len(MEDIA)}-", "bytes=-0"):
        response = world.member.client.get(url, HTTP_RANGE=header)
        assert response.status_code == 416
        assert response["Content-Range"] == f"bytes */{len(MEDIA)}"


@pytest.mark.parametrize("header", ["bytes=-5", "bytes=-1", "bytes=0-", "bytes=0-0", "bytes=-0"])
def test_any_range_of_an_empty_file_is_416(
    world: World, project: Project, root: Path, header: str
) -> None:
    url = upload(world, project, "silence.mp3", b"")
    response = world.member.client.get(url, HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */0"
    assert response["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=-5", 0, False),  # no byte to send, no way to write `bytes 0--1/0`
        ("bytes=-0", 0, False),
        ("bytes=0-", 0, False),
        ("bytes=0-0", 0, False),
        ("bytes=-0", 3, False),
        ("bytes=3-", 3, False),
        ("bytes=-5", 3, (0, 2)),  # a suffix longer than the file is all of it (RFC 9110)
        ("bytes=-3", 3, (0, 2)),
        ("bytes=-1", 1, (0, 0)),
        ("bytes=0-0", 1, (0, 0)),
        ("bytes=2-", 3, (2, 2)),
        ("bytes=1-999", 3, (1, 2)),
        (" bytes=0-1 ", 3, (0, 1)),
        ("bytes=2-1", 3, None),  # not a valid range: the whole file
        ("bytes=2-1", 0, None),
        ("bytes=-", 3, None),
        ("bytes=0-1,2-", 3, None),
        ("bytes=-1234567890123456789", 3, None),  # more digits than we read
    ],
)
def test_byte_range_edges(header: str, size: int, expected: object) -> None:
    assert uploads.byte_range(header, size) == expected


def test_if_range_gets_the_whole_file(world: World, project: Project, root: Path) -> None:
    url = upload(world, project, "clip.mp3", MEDIA)
    response = world.member.client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"x"')
    assert response.status_code == 200 and body(response) == MEDIA


def test_ranges_of_scriptable_files_stay_attachments(
    world: World, project: Project, root: Path
) -> None:
    url = upload(world, project, "page.html", HTML)
    response = world.member.client.get(url, HTTP_RANGE="bytes=0-5")
    assert response.status_code == 206
    assert body(response) == HTML[:6]
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "application/octet-stream"
    outsider = world.outsider.client.get(url, HTTP_RANGE="bytes=0-5")
    assert outsider.status_code == 404

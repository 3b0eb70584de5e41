"""Chunked request bodies (Transfer-Encoding: chunked, no Content-Length), in process.

Here the environ is what gunicorn hands over for such a request: no CONTENT_LENGTH, the
decoded body in `wsgi.input`, and `wsgi.input_terminated`. tests/server/test_chunked.py
sends real chunked requests to the real server.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from labelkeep.projects.models import Project
from labelkeep.tasks.models import Task
from tests.conftest import HttpsClient, World
from tests.dataio.test_import_support import (
    TEXT_CONFIG,
    import_path,
    make_project,
    nothing_imported,
    use_uploads_root,
)


class BrokenInput(io.RawIOBase):
    """A body whose chunks stop making sense midway (gunicorn raises an IOError)."""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise OSError("Invalid chunk size")


@pytest.fixture
def project(world: World) -> Project:
    return make_project(world)


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    return use_uploads_root(settings, tmp_path)


def chunked(
    client: HttpsClient,
    path: str,
    body: bytes | io.RawIOBase,
    content_type: str = "application/json",
    extra: dict[str, Any] | None = None,
) -> Any:
    """POST `body` as gunicorn hands over a chunked one; `extra` changes the environ."""
    environ: dict[str, Any] = {
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body) if isinstance(body, bytes) else body,
        "wsgi.input_terminated": True,
    }
    environ.update(extra or {})
    return client.generic("POST", path, "", content_type=content_type, **environ)


def test_a_chunked_json_import_is_read(world: World, project: Project, root: Path) -> None:
    body = json.dumps([{"text": "one"}, {"text": "two"}]).encode()
    response = chunked(world.admin.client, import_path(project), body)
    assert response.status_code == 201, response.json()
    assert response.json()["task_count"] == 2
    texts = Task.objects.filter(project=project).order_by("id").values_list("data", flat=True)
    assert list(texts) == [{"text": "one"}, {"text": "two"}]


def test_a_chunked_multipart_upload_is_read(world: World, project: Project, root: Path) -> None:
    boundary = "xyzzy"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="lines.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
        f"first\nsecond\n\r\n--{boundary}--\r\n"
    ).encode()
    response = chunked(
        world.admin.client,
        import_path(project),
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["found_formats"] == {".txt": 1}
    assert Task.objects.filter(project=project).count() == 2


def test_other_api_writes_read_chunked_bodies_too(world: World) -> None:
    body = json.dumps({"title": "Sent in chunks", "label_config": TEXT_CONFIG}).encode()
    response = chunked(world.admin.client, "/api/projects/", body)
    assert response.status_code == 201, response.json()
    assert response.json()["title"] == "Sent in chunks"


def test_a_chunked_body_past_the_limit_is_a_413_naming_it(
    world: World, project: Project, root: Path, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = json.dumps([{"text": "x" * 100} for _ in range(40)]).encode()
    response = chunked(world.admin.client, import_path(project), body)
    assert response.status_code == 413
    answer = response.json()
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE (2048 bytes)" in answer["detail"]
    assert "Content-Length" in answer["detail"]
    assert answer["status_code"] == 413
    assert nothing_imported(project, root)
    # Exactly at the limit it is read.
    fits = json.dumps([{"text": "y" * (2048 - 14)}]).encode()
    assert len(fits) == 2048
    assert chunked(world.admin.client, import_path(project), fits).status_code == 201


def test_the_limit_holds_before_authentication(anon: HttpsClient, settings: Any) -> None:
    # The body is read before the caller is known: never more than the limit of it.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = chunked(anon, "/api/projects/", b"[" + b"0," * 4096 + b"0]")
    assert response.status_code == 413


def test_without_a_terminated_input_the_answer_is_411(world: World, project: Project) -> None:
    # A WSGI server that passes the raw stream: reading to its end could hang.
    body = json.dumps([{"text": "one"}]).encode()
    response = chunked(
        world.admin.client, import_path(project), body, extra={"wsgi.input_terminated": False}
    )
    assert response.status_code == 411
    assert "Content-Length" in response.json()["detail"]
    assert not Task.objects.exists()


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"HTTP_TRANSFER_ENCODING": "gzip, chunked"}, 501),
        ({"HTTP_TRANSFER_ENCODING": "chunked, chunked"}, 501),
        ({"CONTENT_LENGTH": "2"}, 400),
    ],
    ids=["other-coding", "twice", "with-content-length"],
)
def test_codings_and_framings_it_cannot_trust_are_refused(
    world: World, project: Project, extra: dict[str, str], status: int
) -> None:
    response = chunked(world.admin.client, import_path(project), b"[]", extra=extra)
    assert response.status_code == status
    assert response.json()["status_code"] == status
    assert "Transfer-Encoding" in response.json()["detail"]
    assert not Task.objects.exists()


def test_a_malformed_chunked_body_is_a_400(world: World, project: Project) -> None:
    response = chunked(world.admin.client, import_path(project), BrokenInput())
    assert response.status_code == 400
    assert "malformed" in response.json()["detail"]


def test_pages_outside_the_api_get_text(anon: HttpsClient) -> None:
    response = chunked(anon, "/user/login/", b"email=a", extra={"wsgi.input_terminated": False})
    assert response.status_code == 411
    assert response["Content-Type"].startswith("text/plain")

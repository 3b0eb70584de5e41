"""Django's own limits on multipart and form bodies answer as JSON errors naming the setting
(they used to fall through to the bare `400 {"detail": "Bad request."}` page)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

from labelkeep.projects.models import Project
from tests.conftest import HttpsClient, World
from tests.dataio.test_import_support import (
    import_path,
    make_project,
    nothing_imported,
    post_files,
    use_uploads_root,
)


@pytest.fixture
def project(world: World) -> Project:
    return make_project(world)


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    return use_uploads_root(settings, tmp_path)


def test_file_count_limit_is_a_setting_of_100_by_default() -> None:
    assert django_settings.DATA_UPLOAD_MAX_NUMBER_FILES == 100


def test_more_files_than_the_limit_is_a_400_naming_the_setting(
    world: World, project: Project, root: Path
) -> None:
    files = {f"t{n}.txt": f"line {n}\n".encode() for n in range(101)}
    response = post_files(world.admin.client, project, files)
    assert response.status_code == 400
    body = response.json()
    assert "DATA_UPLOAD_MAX_NUMBER_FILES (100)" in body["detail"]
    assert body["status_code"] == 400 and "version" in body
    assert nothing_imported(project, root)
    # At the limit, all are imported.
    del files["t100.txt"]
    imported = post_files(world.admin.client, project, files)
    assert imported.status_code == 201, imported.json()
    assert imported.json()["task_count"] == 100


def test_the_file_count_limit_follows_the_setting(
    world: World, project: Project, root: Path, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    files = {f"t{n}.txt": b"line\n" for n in range(3)}
    response = post_files(world.admin.client, project, files)
    assert response.status_code == 400
    assert "DATA_UPLOAD_MAX_NUMBER_FILES (2)" in response.json()["detail"]
    assert nothing_imported(project, root)


def test_a_large_multipart_field_is_a_413_as_urlencoded_is(
    world: World, project: Project, root: Path, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    url = "https://example.com/tasks.json?" + "x" * 3000
    client = world.admin.client
    for sent in (
        client.post(import_path(project), {"url": url}, format="multipart"),
        client.post(import_path(project), f"url={url}", content_type=_FORM),
    ):
        assert sent.status_code == 413, sent.content
        assert "DATA_UPLOAD_MAX_MEMORY_SIZE (2048 bytes)" in sent.json()["detail"]
    assert nothing_imported(project, root)


_FORM = "application/x-www-form-urlencoded"


def test_too_many_form_fields_is_a_400_naming_the_setting(
    world: World, project: Project, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    body = "&".join(f"f{n}=v" for n in range(10))
    response = world.admin.client.post(import_path(project), body, content_type=_FORM)
    assert response.status_code == 400
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS (5)" in response.json()["detail"]


def test_limits_reached_while_a_session_login_is_checked_are_json_too(
    world: World, project: Project, root: Path, settings: Any
) -> None:
    # A session login's CSRF check reads the form before the view runs.
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 1
    browser = HttpsClient(enforce_csrf_checks=True)
    browser.force_login(world.admin.user)
    token = secrets.token_hex(16)  # a CSRF secret: 32 letters and digits
    browser.cookies[django_settings.CSRF_COOKIE_NAME] = token
    files = [SimpleUploadedFile(f"t{n}.txt", b"line\n") for n in range(2)]
    response = browser.post(
        import_path(project),
        {"file": files, "csrfmiddlewaretoken": token},
        format="multipart",
        HTTP_ORIGIN="https://testserver",
    )
    assert response.status_code == 400, response.content
    assert "DATA_UPLOAD_MAX_NUMBER_FILES (1)" in response.json()["detail"]
    assert nothing_imported(project, root)

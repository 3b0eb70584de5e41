"""Importing from a URL: always through the guarded client, always as a job.

A real HTTP server on 127.0.0.1 stands in for the remote host. Loopback is refused by the
guard, so tests reach it only by listing 127.0.0.1 in SSRF_ALLOWLIST, and show the same URL
refused without it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from labelkeep.audit.models import AuditEvent
from labelkeep.dataio import jobs
from labelkeep.dataio.models import FileUpload
from labelkeep.jobs.models import Job
from labelkeep.jobs.services import execute
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Task
from tests.conftest import World
from tests.dataio.test_import_support import (
    IMAGE_CONFIG,
    import_path,
    make_project,
    nothing_imported,
    post_json,
    stored_files,
    use_uploads_root,
)

SECRET = b"db_password=hunter2 UPSTREAM-SECRET"
ROUTES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/tasks.json": (200, {}, b'[{"text": "from a url"}, {"data": {"text": "two"}}]'),
    "/tasks.csv": (200, {}, b"text\nrow 1\nrow 2\n"),
    "/bad.csv": (
        200,
        {},
        b"text,source\n"
        + b"".join(b"row %d,web\n" % n if n != 1500 else b"c\n" for n in range(3000)),
    ),
    "/download": (200, {"Content-Type": "application/json; charset=utf-8"}, b'{"text": "t"}'),
    "/cat.png": (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\nimage"),
    "/mystery": (200, {"Content-Type": "application/octet-stream"}, b"?"),
    "/error.json": (500, {}, SECRET),
    "/big.json": (200, {}, b"[" + b'{"text": "x"},' * 500 + b'{"text": "x"}]'),
    "/elsewhere.json": (302, {"Location": "http://127.0.0.2:9/tasks.json"}, b"moved"),
}


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        status, headers, body = ROUTES.get(self.path.split("?")[0], (404, {}, b"no"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    seen: list[str]


@pytest.fixture
def remote() -> Iterator[Server]:
    server = Server(("127.0.0.1", 0), Handler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url(server: Server, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


@pytest.fixture
def project(world: World) -> Project:
    return make_project(world)


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    settings.SSRF_PROTECTION_ENABLED = True
    settings.SSRF_ALLOWLIST = ["127.0.0.1"]
    return use_uploads_root(settings, tmp_path)


def run(world: World, project: Project, response: Any) -> dict[str, Any]:
    """Run the queued import's job; its status as the API reports it."""
    assert response.status_code == 201, response.json()
    queued = response.json()
    assert set(queued) == {"import", "job", "status", "file_upload_ids"}
    execute(queued["job"])
    status = world.admin.client.get(f"/api/projects/{project.pk}/imports/{queued['import']}")
    body: dict[str, Any] = status.json()
    return body


def test_json_file_from_a_url(world: World, project: Project, root: Path, remote: Server) -> None:
    done = run(
        world, project, post_json(world.admin.client, project, {"url": url(remote, "/tasks.json")})
    )
    assert done["status"] == "completed", done
    assert done["task_count"] == 2
    assert done["found_formats"] == {".json": 1}
    data = Task.objects.filter(project=project).order_by("id").values_list("data", flat=True)
    assert list(data) == [{"text": "from a url"}, {"text": "two"}]
    (upload,) = FileUpload.objects.filter(project=project)
    assert done["file_upload_ids"] == [upload.pk] and upload.original_name == "tasks.json"
    assert remote.seen == ["/tasks.json"]


def test_form_field_url_and_format_from_content_type(
    world: World, project: Project, root: Path, remote: Server
) -> None:
    response = world.admin.client.post(
        import_path(project), {"url": url(remote, "/download")}, format="multipart"
    )
    done = run(world, project, response)
    assert done["status"] == "completed" and done["found_formats"] == {".json": 1}
    form = world.admin.client.post(
        import_path(project),
        f"url={url(remote, '/tasks.csv')}",
        content_type="application/x-www-form-urlencoded",
    )
    assert run(world, project, form)["task_count"] == 2
    assert Task.objects.filter(project=project).count() == 3


def test_media_from_a_url(world: World, root: Path, remote: Server) -> None:
    project = make_project(world, IMAGE_CONFIG)
    done = run(
        world, project, post_json(world.admin.client, project, {"url": url(remote, "/cat.png")})
    )
    assert done["status"] == "completed"
    (task,) = Task.objects.filter(project=project)
    assert task.data["image"].startswith(f"/data/upload/{project.pk}/")


def test_query_string_is_not_recorded(
    world: World, project: Project, root: Path, remote: Server
) -> None:
    signed = url(remote, "/tasks.json") + "?X-Amz-Signature=abc123secret"
    done = run(world, project, post_json(world.admin.client, project, {"url": signed}))
    assert done["status"] == "completed"
    assert done["url"] == url(remote, "/tasks.json")
    event = AuditEvent.objects.get(action="project.import")
    assert "abc123secret" not in str(event.details)
    assert remote.seen == ["/tasks.json?X-Amz-Signature=abc123secret"]


def test_loopback_is_refused_without_the_allowlist(
    world: World, project: Project, root: Path, remote: Server, settings: Any
) -> None:
    settings.SSRF_ALLOWLIST = []
    response = post_json(world.admin.client, project, {"url": url(remote, "/tasks.json")})
    assert response.status_code == 400
    assert response.json()["detail"] == "127.0.0.1 is a loopback address; it is refused."
    assert remote.seen == []  # not a byte was sent
    assert not Job.objects.exists()
    assert nothing_imported(project, root)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("file:///etc/passwd", "Only http:// and https:// URLs can be fetched."),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[::1]:8000/x.json", "::1 is a loopback address"),
        ("http://user:pw@example.com/x.json", "user name or password"),
        ("gopher://example.com/", "Only http:// and https://"),
    ],
)
def test_unsafe_urls_are_refused_at_once(
    world: World, project: Project, root: Path, given: str, message: str
) -> None:
    response = post_json(world.admin.client, project, {"url": given})
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not Job.objects.exists()


def test_upstream_error_body_is_never_echoed(
    world: World, project: Project, root: Path, remote: Server
) -> None:
    done = run(
        world, project, post_json(world.admin.client, project, {"url": url(remote, "/error.json")})
    )
    assert done["status"] == "failed"
    assert done["error"] == "127.0.0.1 answered HTTP 500."
    job = Job.objects.get(pk=done["job"])
    for text in (done["error"], job.error, job.message, str(job.result)):
        assert "hunter2" not in text and "UPSTREAM" not in text
    assert nothing_imported(project, root)


def test_redirect_to_a_refused_address_fails(
    world: World, project: Project, root: Path, remote: Server
) -> None:
    done = run(
        world,
        project,
        post_json(world.admin.client, project, {"url": url(remote, "/elsewhere.json")}),
    )
    assert done["status"] == "failed"
    assert done["error"] == "127.0.0.2 is a loopback address; it is refused."
    assert nothing_imported(project, root)


def test_download_size_limit(
    world: World, project: Project, root: Path, remote: Server, settings: Any
) -> None:
    settings.IMPORT_MAX_FILE_SIZE = 1024
    done = run(
        world, project, post_json(world.admin.client, project, {"url": url(remote, "/big.json")})
    )
    assert done["status"] == "failed"
    assert "larger than the limit of 1024 bytes" in done["error"]
    assert nothing_imported(project, root)


def test_bad_row_in_a_fetched_file_imports_nothing(
    world: World, project: Project, root: Path, remote: Server
) -> None:
    done = run(
        world, project, post_json(world.admin.client, project, {"url": url(remote, "/bad.csv")})
    )
    assert done["status"] == "failed"
    assert done["error"] == "bad.csv, line 1502: 1 values, but the header names 2 columns."
    assert nothing_imported(project, root)
    assert stored_files(root) == []


def test_unknown_kind_of_file(world: World, project: Project, root: Path, remote: Server) -> None:
    done = run(
        world, project, post_json(world.admin.client, project, {"url": url(remote, "/mystery")})
    )
    assert done["status"] == "failed"
    assert done["error"].startswith("Could not tell what kind of file 127.0.0.1 sent")
    assert nothing_imported(project, root)


def test_json_in_the_url_field_is_tasks(world: World, project: Project, root: Path) -> None:
    response = world.admin.client.post(
        import_path(project), {"url": '[{"text": "inline"}]'}, format="multipart"
    )
    assert response.status_code == 201
    assert response.json()["task_count"] == 1
    assert Task.objects.get(project=project).data == {"text": "inline"}


def test_a_url_task_stays_a_task_when_the_config_reads_url(world: World, root: Path) -> None:
    project = make_project(world, '<View><Image name="i" value="$url"/></View>')
    response = post_json(world.admin.client, project, {"url": "https://example.com/cat.jpg"})
    assert response.status_code == 201
    assert "task_count" in response.json()
    assert Task.objects.get(project=project).data == {"url": "https://example.com/cat.jpg"}
    assert not Job.objects.exists()


def test_annotator_cannot_import_from_a_url(
    world: World, project: Project, root: Path, remote: Server
) -> None:
    response = post_json(world.member.client, project, {"url": url(remote, "/tasks.json")})
    assert response.status_code == 403
    assert remote.seen == []


def test_url_without_commit_stores_and_checks_only(
    world: World, project: Project, root: Path, remote: Server
) -> None:
    response = post_json(
        world.admin.client,
        project,
        {"url": url(remote, "/tasks.csv")},
        "commit_to_project=false",
    )
    done = run(world, project, response)
    assert done["status"] == "completed"
    assert done["task_count"] == 0 and done["data_columns"] == ["text"]
    assert not Task.objects.filter(project=project).exists()
    assert FileUpload.objects.filter(project=project).count() == 1


def test_the_record_keeps_the_options_and_learns_the_file_could_be_a_list(
    world: World, project: Project, root: Path, remote: Server
) -> None:
    response = post_json(
        world.admin.client,
        project,
        {"url": url(remote, "/tasks.csv")},
        "commit_to_project=false&return_task_ids=true",
    )
    path = f"/api/projects/{project.pk}/imports/{response.json()['import']}"
    queued = world.admin.client.get(path).json()
    assert queued["commit_to_project"] is False and queued["return_task_ids"] is True
    assert queued["could_be_tasks_list"] is False  # nothing read yet
    done = run(world, project, response)
    assert done["commit_to_project"] is False and done["return_task_ids"] is True
    assert done["could_be_tasks_list"] is True  # a CSV file
    assert done["preannotated_from_fields"] == []


def test_a_download_deleted_before_it_is_recorded_fails_clearly(
    world: World, project: Project, root: Path, remote: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone deletes the project's uploads just as the download lands: the import says so,
    and nothing is imported (rather than an internal error from a missing file)."""
    real_fetch = jobs._fetch

    def fetched_then_deleted(*args: Any, **kwargs: Any) -> FileUpload:
        upload = real_fetch(*args, **kwargs)
        FileUpload.objects.filter(pk=upload.pk).delete()
        return upload

    monkeypatch.setattr(jobs, "_fetch", fetched_then_deleted)
    done = run(
        world, project, post_json(world.admin.client, project, {"url": url(remote, "/tasks.json")})
    )
    assert done["status"] == "failed"
    assert (
        done["error"] == "The downloaded file was deleted before it could be read; import it again."
    )
    assert nothing_imported(project, root)

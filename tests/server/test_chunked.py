"""Chunked request bodies (Transfer-Encoding: chunked, no Content-Length) sent to the real
server: gunicorn decodes the chunks, labelkeep.api.chunked reads them, bounded."""

from __future__ import annotations

import json
import os
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server import harness
from tests.server.harness import RunningServer, run_cli, running_server

pytestmark = pytest.mark.server

LIMIT = 65_536  # the server's DATA_UPLOAD_MAX_MEMORY_SIZE in these tests
CONFIG = '<View><Text name="text" value="$text"/></View>'
# Where the server may listen: `LABELKEEP_TEST_PORTS=18900-18999` keeps it in a range
# (machines shared by several test runs); unset, the system chooses free ports.
PORTS = os.environ.get("LABELKEEP_TEST_PORTS", "")


def _port_from(span: str) -> Any:
    first, _, last = span.partition("-")
    candidates = iter(range(int(first), int(last or first) + 1))

    def free_port() -> int:
        for port in candidates:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise RuntimeError(f"no free port in {span}")

    return free_port


@pytest.fixture(scope="module")
def chunk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of its own, whose DATA_UPLOAD_MAX_MEMORY_SIZE is LIMIT."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATA_UPLOAD_MAX_MEMORY_SIZE", str(LIMIT))
        if PORTS:
            patch.setattr(harness, "free_port", _port_from(PORTS))
        with running_server(tmp_path_factory.mktemp("chunked") / "data") as running:
            yield running


@pytest.fixture(scope="module")
def client(chunk_server: RunningServer) -> Iterator[httpx.Client]:
    created = run_cli(
        *("user", "create", "--email", "chunks@server.example", "--password-stdin"),
        *("--org", "Chunked", "--role", "owner", "--token"),
        data_dir=chunk_server.data_dir,
        stdin="chunked test password 7\n",
    )
    assert created.returncode == 0, created.stdout + created.stderr
    token = created.stdout.strip().splitlines()[-1]
    with chunk_server.client(headers={"Authorization": f"Token {token}"}) as made:
        yield made


@pytest.fixture(scope="module")
def project(client: httpx.Client) -> int:
    made = client.post("/api/projects/", json={"title": "Chunks", "label_config": CONFIG})
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def in_chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    """A body without a length: httpx sends it with Transfer-Encoding: chunked."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_a_chunked_import_creates_its_tasks(client: httpx.Client, project: int) -> None:
    tasks = [{"text": f"task {n}"} for n in range(50)]
    body = json.dumps(tasks).encode()
    request = client.build_request(
        "POST",
        f"/api/projects/{project}/import?return_task_ids=true",
        content=in_chunks(body),
        headers={"Content-Type": "application/json"},
    )
    assert request.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in request.headers
    response = client.send(request)
    assert response.status_code == 201, response.text
    assert response.json()["task_count"] == 50
    listed = client.get(f"/api/tasks/{response.json()['task_ids'][-1]}")
    assert listed.json()["data"] == {"text": "task 49"}


def test_other_writes_read_chunked_bodies(client: httpx.Client) -> None:
    body = json.dumps({"title": "Made in chunks", "label_config": CONFIG}).encode()
    response = client.post(
        "/api/projects/",
        content=in_chunks(body, 7),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "Made in chunks"


def test_a_chunked_body_past_the_limit_is_refused_and_the_server_carries_on(
    client: httpx.Client, project: int
) -> None:
    body = json.dumps([{"text": "x" * 1000} for _ in range(LIMIT // 1000 + 10)]).encode()
    response = client.post(
        f"/api/projects/{project}/import",
        content=in_chunks(body, 8192),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert f"DATA_UPLOAD_MAX_MEMORY_SIZE ({LIMIT} bytes)" in response.json()["detail"]
    # The same tasks with a Content-Length reach the import's own limit, named the same way.
    sized = client.post(
        f"/api/projects/{project}/import",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert sized.status_code == 413
    assert client.get("/api/version").status_code == 200


def test_malformed_chunks_get_an_error_not_a_hang(
    chunk_server: RunningServer, project: int
) -> None:
    context = ssl.create_default_context(cafile=str(chunk_server.cert))
    with (
        socket.create_connection(("127.0.0.1", chunk_server.port), timeout=15) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(
            f"POST /api/projects/{project}/import HTTP/1.1\r\nHost: localhost\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            "zz\r\n[]\r\n0\r\n\r\n".encode()
        )
        answer = tls.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 400"), answer

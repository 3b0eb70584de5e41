"""Export snapshots against the real server and its in-process worker: a script that
creates a snapshot and downloads it at once, as Label Studio allows, gets it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from label_studio_sdk.client import LabelStudio

from tests.server.conftest import SetupOutcome
from tests.server.harness import RunningServer, run_cli

pytestmark = pytest.mark.server

CONFIG = """
<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text"><Choice value="Good"/><Choice value="Bad"/></Choices>
</View>
"""


def _manager_token(server: RunningServer, owner: SetupOutcome) -> str:
    created = run_cli(
        "user",
        "create",
        "--email",
        "exporter@server.example",
        "--password-stdin",
        "--role",
        "manager",
        "--org",
        owner.organization,
        "--token",
        data_dir=server.data_dir,
        stdin="server test exporter password 9\n",
    )
    assert created.returncode == 0, created.stdout + created.stderr
    return created.stdout.strip().splitlines()[-1]


def test_a_snapshot_created_is_ready_to_download(
    server: RunningServer, owner: SetupOutcome
) -> None:
    token = _manager_token(server, owner)
    with server.client() as http:
        # LabelStudio.__init__ is untyped around the typed base client.
        ls = LabelStudio(  # type: ignore[no-untyped-call]
            base_url=server.origin, api_key=token, httpx_client=http
        )
        project = ls.projects.create(title="Snapshots", label_config=CONFIG)
        assert project.id is not None
        rows = [{"text": f"review {n}"} for n in range(20)]
        as_sent: Any = rows  # plain dicts, as scripts pass them (typed as the request model)
        ls.projects.import_tasks(id=project.id, request=as_sent)
        snapshot = ls.projects.exports.create(id=project.id, title="at once")
        assert snapshot.id is not None
        assert snapshot.status == "completed"  # written by the worker while the POST waited
        body = b"".join(ls.projects.exports.download(id=project.id, export_pk=snapshot.id))
        tasks = json.loads(body)
        assert sorted(task["data"]["text"] for task in tasks) == sorted(r["text"] for r in rows)
        # A conversion, downloaded at once, likewise.
        ls.projects.exports.convert(id=project.id, export_pk=snapshot.id, export_type="CSV")
        csv = b"".join(
            ls.projects.exports.download(id=project.id, export_pk=snapshot.id, export_type="CSV")
        )
        assert csv.count(b"review ") == len(rows)

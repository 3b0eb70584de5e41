"""`labelkeep jobs check` against a server with its in-process worker, and without one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.server.harness import RunningServer, job_row, run_cli, running_server

pytestmark = pytest.mark.server

QUEUED = re.compile(r"Queued jobs\.selftest job (\d+)")


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server started with --no-worker: jobs wait for `labelkeep worker`."""
    with running_server(tmp_path_factory.mktemp("idle") / "data", "--no-worker") as running:
        yield running


def _job_id(output: str) -> int:
    match = QUEUED.search(output)
    assert match, output
    return int(match.group(1))


def test_check_succeeds_with_the_in_process_worker(server: RunningServer) -> None:
    result = run_cli("jobs", "check", "--timeout", "30", data_dir=server.data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    job_id = _job_id(result.stdout)
    assert f'job {job_id} succeeded: {{"steps": 3}}' in result.stdout
    status, stored, error = job_row(server.database, job_id)
    assert (status, error) == ("succeeded", "")
    assert stored is not None and json.loads(stored) == {"steps": 3}


def test_check_times_out_without_a_worker_then_a_worker_runs_it(
    idle_server: RunningServer,
) -> None:
    result = run_cli("jobs", "check", "--timeout", "1.5", data_dir=idle_server.data_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    job_id = _job_id(result.stdout)
    assert f"no worker picked up job {job_id}" in result.stderr
    assert job_row(idle_server.database, job_id)[0] == "queued"

    worker = run_cli("worker", "--batch", data_dir=idle_server.data_dir)
    assert worker.returncode == 0, worker.stdout + worker.stderr
    status, stored, error = job_row(idle_server.database, job_id)
    assert (status, error) == ("succeeded", "")
    assert stored is not None and json.loads(stored) == {"steps": 3}

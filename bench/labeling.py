"""Labeling through the real server: `python -m bench.labeling [--tasks N]`.

Seeds a text-classification project with N tasks, then measures annotation create,
task-list pages (100 tasks, fields=all) at random depths, unfiltered and filtered to the
tasks not yet labeled (`is_labeled=false`, as the data manager's "to do" list asks), and
single task get with `wrk` (bench/wrk/*.lua) at 8 and at 1 keep-alive connections, and the
label stream (`next`, then a skip) with Python clients, which read each answer to skip the
task they were given. The filtered list is read after the annotation workload, so it
matches most but not all tasks.
"""

from __future__ import annotations

import argparse
import threading
import time

import httpx

from bench.common import (
    Server,
    Timing,
    create_user,
    hammer,
    record,
    running_server,
    seed,
    settle_database,
)
from bench.loadgen import wrk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=20, help="per wrk run")
    parser.add_argument("--stream-requests", type=int, default=1000)
    args = parser.parse_args()
    lines = []
    with running_server() as server:
        key = create_user(server, "bench@example.com")
        project = seed(server, "bench@example.com", args.tasks)
        auth = {"Authorization": f"Token {key}"}
        with httpx.Client(base_url=server.base_url, verify=str(server.cert)) as client:
            first = client.get(f"/api/tasks/?project={project}&page_size=1", headers=auth)
            low = first.raise_for_status().json()["tasks"][0]["id"]
        values = {
            "key": key,
            "low": str(low),
            "count": str(args.tasks),
            "project": str(project),
            "pages": str(max(1, args.tasks // 100)),
        }
        for name, script in (
            ("annotation create", "annotate"),
            ("task list page (100, fields=all)", "page"),
            ("task list page (100, fields=all, is_labeled=false)", "filtered"),
            ("single task get", "get"),
        ):
            if script == "filtered":
                values["filter"] = "is_labeled=false"
                settle_database()
                pages, took = _pages(server, auth, project, values["filter"])
                values["pages"] = str(pages)
                lines.append(f"{name}, page 1 after a change (counts the matches): {took:.1f} ms")
            for connections in (8, 1):
                settle_database()
                load = wrk(server, script, values, connections=connections, seconds=args.seconds)
                lines.append(f"{name}, {connections} connections: {load.summary()}")
        for clients in (8, 1):
            settle_database()
            timing = _stream(server, auth, project, args.stream_requests, clients)
            lines.append(f"next task, {clients} clients: {timing.summary()}")
    record(f"Labeling: {args.tasks:,} tasks through HTTPS", lines)


def _pages(server: Server, auth: dict[str, str], project: int, query: str) -> tuple[int, float]:
    """How many 100-task pages the filtered list has now, and how long (ms) the request
    that counted them took: the first one after a change to the tasks counts the matches,
    later ones reuse the count until the next change."""
    with httpx.Client(base_url=server.base_url, verify=str(server.cert), timeout=60) as client:
        url = f"/api/tasks/?project={project}&page_size=100&fields=all&{query}"
        client.get("/api/version/", headers=auth).raise_for_status()  # connect first
        started = time.perf_counter()
        response = client.get(url, headers=auth).raise_for_status()
        elapsed = (time.perf_counter() - started) * 1000
    return max(1, int(response.json()["total"]) // 100), elapsed


def _stream(server: Server, auth: dict[str, str], project: int, total: int, clients: int) -> Timing:
    """`next` then a skip, per client; only `next` is timed."""
    latencies: list[float] = []
    lock = threading.Lock()

    def call(c: httpx.Client) -> None:
        start = time.perf_counter()
        task = c.get(f"/api/projects/{project}/next", headers=auth).raise_for_status().json()
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)
        c.post(
            f"/api/tasks/{task['id']}/annotations/",
            json={"result": [], "was_cancelled": True},
            headers=auth,
        ).raise_for_status()

    whole = hammer(call, server, total, clients)
    timed = latencies[clients:]  # the first call of each client only warms its connection
    return Timing(len(timed), whole.seconds, timed)


if __name__ == "__main__":
    main()

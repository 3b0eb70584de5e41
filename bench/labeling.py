"""Labeling through the real server: `python -m bench.labeling [--tasks N]`.

Seeds a text-classification project with N tasks, then measures with 8 concurrent
keep-alive clients: annotation create, task-list pages (100 tasks, fields=all) at random
depths, single task get, and the label stream (`next`) followed by a skip.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import threading

import httpx

from bench.common import ROOT, Server, create_user, hammer, record, running_server

RESULT = [
    {
        "from_name": "sentiment",
        "to_name": "text",
        "type": "choices",
        "value": {"choices": ["Positive"]},
    }
]


def seed(server: Server, email: str, tasks: int) -> int:
    result = subprocess.run(  # noqa: S603 (our own module)
        [sys.executable, "-m", "bench.seed", email, str(tasks)],
        env={**server.env, "LABELKEEP_DATA_DIR": str(server.data_dir)},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return int(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with running_server() as server:
        key = create_user(server, "bench@example.com")
        project = seed(server, "bench@example.com", args.tasks)
        auth = {"Authorization": f"Token {key}"}
        with httpx.Client(base_url=server.base_url, verify=str(server.cert)) as client:
            first = client.get(f"/api/tasks/?project={project}&page_size=1", headers=auth)
            low = first.raise_for_status().json()["tasks"][0]["id"]
        ids = range(low, low + args.tasks)
        pages = max(1, args.tasks // 100)

        def annotate(c: httpx.Client) -> None:
            task = random.choice(ids)  # noqa: S311
            c.post(
                f"/api/tasks/{task}/annotations/", json={"result": RESULT}, headers=auth
            ).raise_for_status()

        def page(c: httpx.Client) -> None:
            n = random.randint(1, pages)  # noqa: S311
            c.get(
                f"/api/tasks/?project={project}&page={n}&page_size=100&fields=all", headers=auth
            ).raise_for_status()

        def get(c: httpx.Client) -> None:
            c.get(f"/api/tasks/{random.choice(ids)}/", headers=auth).raise_for_status()  # noqa: S311

        timings = {
            "annotation create": hammer(annotate, server, args.requests, args.clients),
            "task list page (100, fields=all)": hammer(page, server, args.requests, args.clients),
            "single task get": hammer(get, server, args.requests, args.clients),
            "next task": _stream(server, auth, project, args),
        }
    record(
        f"Labeling: {args.tasks:,} tasks through HTTPS, {args.clients} clients",
        [f"{name}: {timing.summary()}" for name, timing in timings.items()],
    )


def _stream(server: Server, auth: dict[str, str], project: int, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """`next` then a skip, per client; only `next` is timed."""
    import time

    from bench.common import Timing

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

    total = hammer(call, server, args.requests // 2, args.clients)
    return Timing(len(latencies), total.seconds, latencies)


if __name__ == "__main__":
    main()

"""A project's counted numbers through the real server: `python -m bench.counts [--tasks N]`.

Seeds a text-classification project with N tasks, each with one annotation by the
benchmark's user (the worst case for that user's `queue_*`: every annotation is theirs),
then reads `GET api/projects/{id}/` and `GET api/projects/counts/` right after a change to
a task (the counts are counted afresh) and again with nothing changed (remembered).
Prints and records the median and worst of each.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import httpx

from bench.common import record, seeded_project, settle_database

ROUNDS = 7


def timed(read: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    read().raise_for_status()
    return (time.perf_counter() - started) * 1000


def figures(name: str, millis: list[float]) -> str:
    return f"{name}: median {statistics.median(millis):.1f} ms, worst {max(millis):.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args()
    lines = []
    with seeded_project(args.tasks, "annotated") as (_, client, project):
        listed = client.get("/api/tasks/", params={"project": project, "page_size": 1})
        task = listed.json()["tasks"][0]["id"]
        settle_database()

        def change(n: int) -> None:
            client.patch(f"/api/tasks/{task}/", json={"meta": {"round": n}}).raise_for_status()

        reads: dict[str, Callable[[], httpx.Response]] = {
            "project": lambda: client.get(f"/api/projects/{project}/"),
            "counts": lambda: client.get("/api/projects/counts/"),
        }
        for name, read in reads.items():
            fresh, remembered = [], []
            for n in range(ROUNDS):
                change(n)
                fresh.append(timed(read))
                remembered.append(timed(read))
            path = "api/projects/{id}/" if name == "project" else "api/projects/counts/"
            for label, millis in (("after a change", fresh), ("nothing changed", remembered)):
                line = f"{args.tasks:,} tasks, GET {path}, {label}"
                print(figures(line, millis), flush=True)
                lines.append(figures(line, millis))
    record("Project counts through HTTPS", lines)


if __name__ == "__main__":
    main()

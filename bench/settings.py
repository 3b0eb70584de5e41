"""Overlap settings changes through the real server: `python -m bench.settings [--tasks N]`.

Seeds a text-classification project with N tasks, each with one annotation, then sends the
`PATCH api/projects/{id}/` requests that set every task's overlap again and relabel it:
`maximum_annotations` 2 (every task back to unlabeled), `overlap_cohort_percentage` 30
(30% keep overlap 2, the rest are labeled again), 40 (a tenth of the tasks change), then
both back (100%, 1: the cohort's tasks change). Only tasks whose overlap or label changes
are written. Prints and records each request's time and the serving processes' peak
memory growth.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx

from bench.common import Server, record, seeded_project, settle_database
from bench.export import PeakMemory, server_pids

CHANGES: list[dict[str, Any]] = [
    {"maximum_annotations": 2},
    {"overlap_cohort_percentage": 30},
    {"overlap_cohort_percentage": 40},
    {"overlap_cohort_percentage": 100, "maximum_annotations": 1},
]


def run(client: httpx.Client, server: Server, project: int, change: dict[str, Any]) -> str:
    settle_database()
    with PeakMemory(server_pids(server)) as memory:
        started = time.perf_counter()
        answer = client.patch(f"/api/projects/{project}/", json=change)
        seconds = time.perf_counter() - started
    answer.raise_for_status()
    shown = ", ".join(f"{name} {value}" for name, value in change.items())
    return f"PATCH {shown}: {seconds:.2f} s; server memory growth {memory.growth:.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args()
    lines = []
    with seeded_project(args.tasks, "annotated") as (server, client, project):
        for change in CHANGES:
            figures = run(client, server, project, change)
            print(figures, flush=True)
            lines.append(f"{args.tasks:,} tasks, {figures}")
    record("Overlap settings changes on every task, through HTTPS", lines)


if __name__ == "__main__":
    main()

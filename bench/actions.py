"""The data manager's actions through the real server: `python -m bench.actions [--tasks N]`.

Seeds a text-classification project with N tasks, each with one prediction, then runs over
HTTPS, on every task at once (`selectedItems: {all: true}`): predictions_to_annotations,
delete_tasks_annotations, delete_tasks_predictions. Prints and records each request's time
and the serving processes' peak memory growth (sampled every 20 ms from /proc).
"""

from __future__ import annotations

import argparse
import time

import httpx

from bench.common import Server, record, seeded_project, settle_database
from bench.export import PeakMemory, server_pids


def run(client: httpx.Client, server: Server, project: int, action: str) -> str:
    settle_database()
    body = {"selectedItems": {"all": True, "excluded": []}}
    with PeakMemory(server_pids(server)) as memory:
        started = time.perf_counter()
        answer = client.post(f"/api/dm/actions?id={action}&project={project}", json=body)
        seconds = time.perf_counter() - started
    answer.raise_for_status()
    done = answer.json()["processed_items"]
    return (
        f"{action}: {done:,} items in {seconds:.2f} s ({done / seconds:,.0f}/s); "
        f"server memory growth {memory.growth:.1f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args()
    lines = []
    with seeded_project(args.tasks, "predicted") as (server, client, project):
        for action in (
            "predictions_to_annotations",
            "delete_tasks_annotations",
            "delete_tasks_predictions",
        ):
            figures = run(client, server, project, action)
            print(figures, flush=True)
            lines.append(f"{args.tasks:,} tasks, {figures}")
    record("Data manager actions on every task, through HTTPS", lines)


if __name__ == "__main__":
    main()

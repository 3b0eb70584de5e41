"""Computed task-list columns through the real server: `python -m bench.columns [--tasks N]`.

Seeds a project of N tasks with one scored prediction each (`predicted`), then reads the
first page of the task list (100 tasks, `fields=all`) filtered on, or ordered by, a
computed column: `predictions_score`, `predictions_model_versions`, `completed_at`,
`ground_truth`, `predictions_results` (half the tasks match; none does),
`annotations_results`. Each is read right after a change to a task (the filtered list
is counted afresh) and again with nothing changed. Prints and records the median and
worst.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import httpx

from bench.common import after_changes, record, seeded_project


def _filter(name: str, operator: str, kind: str, value: Any) -> dict[str, str]:
    item = {"filter": f"filter:tasks:{name}", "operator": operator, "type": kind, "value": value}
    return {"query": json.dumps({"filters": {"conjunction": "and", "items": [item]}})}


READS: dict[str, dict[str, str]] = {
    "predictions_score less 0.5": _filter("predictions_score", "less", "Number", 0.5),
    "predictions_model_versions contains": _filter(
        "predictions_model_versions", "contains", "List", "bench"
    ),
    "completed_at empty false": _filter("completed_at", "empty", "Datetime", False),
    "ground_truth equal true": _filter("ground_truth", "equal", "Boolean", True),
    "predictions_results contains (half match)": _filter(
        "predictions_results", "contains", "String", "Negative"
    ),
    "predictions_results contains (none match)": _filter(
        "predictions_results", "contains", "String", "Neutral"
    ),
    "annotations_results contains": _filter("annotations_results", "contains", "String", "pos"),
    "ordering -predictions_score": {"ordering": "-tasks:predictions_score"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args()
    with seeded_project(args.tasks, "predicted") as (_, client, project):

        def read(params: dict[str, str]) -> Callable[[], httpx.Response]:
            every = {"project": str(project), "fields": "all", **params}
            return lambda: client.get("/api/tasks/", params=every)

        reads = {f"{args.tasks:,} tasks, page 1 by {name}": read(p) for name, p in READS.items()}
        lines = after_changes(client, project, reads)
    record("Computed task-list columns through HTTPS", lines)


if __name__ == "__main__":
    main()

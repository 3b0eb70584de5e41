"""A project's counted numbers through the real server: `python -m bench.counts [--tasks N]`.

Seeds a text-classification project with N tasks, each with one annotation by the
benchmark's user (the worst case for that user's `queue_*`: every annotation is theirs),
then reads `GET api/projects/{id}/` and `GET api/projects/counts/` right after a change to
a task (the counts are counted afresh) and again with nothing changed (remembered).
Prints and records the median and worst of each.
"""

from __future__ import annotations

import argparse

from bench.common import after_changes, record, seeded_project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    args = parser.parse_args()
    with seeded_project(args.tasks, "annotated") as (_, client, project):
        lines = after_changes(
            client,
            project,
            {
                f"{args.tasks:,} tasks, GET api/projects/{{id}}/": lambda: client.get(
                    f"/api/projects/{project}/"
                ),
                f"{args.tasks:,} tasks, GET api/projects/counts/": lambda: client.get(
                    "/api/projects/counts/"
                ),
            },
        )
    record("Project counts through HTTPS", lines)


if __name__ == "__main__":
    main()

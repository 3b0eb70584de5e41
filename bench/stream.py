"""The label stream with tasks of overlap first: `python -m bench.stream [--tasks N]`.

Seeds N tasks with a scored prediction each, then sets `maximum_annotations` 2 for 30% of
them (`overlap_cohort_percentage`; `--cohort` to change). For each sampling (sequential,
uniform, uncertainty), with `show_overlap_first` off and on, a new person asks `next` and
skips the task given, `--requests` times (default 500): p50 and p99 of `next`. With the
setting on, a second new person first has every task that needs two annotations done
(their annotations, made in bulk), so each `next` passes over that whole tier before
reaching the others: the worst case for the shared tier, measured the same way. Then,
with sequential sampling and `show_ground_truth_first`, the owner gives ground truths to
1% of the project's tasks, all among those, and a new person, then one who has already
annotated each of them, asks `next` the same way.
"""

from __future__ import annotations

import argparse
import time

import httpx

from bench.common import Server, Timing, create_user, record, seeded_project, settle_database
from labelkeep.tasks.overlap import in_cohort

CHUNK = 10_000  # tasks per bulk annotation request (the endpoint's limit)
RESULT = [
    {
        "from_name": "sentiment",
        "to_name": "text",
        "type": "choices",
        "value": {"choices": ["Positive"]},
    }
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument(
        "--samplings",
        default="Sequential,Uniform,Uncertainty",
        help="comma-separated, of Sequential, Uniform, Uncertainty",
    )
    parser.add_argument(
        "--cohort", type=int, default=30, help="percent of tasks that need two annotations"
    )
    args = parser.parse_args()
    lines = []
    with seeded_project(args.tasks, "predicted") as (server, owner, project):
        owner.patch(
            f"/api/projects/{project}/",
            json={"maximum_annotations": 2, "overlap_cohort_percentage": args.cohort},
        ).raise_for_status()
        low = owner.get("/api/tasks/", params={"project": project, "page_size": 1}).json()
        shared = _shared_ids(owner, project, low["tasks"][0]["id"], args.tasks, args.cohort)
        people = iter(range(1_000))
        for sampling in args.samplings.split(","):
            for first in (False, True):
                owner.patch(
                    f"/api/projects/{project}/",
                    json={"sampling": f"{sampling} sampling", "show_overlap_first": first},
                ).raise_for_status()
                cases: list[tuple[str, list[int]]] = [("fresh", [])]
                if first:
                    cases.append(("shared tier done", shared))
                for case, done in cases:
                    person = _person(server, owner, project, next(people), done)
                    settle_database()
                    timing = _stream(person, project, args.requests)
                    name = f"{sampling}, overlap first {'on' if first else 'off'}, {case}"
                    line = (
                        f"{args.tasks:,} tasks, {args.cohort}% need two, {name}: {timing.summary()}"
                    )
                    print(line, flush=True)
                    lines.append(line)
                    person.close()
        # Ground truth first: the owner's ground truths on tasks that need two annotations
        # (so they stay open), 1% of the project.
        truths = shared[:: max(1, len(shared) * 100 // args.tasks)]
        for start in range(0, len(truths), CHUNK):
            body = {
                "project": project,
                "tasks": truths[start : start + CHUNK],
                "result": RESULT,
                "ground_truth": True,
            }
            owner.post("/api/annotations/bulk/", json=body).raise_for_status()
        owner.patch(
            f"/api/projects/{project}/",
            json={
                "sampling": "Sequential sampling",
                "show_overlap_first": False,
                "show_ground_truth_first": True,
            },
        ).raise_for_status()
        for case, done in (("fresh", []), ("ground truths done", truths)):
            person = _person(server, owner, project, next(people), done)
            settle_database()
            timing = _stream(person, project, args.requests)
            name = f"Sequential, {len(truths):,} ground truths first, {case}"
            line = f"{args.tasks:,} tasks, {name}: {timing.summary()}"
            print(line, flush=True)
            lines.append(line)
            person.close()
    record("Label stream with tasks of overlap first, through HTTPS", lines)


def _shared_ids(client: httpx.Client, project: int, low: int, count: int, cohort: int) -> list[int]:
    """The ids of the tasks that need two annotations: seeded tasks have consecutive ids
    in `inner_id` order (checked on the last one)."""
    ids = [low + n - 1 for n in range(1, count + 1) if in_cohort(n, cohort)]
    last = client.get(f"/api/tasks/{ids[-1]}/").raise_for_status().json()
    if last["overlap"] != 2:
        raise SystemExit("seeded ids are not consecutive; cannot name the shared tier")
    return ids


def _person(
    server: Server, owner: httpx.Client, project: int, n: int, done: list[int]
) -> httpx.Client:
    """A new person of the organization, with an annotation on each task of `done`."""
    key = create_user(server, f"stream{n}@example.com")
    client = httpx.Client(
        base_url=server.base_url,
        verify=str(server.cert),
        headers={"Authorization": f"Token {key}"},
        timeout=600,
    )
    for start in range(0, len(done), CHUNK):
        body = {"project": project, "tasks": done[start : start + CHUNK], "result": RESULT}
        client.post("/api/annotations/bulk/", json=body).raise_for_status()
    return client


def _stream(client: httpx.Client, project: int, total: int) -> Timing:
    """`next` then a skip of the task given; only `next` is timed (the first one warms
    the connection and is left out)."""
    latencies: list[float] = []
    started = time.perf_counter()
    for n in range(total + 1):
        start = time.perf_counter()
        task = client.get(f"/api/projects/{project}/next").raise_for_status().json()
        if n:
            latencies.append(time.perf_counter() - start)
        client.post(
            f"/api/tasks/{task['id']}/annotations/", json={"result": [], "was_cancelled": True}
        ).raise_for_status()
    return Timing(len(latencies), time.perf_counter() - started, latencies)


if __name__ == "__main__":
    main()

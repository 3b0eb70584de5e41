"""The data manager's actions through the real server: `python -m bench.actions [--tasks N]`.

Seeds a text-classification project with N tasks, each with one prediction, then runs over
HTTPS, on every task at once (`selectedItems: {all: true}`): predictions_to_annotations,
delete_tasks_annotations, delete_tasks_predictions. Prints and records each request's time
and the serving processes' peak memory growth (sampled every 20 ms from /proc).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import httpx

from bench.common import ROOT, Server, create_user, record, running_server, settle_database
from bench.export import CONFIG, PeakMemory, server_pids


def seed_here(email: str, count: int) -> None:
    """Runs in a subprocess with the server's environment; prints the project id."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelkeep.settings")
    django.setup()
    from labelkeep.accounts.models import User
    from labelkeep.audit.services import CLI
    from labelkeep.projects import services as projects
    from labelkeep.tasks import services as tasks

    owner = User.objects.get(email=email)
    organization = owner.active_organization
    if organization is None:
        raise SystemExit(f"{email} has no organization")
    project = projects.create_project(
        organization, {"title": f"Actions {count}", "label_config": CONFIG}, actor=owner, origin=CLI
    )
    batch = 20_000
    for start in range(0, count, batch):
        rows = [
            tasks.NewTask(
                data={"text": f"review number {n} with some words in it"},
                predictions=[
                    {
                        "result": [
                            {
                                "id": f"r{n}",
                                "from_name": "sentiment",
                                "to_name": "text",
                                "type": "choices",
                                "value": {"choices": ["Positive" if n % 2 else "Negative"]},
                            }
                        ],
                        "score": 0.8,
                        "model_version": "bench",
                    }
                ],
            )
            for n in range(start, min(count, start + batch))
        ]
        tasks.create_tasks(project, rows, actor=owner, origin=CLI)
    print(project.pk)


def seed(server: Server, email: str, count: int) -> int:
    result = subprocess.run(  # noqa: S603 (our own module)
        [sys.executable, "-m", "bench.actions", "--seed", email, str(count)],
        env={**server.env, "LABELKEEP_DATA_DIR": str(server.data_dir)},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return int(result.stdout.strip().splitlines()[-1])


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
    parser.add_argument("--seed", nargs=2, metavar=("EMAIL", "TASKS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        seed_here(args.seed[0], int(args.seed[1]))
        return
    lines = []
    with running_server() as server:
        key = create_user(server, "bench@example.com")
        started = time.perf_counter()
        project = seed(server, "bench@example.com", args.tasks)
        print(f"seeded {args.tasks} tasks in {time.perf_counter() - started:.0f} s", flush=True)
        headers = {"Authorization": f"Token {key}"}
        with httpx.Client(
            base_url=server.base_url, verify=str(server.cert), headers=headers, timeout=1800
        ) as client:
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

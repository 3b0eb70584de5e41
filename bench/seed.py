"""Seed a benchmark project straight into the server's database (run as a subprocess with
the server's environment: `python -m bench.seed <owner email> <tasks> [<kind>]`). Prints
the project id. Seeding is not what is measured; the import benchmark measures imports.

Kinds: `plain` (tasks only: the labeling benchmark), `annotated` (one annotation each and a
prediction on every other task: the export benchmark), `predicted` (one prediction each:
the data manager's actions)."""

from __future__ import annotations

import os
import sys
from typing import Any

import django

CONFIG = (
    '<View><Text name="text" value="$text"/>'
    '<Choices name="sentiment" toName="text"><Choice value="Positive"/>'
    '<Choice value="Negative"/></Choices></View>'
)
KINDS = ("plain", "annotated", "predicted")


def _choice(label: str, region: str | None = None) -> list[dict[str, Any]]:
    item: dict[str, Any] = {"from_name": "sentiment", "to_name": "text", "type": "choices"}
    item["value"] = {"choices": [label]}
    return [{"id": region, **item}] if region else [item]


def _task(kind: str, n: int) -> Any:
    from labelkeep.tasks import services as tasks

    text = f"review number {n} with some words in it"
    if kind == "annotated":
        result = _choice("Positive")
        return tasks.NewTask(
            data={"text": text, "source": "bench"},
            annotations=[{"result": result, "lead_time": 3.5}],
            predictions=[{"result": result, "score": 0.8}] if n % 2 else [],
        )
    if kind == "predicted":
        label = "Positive" if n % 2 else "Negative"
        prediction = {"result": _choice(label, f"r{n}"), "score": 0.8, "model_version": "bench"}
        return tasks.NewTask(data={"text": text}, predictions=[prediction])
    return tasks.NewTask(data={"text": text})


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelkeep.settings")
    django.setup()
    from django.db import connection

    from labelkeep.accounts.models import User
    from labelkeep.audit.services import CLI
    from labelkeep.projects import services as projects
    from labelkeep.tasks import services as tasks

    email, count = sys.argv[1], int(sys.argv[2])
    kind = sys.argv[3] if len(sys.argv) > 3 else "plain"
    if kind not in KINDS:
        raise SystemExit(f"kind: one of {', '.join(KINDS)}")
    owner = User.objects.get(email=email)
    if owner.active_organization is None:
        raise SystemExit(f"{email} has no organization")
    project = projects.create_project(
        owner.active_organization,
        {"title": f"Bench {kind} {count}", "label_config": CONFIG},
        actor=owner,
        origin=CLI,
    )
    batch = 20_000
    for start in range(0, count, batch):
        rows = [_task(kind, n) for n in range(start, min(count, start + batch))]
        tasks.create_tasks(project, rows, actor=owner, origin=CLI)
    if connection.vendor == "postgresql":
        # What autovacuum does within a minute or so of a large import: planner statistics
        # and the visibility map (index-only scans). Measure the steady state.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(project.pk)


if __name__ == "__main__":
    main()

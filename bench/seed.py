"""Seed a benchmark project straight into the server's database (run as a subprocess with
the server's environment: `python -m bench.seed <owner email> <tasks>`). Prints the
project id. Seeding is not what is measured; the import benchmark measures imports."""

from __future__ import annotations

import os
import sys

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelkeep.settings")
    django.setup()
    from django.db import connection

    from labelkeep.accounts.models import User
    from labelkeep.audit.services import CLI
    from labelkeep.projects import services as projects
    from labelkeep.tasks import services as tasks

    email, count = sys.argv[1], int(sys.argv[2])
    owner = User.objects.get(email=email)
    if owner.active_organization is None:
        raise SystemExit(f"{email} has no organization")
    config = (
        '<View><Text name="text" value="$text"/>'
        '<Choices name="sentiment" toName="text"><Choice value="Positive"/>'
        '<Choice value="Negative"/></Choices></View>'
    )
    project = projects.create_project(
        owner.active_organization,
        {"title": "Bench", "label_config": config},
        actor=owner,
        origin=CLI,
    )
    batch = 20_000
    for start in range(0, count, batch):
        rows = [
            tasks.NewTask(data={"text": f"review number {n} with some words in it"})
            for n in range(start, min(count, start + batch))
        ]
        tasks.create_tasks(project, rows, actor=owner, origin=CLI)
    if connection.vendor == "postgresql":
        # What autovacuum does within a minute or so of a large import: planner statistics
        # and the visibility map (index-only scans). Measure the steady state.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print(project.pk)


if __name__ == "__main__":
    main()

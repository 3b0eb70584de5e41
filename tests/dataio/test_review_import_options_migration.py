"""Regression test from the review of labelkeep/dataio/migrations/0003_import_options.py:
the docstring tells the fault it caught, since fixed."""

from __future__ import annotations

import tracemalloc

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

RECORDS = 20
IDS_EACH = 50_000  # an import of 50,000 tasks keeps their ids in `task_ids`


@pytest.mark.django_db(transaction=True)
def test_the_backfill_does_not_hold_every_import_record_in_memory() -> None:
    """The migration loads every ProjectImport whole (task_ids, written, …: up to
    IMPORT_MAX_TASKS ids each) and keeps all of them in a list until one bulk_update at
    the end, so its memory grows with every task id ever imported: about 44 bytes per
    id (1M ids here: ~45 MB; an install that imported 50M tasks needs ~2 GB to migrate).
    It needs three small fields of each record."""
    executor = MigrationExecutor(connection)
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "dataio"]
    before = [*others, ("dataio", "0002_projectimport_written")]
    after = [*others, ("dataio", "0003_import_options")]
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        organization = old.get_model("accounts", "Organization").objects.create(title="Old")
        project = old.get_model("projects", "Project").objects.create(
            organization_id=organization.pk, title="old"
        )
        ids = list(range(1, IDS_EACH + 1))
        record = old.get_model("dataio", "ProjectImport")
        for _ in range(RECORDS):
            record.objects.create(
                project_id=project.pk, status="completed", task_ids=ids, task_count=IDS_EACH
            )
        del ids
        tracemalloc.start()
        try:
            MigrationExecutor(connection).migrate(after)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        new = MigrationExecutor(connection).loader.project_state(after).apps
        assert new.get_model("dataio", "ProjectImport").objects.count() == RECORDS
        assert peak < 15_000_000, f"peak {peak / 1e6:.0f} MB"  # fails: ~45 MB
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

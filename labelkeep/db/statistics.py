"""Planner statistics after bulk inserts (PostgreSQL).

PostgreSQL plans queries from statistics that autovacuum refreshes once a table has
changed by a tenth or so, within a minute or two, or never where autovacuum is off. Until
then a table that an import has just grown from nothing to a hundred thousand rows is
still planned as empty, and the first pages of its task list run on sequential scans.
So after a transaction that inserted many rows commits, the table is analyzed at once
when the insert grew it by more than a fifth. ANALYZE reads a fixed sample (a few hundred
milliseconds at a million rows) and blocks neither readers nor writers.
"""

from __future__ import annotations

from django.db import connection, models, transaction

MIN_ROWS = 5000
GROWTH = 0.2


def note_inserted(model: type[models.Model], count: int) -> None:
    """`count` rows of `model` were inserted in the current transaction."""
    if connection.vendor != "postgresql" or count < MIN_ROWS:
        return
    table = model._meta.db_table
    transaction.on_commit(lambda: analyze_if_grown(table, count))


def analyze_if_grown(table: str, inserted: int) -> bool:
    """ANALYZE `table` if `inserted` rows are more than GROWTH of what its statistics
    last counted (or it was never analyzed); whether it did."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
        counted = float(row[0]) if row else -1.0
        if counted >= 0 and inserted <= GROWTH * counted:
            return False
        cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    return True

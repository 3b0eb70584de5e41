"""Planner statistics after bulk inserts (PostgreSQL and SQLite).

PostgreSQL plans queries from statistics that autovacuum refreshes once a table has
changed by a tenth or so, within a minute or two, or never where autovacuum is off. Until
then a table that an import has just grown from nothing to a hundred thousand rows is
still planned as empty, and the first pages of its task list run on sequential scans.
SQLite keeps no statistics until ANALYZE runs, and without them it guesses: a million-task
`only_annotated` page sorted every annotated task (100 ms) instead of walking the partial
index that lists them in order (25 ms).
So after a transaction that inserted many rows commits, the table is analyzed at once
when the insert grew it by more than a fifth (on SQLite, when it doubled it). ANALYZE
reads a fixed sample (a few hundred milliseconds at a million rows on PostgreSQL;
SQLite's `analysis_limit` bounds it the same way) and blocks no reader (on SQLite it is
a short write).
"""

from __future__ import annotations

from typing import Any

from django.db import connection, models, transaction

MIN_ROWS = 5000
GROWTH = 0.2


def note_inserted(model: type[models.Model], count: int) -> None:
    """`count` rows of `model` were inserted in the current transaction."""
    if count < MIN_ROWS:
        return
    table = model._meta.db_table
    # Robust: statistics are an optimisation, and the insert has committed; a busy
    # database (SQLite's write lock, say) must not fail the request or job after it.
    transaction.on_commit(lambda: analyze_if_grown(table, count), robust=True)


def analyze_if_grown(table: str, inserted: int) -> bool:
    """ANALYZE `table` if `inserted` rows are more than GROWTH of what its statistics
    last counted (or it was never analyzed); whether it did."""
    with connection.cursor() as cursor:
        counted = _counted(cursor, table)
        growth = SQLITE_GROWTH if connection.vendor == "sqlite" else GROWTH
        if counted >= 0 and inserted <= growth * counted:
            return False
        if connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}")
        cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    return True


SQLITE_ANALYSIS_LIMIT = 2000  # index entries SQLite reads per index (0: all)
# On SQLite, ANALYZE changes the schema, so every connection prepares its statements
# anew, and the bulk insert's statement of thousands of rows costs tens of milliseconds
# to prepare: analyze when the table has doubled since, not grown by a fifth. (SQLite
# plans from ratios, rows per key, which a table keeps as it grows.)
SQLITE_GROWTH = 1.0


def _counted(cursor: Any, table: str) -> float:
    """How many rows the table's statistics last counted; -1 when it has none."""
    if connection.vendor == "postgresql":
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
        return float(row[0]) if row else -1.0
    cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
    if cursor.fetchone() is None:  # created by the first ANALYZE
        return -1.0
    # Each index's row starts with the table's row count (as estimated).
    cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s", [table])
    counts = [int(row[0].split()[0]) for row in cursor.fetchall() if row[0]]
    return float(max(counts)) if counts else -1.0

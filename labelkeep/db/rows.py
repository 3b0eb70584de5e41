"""Row comparisons, `(a, b) > (x, y)`, written as such on both databases.

Django's tuple lookups (made for composite primary keys) write the comparison out as
`a > x OR (a = x AND b > y)` on SQLite, whose feature flags say it has no row values (it
has had them since 3.15). Both databases walk an index on (…, a, b) between two row
bounds, but neither can bound an index walk by the written-out form: the walk starts at
`a >= x` and reads every entry that ties with `x` on `a`, which in a project whose
predictions share one score is all of them. These lookups keep the row form wherever
the database has it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from django.db.models.fields.tuple_lookups import (  # type: ignore[import-untyped]
    TupleGreaterThan,
    TupleGreaterThanOrEqual,
    TupleLessThan,
)
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThan

_SQLITE_HAS_ROW_VALUES = sqlite3.sqlite_version_info >= (3, 15)


def _native(connection: Any) -> bool:
    if connection.vendor == "sqlite":
        return _SQLITE_HAS_ROW_VALUES
    return bool(connection.features.supports_tuple_lookups)


class RowGreaterThan(TupleGreaterThan):  # type: ignore[misc]
    def as_sql(self, compiler: Any, connection: Any) -> Any:
        if _native(connection):
            return GreaterThan.as_sql(self, compiler, connection)
        return super().as_sql(compiler, connection)


class RowGreaterThanOrEqual(TupleGreaterThanOrEqual):  # type: ignore[misc]
    def as_sql(self, compiler: Any, connection: Any) -> Any:
        if _native(connection):
            return GreaterThanOrEqual.as_sql(self, compiler, connection)
        return super().as_sql(compiler, connection)


class RowLessThan(TupleLessThan):  # type: ignore[misc]
    def as_sql(self, compiler: Any, connection: Any) -> Any:
        if _native(connection):
            return LessThan.as_sql(self, compiler, connection)
        return super().as_sql(compiler, connection)

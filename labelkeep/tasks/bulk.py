"""Creating many tasks fast: rows of tasks, annotations and predictions, and the few
INSERT … RETURNING statements that write them. Every way of creating tasks ends here.

Django's `bulk_create` builds a model instance per row and prepares every value field by
field: about 130 µs per task on SQLite, over 90% of it in Python, which caps an import far
below the 25,000 tasks/s it must reach. Here the values that are the same for every row
(project, timestamps, counters' defaults) are prepared once, and each row sends only its
own few values. The statement text is made from the model's own table and column names,
quoted by the backend; every value is a query parameter, never part of the text.

SQLite gets one multi-row `VALUES` list per statement, as many rows as its variable limit
allows; PostgreSQL gets one array per varying column (a JSON array for JSON columns),
zipped by `ROWS FROM`, so a statement has a dozen parameters whatever its size. Both
return the new ids in insertion order, which Django's own `bulk_create` relies on too.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from django.db import connection, models
from django.utils import timezone

from labelkeep.db.statistics import note_inserted

POSTGRES_BATCH = 5000
SQLITE_FALLBACK_VARIABLES = 999  # SQLite builds before 3.32 allow no more


class Columns:
    """How to insert rows of `model`: `varying` values per row, the rest fixed for all.

    Fields in neither `varying` nor `fixed` get their model default (auto_now fields:
    the current time). JSON columns in `varying` take JSON text, already dumped.
    """

    def __init__(
        self, model: type[models.Model], varying: Sequence[str], fixed: Mapping[str, Any]
    ) -> None:
        self.model = model
        fields = {f.attname: f for f in model._meta.concrete_fields if not f.primary_key}
        unknown = (set(varying) | set(fixed)) - set(fields)
        if unknown:
            raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
        self.varying = [fields[name] for name in varying]
        now = timezone.now()
        self.fixed: list[tuple[models.Field[Any, Any], Any]] = []
        for name, field in fields.items():
            if name in varying:
                continue
            value = fixed[name] if name in fixed else _default(field, now)
            self.fixed.append((field, field.get_db_prep_save(value, connection)))

    def insert(self, rows: Sequence[Sequence[Any]]) -> list[int]:
        """Insert `rows` (values in `varying` order); their new ids, in the same order."""
        if not rows:
            return []
        note_inserted(self.model, len(rows))
        if connection.vendor == "postgresql":
            return self._insert_unnest(rows)
        return self._insert_values(rows)

    # --- SQLite (and any backend with multi-row VALUES … RETURNING) ---

    def _insert_values(self, rows: Sequence[Sequence[Any]]) -> list[int]:
        width = len(self.varying) + len(self.fixed)
        per_statement = max(1, _variable_limit() // width)
        fixed_values = [value for _, value in self.fixed]
        ids: list[int] = []
        with connection.cursor() as cursor:
            for start in range(0, len(rows), per_statement):
                chunk = rows[start : start + per_statement]
                params: list[Any] = []
                for row in chunk:
                    params.extend(row)
                    params.extend(fixed_values)
                cursor.execute(self._values_sql(len(chunk), width), params)
                ids.extend(row[0] for row in cursor.fetchall())
        return ids

    def _values_sql(self, count: int, width: int) -> str:
        one = "(" + ", ".join(["%s"] * width) + ")"
        return f"{self._head()} VALUES {', '.join([one] * count)} RETURNING {self._pk()}"

    # --- PostgreSQL ---

    def _insert_unnest(self, rows: Sequence[Sequence[Any]]) -> list[int]:
        ids: list[int] = []
        with connection.cursor() as cursor:
            for start in range(0, len(rows), POSTGRES_BATCH):
                chunk = rows[start : start + POSTGRES_BATCH]
                columns = [
                    "[" + ",".join(column) + "]" if _is_json(f) else list(column)
                    for f, column in zip(self.varying, zip(*chunk, strict=True), strict=True)
                ]
                # Placeholders in text order: the fixed values (SELECT list), then the columns.
                params = [*(value for _, value in self.fixed), *columns]
                cursor.execute(self._unnest_sql(), params)
                ids.extend(row[0] for row in cursor.fetchall())
        return ids

    def _unnest_sql(self) -> str:
        # A JSON column travels as one JSON array (one quoted string, where an array of
        # texts would be escaped element by element); ROWS FROM zips the columns in order.
        sources = ", ".join(
            "jsonb_array_elements(%s::jsonb)" if _is_json(f) else f"unnest(%s::{_type(f)}[])"
            for f in self.varying
        )
        names = [f"v{i}" for i in range(len(self.varying))]
        picked = names + [f"%s::{_type(f)}" for f, _ in self.fixed]
        # Names and casts come from the model, never from input; values are parameters.
        return (
            f"{self._head()} SELECT {', '.join(picked)} "  # noqa: S608
            f"FROM ROWS FROM ({sources}) AS v({', '.join(names)}) RETURNING {self._pk()}"
        )

    # --- Shared ---

    def _head(self) -> str:
        quote = connection.ops.quote_name
        columns = [f.column for f in self.varying] + [f.column for f, _ in self.fixed]
        table = quote(self.model._meta.db_table)
        return f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)})"

    def _pk(self) -> str:
        pk = self.model._meta.pk
        if pk is None:  # abstract models only
            raise ValueError(f"{self.model.__name__} has no primary key")
        return connection.ops.quote_name(pk.column)


def _is_json(field: models.Field[Any, Any]) -> bool:
    return isinstance(field, models.JSONField)


def _type(field: models.Field[Any, Any]) -> str:
    """The column's SQL type for a cast (for a foreign key, Django gives its target's)."""
    return str(field.db_type(connection))


def _default(field: models.Field[Any, Any], now: Any) -> Any:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    if field.has_default():
        return field.get_default()
    if field.null:
        return None
    raise ValueError(f"{field.model.__name__}.{field.name} needs a value")


def _variable_limit() -> int:
    connection.ensure_connection()
    raw = connection.connection
    if isinstance(raw, sqlite3.Connection):
        return int(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    return SQLITE_FALLBACK_VARIABLES


TaskRow = tuple[str, str, bool, int, int, int, int | None]
"""(data, meta, is_labeled, total_annotations, cancelled_annotations, total_predictions,
file_upload id); JSON values as text."""
AnnotationRow = tuple[int, str, int | None, bool, bool, float | None, int, int | None]
"""(task index, result, completed_by id, was_cancelled, ground_truth, lead_time,
result_count, import_id)."""
PredictionRow = tuple[int, str, float | None, str]
"""(task index, result, score, model_version)."""

TASK_COLUMNS = (
    "data",
    "meta",
    "is_labeled",
    "total_annotations",
    "cancelled_annotations",
    "total_predictions",
    "file_upload_id",
)
ANNOTATION_COLUMNS = (
    "task_id",
    "result",
    "completed_by_id",
    "was_cancelled",
    "ground_truth",
    "lead_time",
    "result_count",
    "import_id",
    "unique_id",
)
PREDICTION_COLUMNS = ("task_id", "result", "score", "model_version")


@dataclass
class TaskRows:
    """Tasks in order, with annotations and predictions referring to them by index."""

    tasks: list[TaskRow] = dataclass_field(default_factory=list)
    annotations: list[AnnotationRow] = dataclass_field(default_factory=list)
    predictions: list[PredictionRow] = dataclass_field(default_factory=list)

    @property
    def annotation_count(self) -> int:
        return len(self.annotations)

    @property
    def prediction_count(self) -> int:
        return len(self.predictions)


def insert(
    project_id: int, overlaps: Sequence[int], rows: TaskRows, first_inner_id: int
) -> list[int]:
    """Write the rows, numbered `first_inner_id`, `first_inner_id + 1`, … within the
    project, each with its overlap; the new task ids in input order. Counters, numbers and
    overlaps are the caller's."""
    from labelkeep.tasks.models import Annotation, AnnotationAction, Prediction, Task

    fixed = {"project_id": project_id}
    ids = _insert_tasks(Task, project_id, overlaps, rows.tasks, first_inner_id)
    if rows.annotations:
        made = {**fixed, "last_action": AnnotationAction.IMPORTED.value, "bulk_created": True}
        # A unique id each, as the 32 hex digits both databases read as a UUID.
        Columns(Annotation, ANNOTATION_COLUMNS, made).insert(
            [(ids[task], *rest, uuid.uuid4().hex) for task, *rest in rows.annotations]
        )
    if rows.predictions:
        Columns(Prediction, PREDICTION_COLUMNS, fixed).insert(
            [(ids[task], *rest) for task, *rest in rows.predictions]
        )
    return ids


def _insert_tasks(
    task_model: type[models.Model],
    project_id: int,
    overlaps: Sequence[int],
    rows: Sequence[TaskRow],
    first_inner_id: int,
) -> list[int]:
    """Columns with one value in every row (meta `{}`, counters 0, the file they came
    from, the overlap) are sent once."""
    if not rows:
        return []
    fixed: dict[str, Any] = {"project_id": project_id}
    varying = [0]  # data always varies
    for index, name in enumerate(TASK_COLUMNS[1:], 1):
        first = rows[0][index]
        if all(row[index] == first for row in rows):
            fixed[name] = json.loads(first) if name == "meta" else first  # type: ignore[arg-type]
        else:
            varying.append(index)
    names = [TASK_COLUMNS[i] for i in varying]
    numbered = enumerate(zip(rows, overlaps, strict=True), first_inner_id)
    if all(overlap == overlaps[0] for overlap in overlaps):
        fixed["overlap"] = overlaps[0]
        columns = Columns(task_model, [*names, "inner_id"], fixed)
        return columns.insert(
            [(*(row[i] for i in varying), number) for number, (row, _) in numbered]
        )
    columns = Columns(task_model, [*names, "inner_id", "overlap"], fixed)
    return columns.insert(
        [(*(row[i] for i in varying), number, overlap) for number, (row, overlap) in numbered]
    )

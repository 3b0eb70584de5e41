"""Tasks in Label Studio's export shape, read from the database in keyset chunks or from a file.

The database source never holds more than one chunk: tasks are read `chunk_size` at a time
by ascending id, and each chunk's annotations and predictions in one query each. JSON
columns are read as their stored text and spliced into the output unparsed, so the hot
path neither decodes nor re-encodes task data or results.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db.models import Max, Min, Q, TextField
from django.db.models.functions import Cast

from labelkeep.accounts.models import User
from labelkeep.dataio.exporting.selection import Selection
from labelkeep.tasks.drafts import DRAFT_COLUMNS, draft_row_json
from labelkeep.tasks.models import AnnotationAction, Draft, Prediction, Task
from labelkeep.tasks.serializers import timestamp, upload_names


@dataclass
class Counts:
    tasks: int = 0
    annotations: int = 0
    predictions: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "task_number": self.tasks,
            "annotation_number": self.annotations,
            "prediction_number": self.predictions,
        }


TASK_COLUMNS = (
    "id",
    "data_text",
    "meta_text",
    "created_text",
    "updated_text",
    "inner_id",
    "updated_by_id",
    "total_annotations",
    "cancelled_annotations",
    "total_predictions",
    "file_upload_id",
)
ANNOTATION_COLUMNS = (
    "task_id",
    "id",
    "completed_by_id",
    "result_text",
    "was_cancelled",
    "ground_truth",
    "lead_time",
    "created_text",
    "updated_text",
    "updated_by_id",
    "result_count",
    "unique_id_text",
    "import_id",
    "last_action",
    "bulk_created",
    "parent_prediction_id",
)
PREDICTION_COLUMNS = (
    "task_id",
    "id",
    "result_text",
    "score",
    "model_version",
    "created_text",
    "updated_text",
)

TASK = (
    '{"id": %d, "annotations": [%s], "file_upload": %s, "drafts": [%s], "predictions": [%s], '
    '"data": %s, '
    '"meta": %s, "created_at": "%s", "updated_at": "%s", "inner_id": %d, '
    '"total_annotations": %d, "cancelled_annotations": %d, "total_predictions": %d, '
    '"comment_count": 0, "unresolved_comment_count": 0, "last_comment_updated_at": null, '
    '"project": %d, "updated_by": %s, "comment_authors": []}'
)
ANNOTATION = (
    '{"id": %d, "completed_by": %s, "result": %s, "was_cancelled": %s, "ground_truth": %s, '
    '"created_at": "%s", "updated_at": "%s", "draft_created_at": null, "lead_time": %s, '
    '"prediction": {}, "result_count": %d, "unique_id": "%s", "import_id": %s, '
    '"last_action": %s, "bulk_created": %s, "task": %d, "project": %d, "updated_by": %s, '
    '"parent_prediction": %s, "parent_annotation": null}'
)
PREDICTION = (
    '{"id": %d, "result": %s, "score": %s, "model_version": %s, "created_at": "%s", '
    '"updated_at": "%s", "task": %d, "project": %d}'
)


def as_text(*names: str) -> dict[str, Cast]:
    """Columns read as the database's text for them (`<name>_text`), skipping Python
    conversion: JSON stays the stored JSON, a timestamp its text (see `stamp`)."""
    return {
        f"{name.removesuffix('_at')}_text": Cast(name, output_field=TextField()) for name in names
    }


def stamp(text: str) -> str:
    """A UTC timestamp as SQLite ("2024-05-01 10:00:00.5") or PostgreSQL ("…:00.5+00")
    write it as text, in the API's format ("2024-05-01T10:00:00.500000Z", DRF's)."""
    if len(text) == 26 and text[-3] not in "+-":  # SQLite with microseconds, kept cheap
        return f"{text[:10]}T{text[11:]}Z"
    if len(text) == 29 and text.endswith("+00"):  # PostgreSQL with microseconds
        return f"{text[:10]}T{text[11:26]}Z"
    text = text.replace(" ", "T", 1).removesuffix("+00")
    if "+" in text[19:] or "-" in text[19:]:
        return timestamp(datetime.fromisoformat(text))  # not UTC after all: convert
    if len(text) > 19:
        text = text.ljust(26, "0")  # PostgreSQL drops trailing zeros of the microseconds
    return text + "Z"


def _dashed(text: str) -> str:
    """A UUID as its stored text (SQLite: 32 hex digits; PostgreSQL: already dashed) in
    the usual 8-4-4-4-12 form, without building a UUID object per annotation."""
    if len(text) == 32:
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    return text


# Each last_action as JSON, written once ("": written before it was kept, null).
_ACTIONS = {action: json.dumps(action) for action in AnnotationAction.values}


def _int(value: int | None) -> str:
    return "null" if value is None else str(value)


def _float(value: float | None) -> str:
    return repr(value) if value is not None and math.isfinite(value) else "null"


def _bool(value: bool) -> str:
    return "true" if value else "false"


class DatabaseSource:
    """The selected tasks of a project, read chunk by chunk."""

    def __init__(self, selection: Selection, chunk_size: int) -> None:
        self.selection = selection
        self.chunk_size = chunk_size
        self.counts = Counts()
        self._upload_names: dict[int, str] = {}  # id → the name as JSON text

    def raw(self) -> Iterator[str]:
        self.counts = Counts()
        query = self._ordered().annotate(**as_text("data", "meta", "created_at", "updated_at"))
        for rows in self._chunks(query.values_list(*TASK_COLUMNS)):
            yield from self._render(rows)

    def tasks(self) -> Iterator[dict[str, Any]]:
        return (json.loads(text) for text in self.raw())

    def data_keys(self) -> set[str]:
        """Every key of the selected tasks' data (a pass over the data column only)."""
        keys: set[str] = set()
        query = self._ordered().annotate(**as_text("data")).values_list("id", "data_text")
        for rows in self._chunks(query):
            for _, text in rows:
                data = json.loads(text)
                keys.update(data if isinstance(data, dict) else ())
        return keys

    def _ordered(self) -> Any:
        return self.selection.tasks().order_by("id")

    def _chunks(self, query: Any) -> Iterator[list[tuple[Any, ...]]]:
        """Rows of `query` `chunk_size` at a time: by id range, or by slices of the given ids."""
        if self.selection.ids is not None:
            for among in self.selection.id_slices(self.chunk_size):
                if rows := list(query.filter(id__in=among)):
                    yield rows
            return
        yield from self._windows(query)

    def _windows(self, query: Any) -> Iterator[list[tuple[Any, ...]]]:
        """Keyset pages, each also bounded above (`id <= after + window`).

        The upper bound keeps every page's cost proportional to the page, whatever plan the
        database picks: PostgreSQL with stale statistics (right after a bulk import) would
        otherwise scan all remaining tasks for each page. The window follows the density of
        the project's ids: it doubles across gaps and shrinks to what a full page spanned.
        """
        bounds = Task.objects.filter(project_id=self.selection.project_id).aggregate(
            low=Min("id"), high=Max("id")
        )
        if bounds["low"] is None:
            return
        after, high, window = bounds["low"] - 1, bounds["high"], self.chunk_size
        while after < high:
            rows = list(query.filter(id__gt=after, id__lte=after + window)[: self.chunk_size])
            if rows:
                yield rows
            if len(rows) == self.chunk_size:
                window = max(self.chunk_size, rows[-1][0] - after)
                after = rows[-1][0]
            else:
                after += window
                window *= 2

    def _members(self, ids: list[int]) -> Q:
        """A chunk's tasks, as a condition on `task_id`: a subquery over the chunk's id range
        (so that no query carries a thousand parameters), plus the range itself, which lets
        the database read only that stretch of the annotation and prediction indexes."""
        span = Q(task_id__gte=ids[0], task_id__lte=ids[-1])
        if self.selection.ids is not None:
            return span & Q(task_id__in=ids)
        chunk = self.selection.tasks().filter(id__gte=ids[0], id__lte=ids[-1]).values("id")
        return span & Q(task_id__in=chunk)

    def _render(self, rows: list[tuple[Any, ...]]) -> list[str]:
        ids = [row[0] for row in rows]
        members = self._members(ids)
        annotations = self._annotations(members)
        predictions = self._predictions(members)
        drafts = self._drafts(members)
        names = self._names({row[-1] for row in rows})
        project = self.selection.project_id
        self.counts.tasks += len(rows)
        return [
            TASK
            % (
                pk,
                ", ".join(annotations.get(pk, ())),
                names.get(upload, "null") if upload else "null",
                ", ".join(drafts.get(pk, ())),
                ", ".join(predictions.get(pk, ())),
                data,
                meta,
                stamp(created),
                stamp(updated),
                inner_id,
                total,
                cancelled,
                total_predictions,
                project,
                _int(updated_by),
            )
            for (
                pk,
                data,
                meta,
                created,
                updated,
                inner_id,
                updated_by,
                total,
                cancelled,
                total_predictions,
                upload,
            ) in rows
        ]

    def _names(self, ids: set[int | None]) -> dict[int, str]:
        """The names of the files tasks came from, as JSON text, read once per export
        (most tasks came from a few files, or from request bodies: none)."""
        unknown = [pk for pk in ids if pk is not None and pk not in self._upload_names]
        for pk, name in upload_names(unknown).items():
            if pk is not None:
                self._upload_names[pk] = json.dumps(name)
        return self._upload_names

    def _annotations(self, members: Q) -> dict[int, list[str]]:
        query = (
            self.selection.annotations(members)
            .order_by("task_id", "id")
            .annotate(**as_text("result", "created_at", "updated_at", "unique_id"))
            .values_list(*ANNOTATION_COLUMNS)
        )
        found: dict[int, list[str]] = defaultdict(list)
        rows = list(query)
        users = self._users({row[2] for row in rows}) if self.selection.expand_completed_by else {}
        project = self.selection.project_id
        for (
            task,
            pk,
            author,
            result,
            cancelled,
            truth,
            lead,
            created,
            updated,
            by,
            regions,
            unique,
            imported_as,
            action,
            in_bulk,
            parent,
        ) in rows:
            found[task].append(
                ANNOTATION
                % (
                    pk,
                    users.get(author, "null") if users else _int(author),
                    result,
                    _bool(cancelled),
                    _bool(truth),
                    stamp(created),
                    stamp(updated),
                    _float(lead),
                    regions,
                    _dashed(unique),
                    _int(imported_as),
                    _ACTIONS.get(action) or json.dumps(action or None),
                    _bool(in_bulk),
                    task,
                    project,
                    _int(by),
                    _int(parent),
                )
            )
        self.counts.annotations += len(rows)
        return found

    def _predictions(self, members: Q) -> dict[int, list[str]]:
        found: dict[int, list[str]] = defaultdict(list)
        predictions = Prediction.objects.filter(members).order_by("task_id", "id")
        if not self.selection.expand_predictions:
            for task, pk in predictions.values_list("task_id", "id"):
                found[task].append(str(pk))
                self.counts.predictions += 1
            return found
        project = self.selection.project_id
        rows = predictions.annotate(**as_text("result", "created_at", "updated_at"))
        for task, pk, result, score, version, created, updated in rows.values_list(
            *PREDICTION_COLUMNS
        ):
            found[task].append(
                PREDICTION
                % (
                    pk,
                    result,
                    _float(score),
                    json.dumps(version),
                    stamp(created),
                    stamp(updated),
                    task,
                    project,
                )
            )
            self.counts.predictions += 1
        return found

    def _drafts(self, members: Q) -> dict[int, list[str]]:
        """Every person's drafts of the chunk's tasks: their ids, or (`expand_drafts`)
        the drafts as the API shows them. Drafts are few: read as objects."""
        found: dict[int, list[str]] = defaultdict(list)
        drafts = Draft.objects.filter(members).order_by("task_id", "id")
        if not self.selection.expand_drafts:
            for task, pk in drafts.values_list("task_id", "id"):
                found[task].append(str(pk))
            return found
        for row in drafts.values(*DRAFT_COLUMNS):
            found[row["task_id"]].append(json.dumps(draft_row_json(row)))
        return found

    @staticmethod
    def _users(ids: Iterable[int | None]) -> dict[int, str]:
        fields = ("id", "email", "first_name", "last_name", "username")
        users = User.objects.filter(pk__in=[pk for pk in ids if pk is not None])
        return {
            row[0]: json.dumps(dict(zip(fields, row, strict=True)))
            for row in users.values_list(*fields)
        }


class FileSource:
    """Tasks of a snapshot file: a JSON array written one task per line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def raw(self) -> Iterator[str]:
        with self.path.open(encoding="utf-8", newline="\n") as lines:
            for line in lines:
                text = line.rstrip().removesuffix(",")
                if text.startswith("{"):
                    yield text

    def tasks(self) -> Iterator[dict[str, Any]]:
        return (json.loads(text) for text in self.raw())

    def data_keys(self) -> set[str]:
        keys: set[str] = set()
        for task in self.tasks():
            data = task.get("data")
            keys.update(data if isinstance(data, dict) else ())
        return keys

"""Task, annotation and prediction fields, named as Label Studio names them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db.models import F
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labelkeep.accounts.models import User
from labelkeep.api.fields import FiniteFloatField, IdField, StorableDictField, StorableJSONField
from labelkeep.tasks.models import Annotation, AnnotationAction, Prediction, Task

# Label Studio's annotation bookkeeping, kept by the services (read only).
BOOKKEEPING = ("unique_id", "result_count", "import_id", "last_action", "bulk_created")
# Tasks one bulk annotation request may annotate.
BULK_ANNOTATION_LIMIT = 10_000

TASK_FIELDS = (
    "id",
    "project",
    "data",
    "meta",
    "created_at",
    "updated_at",
    "updated_by",
    "is_labeled",
    "overlap",
    "inner_id",
    "total_annotations",
    "cancelled_annotations",
    "total_predictions",
    "file_upload",
)
# Label Studio's data-manager columns given with `fields=all`, from the task's annotations
# (those the reader sees) and predictions, as the task list's filters compute them.
COMPUTED_FIELDS = (
    "completed_at",
    "ground_truth",
    "predictions_score",
    "annotators",
    "annotations_ids",
    "predictions_model_versions",
    "annotations_results",
    "predictions_results",
    "avg_lead_time",
    "draft_exists",
    "storage_filename",
)
# Characters of the `annotations_results` and `predictions_results` cells: a table shows
# them; the results themselves are in `annotations` and `predictions`.
RESULTS_SHOWN = 1000
# The name of the file a task was imported from, under this key of a task's row: joined
# when one task is fetched (labelkeep/tasks/access.py), read by upload_names for a page of
# the task list, and for a task loaded without it (task_fields_json).
UPLOAD_NAME = "file_upload_name"
UPLOAD_NAME_COLUMN = F("file_upload__original_name")


class AnnotationSerializer(serializers.ModelSerializer[Annotation]):
    """An annotation: one person's result for a task (or, with `was_cancelled`, a skip)."""

    result = StorableJSONField(required=False)
    lead_time = FiniteFloatField(min_value=0, required=False, allow_null=True)
    completed_by = IdField(source="completed_by_id", required=False)
    parent_prediction = IdField(
        source="parent_prediction_id",
        required=False,
        allow_null=True,
        help_text="The prediction of the same task the annotation was made from.",
    )
    last_action = serializers.SerializerMethodField()

    class Meta:
        model = Annotation
        fields = (
            "id",
            "task",
            "project",
            "result",
            "completed_by",
            "was_cancelled",
            "ground_truth",
            "lead_time",
            "created_at",
            "updated_at",
            "updated_by",
            "parent_prediction",
            *BOOKKEEPING,
        )
        read_only_fields = (
            "id",
            "task",
            "project",
            "created_at",
            "updated_at",
            "updated_by",
            *BOOKKEEPING,
        )
        extra_kwargs: dict[str, Any] = {
            "unique_id": {"help_text": "A random id that stays with the annotation."},
            "result_count": {"help_text": "The number of regions in `result`."},
            "import_id": {"help_text": "The annotation's id in the file it was imported from."},
            "bulk_created": {
                "help_text": "Made by an import, a bulk request or the data manager's "
                "predictions_to_annotations rather than one by one."
            },
        }

    @extend_schema_field(
        {
            "type": "string",
            "nullable": True,
            "enum": [*AnnotationAction.values, None],
            "description": "How the annotation was last written; null for annotations "
            "written before Labelkeep kept it.",
        }
    )
    def get_last_action(self, annotation: Annotation) -> str | None:
        return annotation.last_action or None


class DraftIdSerializer(serializers.Serializer[Any]):
    """`draft_id`, sent with an annotation's create or change: the caller's draft of the
    task it was made from, deleted with the save."""

    draft_id = IdField(required=False, allow_null=True)


class AnnotationCreateSerializer(serializers.Serializer[Any]):
    """What creating an annotation accepts: AnnotationSerializer's writable fields, declared
    plainly (a ModelSerializer rebuilds its fields from the model for every request).
    tests/tasks/test_output.py pins the two to the same answers."""

    result = StorableJSONField(required=False)
    completed_by = IdField(source="completed_by_id", required=False)
    was_cancelled = serializers.BooleanField(required=False)
    ground_truth = serializers.BooleanField(required=False)
    lead_time = FiniteFloatField(min_value=0, required=False, allow_null=True)
    parent_prediction = IdField(source="parent_prediction_id", required=False, allow_null=True)


class SelectedItemsSerializer(serializers.Serializer[Any]):
    """Label Studio's task selection: `{all: false, included: [ids]}` or
    `{all: true, excluded: [ids]}`."""

    all = serializers.BooleanField(default=False, help_text="Every task of the project.")
    included = serializers.ListField(
        child=IdField(),
        required=False,
        help_text="Without `all`: the chosen task ids.",
    )
    excluded = serializers.ListField(
        child=IdField(),
        required=False,
        help_text="With `all`: task ids to leave out.",
    )


class AnnotationBulkCreateSerializer(AnnotationCreateSerializer):
    """One annotation for each of several tasks of one project (`create_bulk`)."""

    project = IdField(required=False, help_text="The project; needed with `selected_items`.")
    tasks = serializers.ListField(
        child=IdField(),
        required=False,
        max_length=BULK_ANNOTATION_LIMIT,
        help_text="The tasks to annotate.",
    )
    task = IdField(required=False, help_text="One more task.")
    selected_items = SelectedItemsSerializer(
        required=False, help_text="Or the tasks as a data-manager selection of `project`."
    )
    parent_prediction = None  # type: ignore[assignment]  # a prediction is of one task


class PredictionSerializer(serializers.ModelSerializer[Prediction]):
    """A model's suggested result for a task."""

    # A plain id: the view looks the task up within what the caller may see (404 otherwise),
    # so ids of other organizations' tasks are not told apart from missing ones.
    task = IdField(source="task_id")
    result = StorableJSONField()
    score = FiniteFloatField(required=False, allow_null=True)

    class Meta:
        model = Prediction
        fields = (
            "id",
            "task",
            "project",
            "result",
            "score",
            "model_version",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "project", "created_at", "updated_at")
        extra_kwargs: dict[str, Any] = {"model_version": {"max_length": 200}}


class TaskSerializer(serializers.ModelSerializer[Task]):
    """A task; with `full`, its annotations and predictions as objects."""

    updated_by = serializers.SerializerMethodField()
    file_upload = serializers.CharField(
        source="file_upload.original_name",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The name of the uploaded (or fetched) file the task was imported from; "
        "null for tasks sent in a request body.",
    )

    class Meta:
        model = Task
        fields = TASK_FIELDS
        read_only_fields = TASK_FIELDS

    @extend_schema_field(
        {
            "type": "array",
            "items": {"type": "object", "properties": {"user_id": {"type": "integer"}}},
            "description": "Who last changed the task: `[{user_id}]`, or `[]`.",
        }
    )
    def get_updated_by(self, task: Task) -> list[dict[str, int]]:
        """Label Studio's shape, which the SDK's `LseTask` declares (a bare id there makes
        the SDK fall back to another task model)."""
        return [{"user_id": task.updated_by_id}] if task.updated_by_id else []


class DraftSerializer(serializers.Serializer[Any]):
    """A draft as Label Studio shows it; `result`, `lead_time` and `was_postponed` are
    written, the rest is read only."""

    id = serializers.IntegerField(read_only=True)
    user = serializers.CharField(read_only=True, help_text="The author's e-mail address.")
    created_username = serializers.CharField(
        read_only=True, help_text="The author's name, e-mail address and id."
    )
    created_ago = serializers.CharField(read_only=True, help_text="How long ago it was made.")
    result = StorableJSONField(
        required=False,
        help_text="Regions, as in an annotation: a list of JSON objects, kept as sent "
        "(checked against the labeling config once it becomes an annotation).",
    )
    lead_time = FiniteFloatField(min_value=0, required=False, allow_null=True)
    was_postponed = serializers.BooleanField(required=False)
    import_id = serializers.IntegerField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    task = serializers.IntegerField(read_only=True)
    annotation = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The annotation it changes, if any."
    )
    project = serializers.IntegerField(read_only=True)


class TaskDetailSerializer(TaskSerializer):
    """A task with its annotations (annotators: only their own), predictions and drafts
    (documentation: the body `task_json(full=True)` builds)."""

    annotations = AnnotationSerializer(many=True, read_only=True)
    predictions = PredictionSerializer(many=True, read_only=True)
    drafts = DraftSerializer(
        many=True, read_only=True, help_text="The reader's own drafts of the task."
    )

    # Label Studio's data-manager columns (COMPUTED_FIELDS): declared for the schema, their
    # values set by to_representation from computed_json, as task_json sets them.
    completed_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        default=None,
        help_text="When the task was done: its newest finished annotation's time, for a "
        "task that is done (`is_labeled`); else null.",
    )
    ground_truth = serializers.BooleanField(
        read_only=True, default=False, help_text="Whether an annotation is marked ground truth."
    )
    predictions_score = serializers.FloatField(
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The mean score of its scored predictions; null without one.",
    )
    annotators = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        default=list,
        help_text="Who annotated or skipped it, by id: `{user_id, annotated, review, "
        "reviewed, id, email, username, first_name, last_name, avatar}` each.",
    )
    annotations_ids = serializers.CharField(
        read_only=True, default="", help_text="Its annotations' ids, comma-separated."
    )
    predictions_model_versions = serializers.CharField(
        read_only=True,
        default="",
        help_text="Its predictions' model versions, distinct, comma-separated.",
    )
    annotations_results = serializers.CharField(
        read_only=True,
        default="",
        help_text="Its annotations' results that have regions, as JSON, comma-separated, "
        f"cut at {RESULTS_SHOWN} characters.",
    )
    predictions_results = serializers.CharField(
        read_only=True,
        default="",
        help_text="Its predictions' results that have regions, as JSON, comma-separated, "
        f"cut at {RESULTS_SHOWN} characters.",
    )
    avg_lead_time = serializers.FloatField(
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The mean `lead_time` of its annotations; null without one.",
    )
    draft_exists = serializers.BooleanField(
        read_only=True,
        default=False,
        help_text="Whether it has a draft: of anyone (reviewers and above), or the reader's.",
    )
    storage_filename = serializers.CharField(
        read_only=True,
        allow_null=True,
        default=None,
        help_text="Always null: tasks come from no storage yet.",
    )

    class Meta:
        model = Task
        fields = (*TASK_FIELDS, "annotations", "predictions", "drafts", *COMPUTED_FIELDS)
        read_only_fields = fields

    def to_representation(self, instance: Task) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        annotations = [a.__dict__ for a in instance.annotations.all()]
        predictions = [p.__dict__ for p in instance.predictions.all()]
        people = people_of(annotations)
        data.update(computed_json(instance.is_labeled, annotations, predictions, people))
        return data


class ListedTaskSerializer(TaskDetailSerializer):
    """A task in the task list: `annotations`, `predictions` and `drafts` only with
    `fields=all`; with `include`, only the fields it names and `id` (documentation only)."""


# --- Output ---------------------------------------------------------------------------
# The serializers above validate input and document the API; the hot read paths build the
# same JSON with these plain functions, which cost a small fraction of a ModelSerializer
# (which rebuilds its fields from the model on every use). tests/tasks/test_output.py
# pins them to the serializers' output.


def timestamp(value: dt.datetime) -> str:
    """A timestamp as DRF writes it: ISO 8601 in the time zone of settings, UTC as `Z`."""
    # The default zone: Labelkeep never activates another (and the lookup is cached).
    text = value.astimezone(timezone.get_default_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def instant(value: dt.datetime | None) -> str | None:
    """`timestamp`, keeping None."""
    return None if value is None else timestamp(value)


def updated_by_json(user_id: int | None) -> list[dict[str, int]]:
    return [{"user_id": user_id}] if user_id else []


# Rows are dicts keyed by attribute name: `.values(*ANNOTATION_COLUMNS)` rows, or a model
# instance's `__dict__`, where Django keeps its loaded field values under the same names.
Row = Mapping[str, Any]

ANNOTATION_COLUMNS = (
    "id",
    "task_id",
    "project_id",
    "result",
    "completed_by_id",
    "was_cancelled",
    "ground_truth",
    "lead_time",
    "created_at",
    "updated_at",
    "updated_by_id",
    "parent_prediction_id",
    "unique_id",
    "result_count",
    "import_id",
    "last_action",
    "bulk_created",
)
PREDICTION_COLUMNS = (
    "id",
    "task_id",
    "project_id",
    "result",
    "score",
    "model_version",
    "created_at",
    "updated_at",
)


def annotation_row_json(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "task": row["task_id"],
        "project": row["project_id"],
        "result": row["result"],
        "completed_by": row["completed_by_id"],
        "was_cancelled": row["was_cancelled"],
        "ground_truth": row["ground_truth"],
        "lead_time": row["lead_time"],
        "created_at": instant(row["created_at"]),
        "updated_at": instant(row["updated_at"]),
        "updated_by": row["updated_by_id"],
        "parent_prediction": row["parent_prediction_id"],
        "unique_id": str(row["unique_id"]),
        "result_count": row["result_count"],
        "import_id": row["import_id"],
        "last_action": row["last_action"] or None,
        "bulk_created": row["bulk_created"],
    }


def annotation_json(annotation: Annotation) -> dict[str, Any]:
    return annotation_row_json(annotation.__dict__)


def prediction_row_json(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "task": row["task_id"],
        "project": row["project_id"],
        "result": row["result"],
        "score": row["score"],
        "model_version": row["model_version"],
        "created_at": instant(row["created_at"]),
        "updated_at": instant(row["updated_at"]),
    }


def prediction_json(prediction: Prediction) -> dict[str, Any]:
    return prediction_row_json(prediction.__dict__)


# Each task field: the column it comes from and how it is written.
TASK_COLUMNS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "id": ("id", lambda v: v),
    "project": ("project_id", lambda v: v),
    "data": ("data", lambda v: v),
    "meta": ("meta", lambda v: v),
    "created_at": ("created_at", instant),
    "updated_at": ("updated_at", instant),
    "updated_by": ("updated_by_id", updated_by_json),
    "is_labeled": ("is_labeled", lambda v: v),
    "overlap": ("overlap", lambda v: v),
    "inner_id": ("inner_id", lambda v: v),
    "total_annotations": ("total_annotations", lambda v: v),
    "cancelled_annotations": ("cancelled_annotations", lambda v: v),
    "total_predictions": ("total_predictions", lambda v: v),
    "file_upload": (UPLOAD_NAME, lambda v: v),
}
if tuple(TASK_COLUMNS) != TASK_FIELDS:
    raise ImportError("task output and TASK_FIELDS disagree")


def task_row_json(row: Row, fields: Iterable[str] = TASK_FIELDS) -> dict[str, Any]:
    """A task's own fields, only `fields` (in TASK_FIELDS order), from a row of columns."""
    out = {}
    for name in fields:
        column, write = TASK_COLUMNS[name]
        out[name] = write(row[column])
    return out


def task_fields_json(task: Task, fields: Iterable[str] = TASK_FIELDS) -> dict[str, Any]:
    """The task's own fields (only `fields`: the others may not have been loaded). The
    upload's name is read here if the task was loaded without it (a task just created or
    picked by the label stream; most have none, and cost no query)."""
    row = task.__dict__
    if UPLOAD_NAME not in row:
        name = upload_names({task.file_upload_id}).get(task.file_upload_id)
        row = {**row, UPLOAD_NAME: name}
    return task_row_json(row, fields)


def upload_names(ids: Iterable[int | None]) -> dict[int | None, str]:
    """The names of these uploads (one query, none when no id is given); an upload deleted
    meanwhile is left out."""
    wanted = [pk for pk in ids if pk is not None]
    if not wanted:
        return {}
    # The upload model through the task's relation: tasks sit below dataio (no import).
    uploads = Task._meta.get_field("file_upload").related_model
    if not isinstance(uploads, type):
        raise TypeError("Task.file_upload names no model")
    found = uploads._default_manager.filter(pk__in=wanted).values_list("pk", "original_name")
    return dict(found)


def people_of(annotations: Iterable[Row]) -> dict[int, Row]:
    """The authors of these annotations (rows of id, email, username, names), by id: one
    query, none without authors."""
    ids = {a["completed_by_id"] for a in annotations if a["completed_by_id"] is not None}
    if not ids:
        return {}
    found = User.objects.filter(pk__in=ids).values(*PERSON_COLUMNS)
    return {row["id"]: row for row in found}


PERSON_COLUMNS = ("id", "email", "username", "first_name", "last_name")
# The same, joined to annotation rows (`.values(*ANNOTATION_COLUMNS, *AUTHOR_COLUMNS)`).
AUTHOR_COLUMNS = tuple(f"completed_by__{name}" for name in PERSON_COLUMNS[1:])


def authors_in(annotations: Iterable[Row]) -> dict[int, Row]:
    """`people_of`, from annotation rows that carry AUTHOR_COLUMNS: no query."""
    return {
        a["completed_by_id"]: {
            "id": a["completed_by_id"],
            **{name: a[f"completed_by__{name}"] for name in PERSON_COLUMNS[1:]},
        }
        for a in annotations
        if a["completed_by_id"] is not None
    }


def _joined(values: Iterable[Any]) -> str:
    """Label Studio's list cells: distinct values, comma-separated ("" for none)."""
    return ",".join(str(v) for v in sorted({v for v in values if v not in (None, "")}))


_RESULTS_JSON = json.JSONEncoder(ensure_ascii=False)  # made once: a page encodes hundreds


def results_text(results: Iterable[Any]) -> str:
    """Label Studio's results cells: the results that have regions, as JSON, comma-separated
    (without the list's brackets), cut at RESULTS_SHOWN characters ("" for none)."""
    parts: list[str] = []
    size = 0
    for result in results:
        if not result:
            continue
        parts.append(_RESULTS_JSON.encode(result))
        size += len(parts[-1]) + 2
        if size >= RESULTS_SHOWN:  # the rest would be cut off: not encoded
            break
    return ", ".join(parts)[:RESULTS_SHOWN]


def computed_json(
    is_labeled: bool,
    annotations: Iterable[Row],
    predictions: Iterable[Row],
    people: Mapping[int, Row],
) -> dict[str, Any]:
    """Label Studio's data-manager columns of a task, from its annotations and
    predictions (rows of their columns, or model instances' `__dict__`) and their
    authors (`people_of`): see COMPUTED_FIELDS and docs/api-compatibility.md."""
    annotations, predictions = list(annotations), list(predictions)
    finished = [a["created_at"] for a in annotations if not a["was_cancelled"]]
    scores = [p["score"] for p in predictions if p["score"] is not None]
    times = [a["lead_time"] for a in annotations if a["lead_time"] is not None]
    authors = sorted({a["completed_by_id"] for a in annotations} & set(people))
    return {
        "completed_at": instant(max(finished)) if is_labeled and finished else None,
        "ground_truth": any(a["ground_truth"] for a in annotations),
        "predictions_score": sum(scores) / len(scores) if scores else None,
        "annotators": [
            {
                "user_id": pk,
                "annotated": True,
                "review": None,
                "reviewed": False,
                **people[pk],
                "avatar": None,
            }
            for pk in authors
        ],
        "annotations_ids": _joined(a["id"] for a in annotations),
        "predictions_model_versions": _joined(p["model_version"] for p in predictions),
        "annotations_results": results_text(a["result"] for a in annotations),
        "predictions_results": results_text(p["result"] for p in predictions),
        "avg_lead_time": sum(times) / len(times) if times else None,
        "draft_exists": False,
        "storage_filename": None,
    }


def task_json(
    task: Task,
    *,
    full: bool,
    annotations: list[Annotation] | None = None,
    predictions: list[Prediction] | None = None,
    drafts: list[dict[str, Any]] | None = None,
    drafted: bool = False,
) -> dict[str, Any]:
    """A task; with `full`, its annotations, predictions and the reader's `drafts` (as
    JSON), and the computed columns (`drafted`: whether it has a draft the reader may
    know of)."""
    data = task_fields_json(task)
    if full:
        found = task.annotations.all() if annotations is None else annotations
        data["annotations"] = [annotation_json(a) for a in found]
        made = task.predictions.all() if predictions is None else predictions
        data["predictions"] = [prediction_json(p) for p in made]
        data["drafts"] = drafts or []
        rows = [a.__dict__ for a in found]
        data.update(
            computed_json(task.is_labeled, rows, (p.__dict__ for p in made), people_of(rows))
        )
        data["draft_exists"] = drafted
    return data


class TaskWriteSerializer(serializers.Serializer[Any]):
    """Task fields a caller sends (which ones each endpoint needs, it checks itself)."""

    # DRF's metaclass moves declared fields off the class, so `data` the field does not
    # replace `.data` the property; only the type checker sees a clash.
    data = StorableDictField(required=False)  # type: ignore[assignment]
    meta = StorableDictField(required=False)
    project = IdField(required=False)
    overlap = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    is_labeled = serializers.BooleanField(
        required=False, help_text="Mark the task done (or not) until it is next recounted."
    )


class IdListSerializer(serializers.Serializer[Any]):
    """Annotation ids, optionally with the project they must all belong to."""

    ids = serializers.ListField(child=IdField(), max_length=100_000)
    project = IdField(required=False, help_text="If given, every id must be in this project.")

"""The task list: Label Studio's `{tasks, total, total_annotations, total_predictions}`.

A page is one query whatever its depth: the page's ids come from a subquery that
orders and skips on an index (`id IN (SELECT id … ORDER BY … LIMIT … OFFSET …)`), so a
deep page steps over index entries, never over rows and their JSON. A list in id order
(the default, and how scripts read a whole project), filtered or not, starts deep pages
from anchors instead (`anchors`), stepping over fewer than a thousand entries. Filters
and ordering come from `filters`, which maps Label Studio's names to an allowlist."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from django.db.models import F, IntegerField, OrderBy, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.lookups import GreaterThan
from rest_framework import exceptions
from rest_framework.request import Request

from labelkeep.accounts.models import User
from labelkeep.projects.models import Project
from labelkeep.tasks import anchors, filters, saved_views
from labelkeep.tasks.drafts import page_drafts
from labelkeep.tasks.models import Annotation, Prediction, SavedView, Task
from labelkeep.tasks.models import labeled as tasks_labeled
from labelkeep.tasks.serializers import (
    ANNOTATION_COLUMNS,
    AUTHOR_COLUMNS,
    COMPUTED_FIELDS,
    PREDICTION_COLUMNS,
    TASK_COLUMNS,
    TASK_FIELDS,
    UPLOAD_NAME,
    annotation_row_json,
    authors_in,
    computed_json,
    prediction_row_json,
    task_row_json,
    upload_names,
)

MAX_PAGE_SIZE = 1000
MAX_PAGE = 10_000_000
RELATED = ("annotations", "predictions", "drafts", *COMPUTED_FIELDS)
# What each computed field is made from (besides the task's `is_labeled`).
_FROM_ANNOTATIONS = frozenset(
    {
        "annotations",
        "completed_at",
        "ground_truth",
        "annotators",
        "annotations_ids",
        "annotations_results",
        "avg_lead_time",
    }
)
_FROM_PREDICTIONS = frozenset(
    {"predictions", "predictions_score", "predictions_model_versions", "predictions_results"}
)
_DIGITS = re.compile(r"[0-9]{1,12}")
_FLAGS = {"true": True, "1": True, "false": False, "0": False}
# `only_annotated=true`, with the 0 written into the SQL: the partial index of annotated
# tasks (tasks/models.py) then answers the condition itself. As a bound parameter, the
# databases cannot know it matches the index's `> 0` and read every row to check it
# (SQLite: 100 ms instead of 28 at the 800,000th annotated task).
ANNOTATED = Q(GreaterThan(F("total_annotations"), RawSQL("0", (), output_field=IntegerField())))


@dataclass(frozen=True)
class Listing:
    """What one request asks for, validated."""

    page: int
    size: int
    full: bool
    include: frozenset[str]
    condition: Q | None
    ordering: list[str | OrderBy]


def _number(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or int(raw) < 1:
        raise exceptions.ValidationError({name: "A whole number from 1."})
    return min(int(raw), maximum)


def _flag(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in _FLAGS:
        raise exceptions.ValidationError({name: "Use true or false."})
    return _FLAGS[raw.lower()]


def _include(request: Request, full: bool) -> frozenset[str]:
    known = (*TASK_FIELDS, *RELATED) if full else TASK_FIELDS
    raw = request.query_params.get("include")
    if not raw:
        return frozenset(known)
    names = frozenset(n.strip() for n in raw.split(",") if n.strip())
    unknown = sorted(names - set(known))
    if unknown:
        raise exceptions.ValidationError({"include": f"Unknown fields {unknown}."})
    return names | {"id"}


def _condition(request: Request, query: dict[str, Any], scope: filters.Scope) -> Q | None:
    parts = [
        filters.conditions(query.get("filters"), scope),
        filters.selected(query.get("selectedItems")),
    ]
    raw_selection = request.query_params.get("selectedItems")
    if raw_selection:
        try:
            parts.append(filters.selected(json.loads(raw_selection), "selectedItems"))
        except (ValueError, RecursionError):
            raise filters.refuse("selectedItems", "Not valid JSON.") from None
    if _flag(request, "only_annotated"):
        parts.append(ANNOTATED)
    labeled = _flag(request, "is_labeled")
    if labeled is not None:
        parts.append(tasks_labeled(labeled))
    condition = None
    for part in parts:
        if part is not None:
            condition = part if condition is None else condition & part
    return condition


def read_listing(request: Request, scope: filters.Scope, view: SavedView | None = None) -> Listing:
    """Validate every parameter of the task list; anything unsafe or unknown is a 400.
    With a saved `view`, its filters, ordering and selection stand in for `query`."""
    fields = request.query_params.get("fields", "task_only")
    if fields not in ("all", "task_only"):
        raise exceptions.ValidationError({"fields": "Use all or task_only."})
    _flag(request, "resolve_uri")  # accepted; task data is returned as stored
    if view is None:
        query = filters.parse_query(request.query_params.get("query"))
    elif request.query_params.get("query"):
        raise exceptions.ValidationError({"view": "Give `view` or `query`, not both."})
    else:
        query = saved_views.query_of(view)
    try:
        if query.get("ordering"):
            ordering = filters.ordering(query["ordering"], "query", scope)
        else:
            ordering = filters.ordering(
                request.query_params.get("ordering", "id"), "ordering", scope
            )
        condition = _condition(request, query, scope)
    except exceptions.ValidationError as exc:
        if view is None:
            raise
        raise saved_views.rekeyed(exc, "view") from None
    return Listing(
        page=_number(request, "page", 1, MAX_PAGE),
        size=_number(request, "page_size", 100, MAX_PAGE_SIZE),
        full=fields == "all",
        include=_include(request, fields == "all"),
        condition=condition,
        ordering=ordering,
    )


def _page_rows(
    project: Project, tasks: QuerySet[Task], listing: Listing, filtered: anchors.Signature
) -> list[dict[str, Any]]:
    """The page's tasks as rows of the columns the included fields need (no model
    instances: a hundred of them cost more than the query)."""
    start = (listing.page - 1) * listing.size
    ordered = tasks.order_by(*listing.ordering)
    ids = None
    if listing.ordering in (["id"], ["-id"]):
        descending = listing.ordering == ["-id"]
        ids = anchors.page_ids(project, tasks, descending, start, listing.size, filtered)
    if ids is not None:
        rows = Task.objects.filter(pk__in=ids).order_by(*listing.ordering)
    elif start:
        # Skip on the index (ids only), then read just the page's rows.
        window = ordered.values("pk")[start : start + listing.size]
        rows = Task.objects.filter(pk__in=window).order_by(*listing.ordering)
    else:
        rows = ordered[: listing.size]
    columns = {TASK_COLUMNS[name][0] for name in TASK_FIELDS if name in listing.include}
    if listing.full and "completed_at" in listing.include:
        columns.add("is_labeled")
    if UPLOAD_NAME not in columns:
        return list(rows.values(*columns, "id"))
    # The files' names in a query of their own (when the page has any), not a join in the
    # page's: a join would be made for every task the ordering reads, not only the page's.
    columns.remove(UPLOAD_NAME)
    found = list(rows.values(*columns, "file_upload_id", "id"))
    names = upload_names({row["file_upload_id"] for row in found})
    for row in found:
        row[UPLOAD_NAME] = names.get(row["file_upload_id"])
    return found


def _by_task(
    related: QuerySet[Any], columns: tuple[str, ...], rows: list[dict[str, Any]]
) -> dict[int, list[dict[str, Any]]]:
    """One query for the page's annotations (or predictions), grouped by task. (Django's
    prefetch_related builds a queryset per task to attach them, which costs more.)"""
    grouped: dict[int, list[dict[str, Any]]] = {row["id"]: [] for row in rows}
    for item in related.filter(task_id__in=list(grouped)).order_by("id").values(*columns):
        grouped[item["task_id"]].append(item)
    return grouped


def _total(
    project: Project, tasks: QuerySet[Task], condition: Q | None, filtered: anchors.Signature
) -> int:
    """The matching tasks: the project's counters when they answer it (no filter, or only
    `only_annotated`: `num_tasks_with_annotations` counts exactly those), else a COUNT,
    which the filters' indexes answer, remembered until the project's tasks change."""
    if filtered is None:  # no filter
        return project.task_number
    if condition == ANNOTATED:
        return project.num_tasks_with_annotations
    return anchors.total(project, tasks, filtered)


def _totals(
    project: Project, tasks: QuerySet[Task], condition: Q | None, filtered: anchors.Signature
) -> dict[str, int]:
    # Summing the annotation and prediction counters of the filtered tasks would read
    # every matching row, five to twenty times the cost of counting them, so those two
    # stay the project's (docs/api-compatibility.md).
    return {
        "total": _total(project, tasks, condition, filtered),
        "total_annotations": project.total_annotations_number,
        "total_predictions": project.total_predictions_number,
    }


def task_page(
    project: Project,
    request: Request,
    *,
    own_only: bool,
    user: User,
    view: SavedView | None = None,
) -> dict[str, Any]:
    """One page of a project's tasks; with `fields=all` their annotations and predictions."""
    scope = filters.Scope(project=project, user=user, own_only=own_only)
    listing = read_listing(request, scope, view)
    tasks = Task.objects.filter(project=project)
    filtered = None  # the filtered list's signature, for what is remembered of it
    if listing.condition is not None:
        tasks = tasks.filter(listing.condition)
        filtered = anchors.signature(tasks)
    rows = _page_rows(project, tasks, listing, filtered)
    return {
        "tasks": _json(rows, listing, scope),
        **_totals(project, tasks, listing.condition, filtered),
    }


def _json(
    rows: list[dict[str, Any]], listing: Listing, scope: filters.Scope
) -> list[dict[str, Any]]:
    fields = [name for name in TASK_FIELDS if name in listing.include]
    annotations = predictions = None
    computed = [name for name in COMPUTED_FIELDS if listing.full and name in listing.include]
    if listing.full and listing.include & _FROM_ANNOTATIONS:
        visible = Annotation.objects.all()
        if scope.own_only:
            visible = visible.filter(completed_by=scope.user)
        # The authors (`annotators`) joined in the same query.
        columns = (*ANNOTATION_COLUMNS, *(AUTHOR_COLUMNS if "annotators" in computed else ()))
        annotations = _by_task(visible, columns, rows)
    if listing.full and listing.include & _FROM_PREDICTIONS:
        predictions = _by_task(Prediction.objects.all(), PREDICTION_COLUMNS, rows)
    mine: dict[int, list[dict[str, Any]]] = {}
    drafted: set[int] = set()
    if listing.full and listing.include & {"drafts", "draft_exists"} and scope.project.has_drafts:
        ids = [row["id"] for row in rows]
        mine, drafted = page_drafts(ids, scope.user, everyone=not scope.own_only)
    people: dict[int, Any] = {}
    if annotations is not None and "annotators" in computed:
        people = authors_in(a for found in annotations.values() for a in found)
    out = []
    for row in rows:
        data = task_row_json(row, fields)
        made = [] if annotations is None else annotations[row["id"]]
        predicted = [] if predictions is None else predictions[row["id"]]
        if "annotations" in listing.include and annotations is not None:
            data["annotations"] = [annotation_row_json(a) for a in made]
        if "predictions" in listing.include and predictions is not None:
            data["predictions"] = [prediction_row_json(p) for p in predicted]
        if listing.full and "drafts" in listing.include:
            data["drafts"] = mine.get(row["id"], [])
        if computed:
            values = computed_json(bool(row.get("is_labeled")), made, predicted, people)
            values["draft_exists"] = row["id"] in drafted
            data.update((name, values[name]) for name in computed)
        out.append(data)
    return out

"""Task list filters and ordering: Label Studio's data-manager JSON, mapped to an allowlist.

No name a caller sends reaches the ORM as a path. Filter and ordering names are looked up
in fixed tables; `data.<key>` keys must be `[A-Za-z0-9_]+` segments joined by dots, with
no `__` anywhere, and every lookup built from them ends in an explicit lookup name. All
else is a 400 naming the field (THREATS.md: ORM leak through filters and ordering)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import (
    Avg,
    BooleanField,
    Case,
    DateTimeField,
    Exists,
    F,
    FloatField,
    Func,
    OrderBy,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KeyTransform
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IsNull,
    LessThan,
    LessThanOrEqual,
)
from rest_framework import exceptions

from labelkeep.accounts.models import User
from labelkeep.api.fields import MAX_ID, Unstorable, parse_moment, storable_text
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Prediction, labeled

# Every filter item, child filters included, and every listed value binds parameters of
# the one statement that lists (or deletes) the tasks: PostgreSQL binds at most 65,535,
# stock SQLite 32,766. Within these limits, with both of the list's selectedItems lists
# full, a statement binds fewer than 31,000.
MAX_ITEMS = 50  # filter items in all, child filters included
MAX_LIST = 10_000  # listed values in all the filters together; ids in one selectedItems list
MAX_TEXT = 1000
MAX_KEY_DEPTH = 5
COLUMNS = ("id", "inner_id", "created_at", "updated_at", "is_labeled")
COUNTERS = ("total_annotations", "cancelled_annotations", "total_predictions")
ORDERABLE = (*COLUMNS, *COUNTERS)
_SEGMENT = re.compile(r"[A-Za-z0-9_]{1,100}")
_COMPARE = {
    "equal": "exact",
    "greater": "gt",
    "greater_or_equal": "gte",
    "less": "lt",
    "less_or_equal": "lte",
}
_TEXT = {"contains": "icontains", "starts_with": "istartswith", "ends_with": "iendswith"}
_QUERY_KEYS = ("filters", "ordering", "selectedItems")


def refuse(field: str, message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [message]})


def shown(name: str) -> str:
    """A caller's name as quoted back in an error: short, whatever they sent."""
    return name if len(name) <= 80 else name[:80] + "…"


@dataclass(frozen=True)
class Scope:
    """Who is asking, for the filters that depend on it (annotators). `user` is None for
    no one in particular (an export job whose requester is gone), with `own_only` false."""

    project: Project
    user: User | None
    own_only: bool


# --- values -----------------------------------------------------------------------------


def _whole(value: Any, where: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_ID:
        raise refuse("query", f"{where}: give a whole number.")
    return int(value)


def _moment(value: Any, where: str) -> datetime:
    parsed = parse_moment(value)
    if parsed is None:
        raise refuse("query", f"{where}: give an ISO 8601 date and time.")
    return parsed


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise refuse("query", f"{where}: give true or false.")
    return value


def _text(value: Any, where: str) -> str:
    """Every string a filter compares passes here: PostgreSQL refuses NUL in text and
    jsonb, and no database takes a lone surrogate (`\\ud800`), so those are a 400 here
    rather than a database error later (labelkeep/api/fields.py finds both)."""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise refuse("query", f"{where}: give a string of at most {MAX_TEXT} characters.")
    try:
        storable_text(value)
    except Unstorable as exc:
        raise refuse("query", f"{where}: the value {exc}") from None
    return value


def _scalar(value: Any, where: str) -> str | int | float:
    if isinstance(value, str):
        return _text(value, where)
    if isinstance(value, float) and math.isfinite(value):
        return value
    return _whole(value, where)


def _items(value: Any, parse: Callable[[Any, str], Any], where: str) -> list[Any]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
        raise refuse("query", f"{where}: give a list of 1 to {MAX_LIST} values.")
    return [parse(v, where) for v in value]


def _bounds(value: Any, parse: Callable[[Any, str], Any], where: str) -> tuple[Any, Any]:
    if not isinstance(value, dict) or set(value) != {"min", "max"}:
        raise refuse("query", f'{where}: give {{"min": …, "max": …}}.')
    return parse(value["min"], where), parse(value["max"], where)


# --- one filter item --------------------------------------------------------------------


def _compare(column: str, operator: str, value: Any, parse: Callable[[Any, str], Any]) -> Q:
    """Comparisons, ranges (`in` / `not_in`) and, for ids, lists on a plain column."""
    where = f"filter:tasks:{column} {operator}"
    if operator in _COMPARE:
        return Q(**{f"{column}__{_COMPARE[operator]}": parse(value, where)})
    if operator == "not_equal":
        return ~Q(**{column: parse(value, where)})
    if operator in ("in", "not_in"):
        low, high = _bounds(value, parse, where)
        between = Q(**{f"{column}__gte": low, f"{column}__lte": high})
        return between if operator == "in" else ~between
    if column in ("id", "inner_id") and operator in ("in_list", "not_in_list"):
        listed = Q(**{f"{column}__in": _items(value, parse, where)})
        return listed if operator == "in_list" else ~listed
    raise refuse("query", f"filter:tasks:{column}: operator `{operator}` is not supported.")


def _labeled(operator: str, value: Any) -> Q:
    if operator not in ("equal", "not_equal"):
        raise refuse("query", "filter:tasks:is_labeled: use equal or not_equal.")
    wanted = _flag(value, "filter:tasks:is_labeled")
    return labeled(wanted if operator == "equal" else not wanted)


def _annotators(operator: str, value: Any, scope: Scope) -> Q:
    """Tasks with an annotation by one of the users, as a semi-join: no row repeats.

    `id IN (SELECT task_id …)` rather than a correlated EXISTS: PostgreSQL plans both as
    the same semi-join, and SQLite counts five times faster driven from the annotations."""
    where = f"filter:tasks:annotators {operator}"
    annotations = Annotation.objects.filter(project_id=scope.project.pk)
    if operator == "empty":
        anyone = Q(id__in=annotations.values("task_id"))
        return ~anyone if _flag(value, where) else anyone
    if operator not in ("contains", "not_contains", "in_list", "not_in_list"):
        raise refuse("query", "filter:tasks:annotators: use contains, not_contains or empty.")
    ids = _items(value, _whole, where) if isinstance(value, list) else [_whole(value, where)]
    if scope.own_only and (scope.user is None or set(ids) != {scope.user.pk}):
        raise refuse("query", "filter:tasks:annotators: annotators filter by their own id only.")
    found = Q(id__in=annotations.filter(completed_by_id__in=ids).values("task_id"))
    return found if operator in ("contains", "in_list") else ~found


def _upload(operator: str, value: Any) -> Q:
    """The name of the file the task was imported from (tasks sent in a request body have
    none: they are "empty", and unequal to any name)."""
    where = f"filter:tasks:file_upload {operator}"
    missing = Q(file_upload__isnull=True)
    if operator == "empty":
        return missing if _flag(value, where) else ~missing
    base = operator.removeprefix("not_")
    if base == "equal":
        found = Q(file_upload__original_name__exact=_text(value, where))
    elif base in _TEXT:
        found = Q(**{f"file_upload__original_name__{_TEXT[base]}": _text(value, where)})
    else:
        raise refuse("query", f"filter:tasks:file_upload: operator `{operator}` is not supported.")
    return ~found | missing if operator.startswith("not_") else found


def data_path(key: str, where: str) -> list[str]:
    """The segments of `data.<key>`: `[A-Za-z0-9_]+` each, no `__`, at most five."""
    parts = key.split(".")
    if "__" in key or len(parts) > MAX_KEY_DEPTH or not all(_SEGMENT.fullmatch(p) for p in parts):
        raise refuse(
            where,
            f"`data.{key}`: data keys are letters, digits and `_` joined by dots "
            f"(at most {MAX_KEY_DEPTH}), without `__`.",
        )
    return parts


def _data(key: str, operator: str, kind: str, value: Any) -> Q:
    where = f"filter:tasks:data.{key} {operator}"
    # Validated segments only, and always an explicit lookup at the end: a key named
    # like a lookup (`contains`, `isnull`) stays a key.
    path = "data__" + "__".join(data_path(key, "query"))
    missing = Q(**{f"{path}__isnull": True})
    if operator == "empty":
        blank = missing | Q(**{f"{path}__exact": None}) | Q(**{f"{path}__exact": ""})
        return blank if _flag(value, where) else ~blank
    base = operator.removeprefix("not_")
    if base == "equal":
        parse = {"Number": _scalar, "Boolean": _flag}.get(kind, _text)
        found = Q(**{f"{path}__exact": parse(value, where)})
    elif base in _TEXT and kind in ("String", "Unknown"):
        found = Q(**{f"{path}__{_TEXT[base]}": _text(value, where)})
    elif base in ("in", "in_list") and kind != "Boolean":
        found = Q(**{f"{path}__in": _items(value, _scalar, where)})
    else:
        raise refuse("query", f"filter:tasks:data.{key}: operator `{operator}` is not supported.")
    # A task without the key is "not equal", "not in" and "not contains" too.
    return ~found | missing if operator.startswith("not_") else found


# --- computed columns -------------------------------------------------------------------
# Label Studio's data-manager columns that are not a task's own: each a subquery per task
# on the (task, id) indexes. Annotators' come from their own annotations only, as the
# annotations they see.

COMPUTED = ("completed_at", "predictions_score")


def _annotations_of(scope: Scope | None) -> QuerySet[Annotation]:
    annotations = Annotation.objects.filter(task_id=OuterRef("pk"))
    if scope is not None and scope.own_only:
        annotations = annotations.filter(completed_by_id=scope.user.pk if scope.user else None)
    return annotations


def completed_at(scope: Scope | None) -> Case:
    """When a done task (`is_labeled`) was finished: its newest finished annotation's
    `created_at`; NULL for tasks not done."""
    newest = _annotations_of(scope).filter(was_cancelled=False).order_by("-created_at", "-id")
    return Case(
        When(labeled(True), then=Subquery(newest.values("created_at")[:1])),
        default=Value(None),
        output_field=DateTimeField(),
    )


def predictions_score() -> Subquery:
    """The mean score of a task's scored predictions; NULL without one."""
    scored = Prediction.objects.filter(task_id=OuterRef("pk"), score__isnull=False)
    mean = scored.order_by().values("task_id").annotate(mean=Avg("score")).values("mean")
    return Subquery(mean, output_field=FloatField())


def _computed(expression: Case, operator: str, value: Any, parse: Any, name: str) -> Q:
    """Comparisons, ranges and `empty` on a computed column (NULL matches no comparison)."""
    where = f"filter:tasks:{name} {operator}"
    compare = {
        "equal": Exact,
        "greater": GreaterThan,
        "greater_or_equal": GreaterThanOrEqual,
        "less": LessThan,
        "less_or_equal": LessThanOrEqual,
    }
    if operator in compare:
        return Q(compare[operator](expression, Value(parse(value, where))))
    if operator == "not_equal":
        given = Value(parse(value, where))
        return Q(GreaterThan(expression, given)) | Q(LessThan(expression, given))
    if operator in ("in", "not_in"):
        low, high = (Value(v) for v in _bounds(value, parse, where))
        inside = Q(GreaterThanOrEqual(expression, low)) & Q(LessThanOrEqual(expression, high))
        outside = Q(LessThan(expression, low)) | Q(GreaterThan(expression, high))
        return inside if operator == "in" else outside
    if operator == "empty":
        return Q(IsNull(expression, _flag(value, where)))
    raise refuse("query", f"filter:tasks:{name}: operator `{operator}` is not supported.")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise refuse("query", f"{where}: give a number.")
    return float(value)


def _score(operator: str, value: Any, scope: Scope) -> Q:
    """Tasks whose predictions' mean score passes, as a semi-join driven from the
    project's scored predictions grouped by task: one pass over them, where a mean per
    task would probe each task's predictions in turn (three to five times slower)."""
    where = f"filter:tasks:predictions_score {operator}"
    scored = Prediction.objects.filter(project_id=scope.project.pk, score__isnull=False)
    means = scored.order_by().values("task_id").annotate(mean=Avg("score"))
    if operator == "empty":
        anything = Q(id__in=scored.values("task_id"))
        return ~anything if _flag(value, where) else anything
    if operator in _COMPARE:
        passing = Q(**{f"mean__{_COMPARE[operator]}": _number(value, where)})
    elif operator == "not_equal":
        given = _number(value, where)
        passing = Q(mean__gt=given) | Q(mean__lt=given)
    elif operator in ("in", "not_in"):
        low, high = _bounds(value, _number, where)
        inside = Q(mean__gte=low, mean__lte=high)
        passing = inside if operator == "in" else Q(mean__lt=low) | Q(mean__gt=high)
    else:
        raise refuse(
            "query", f"filter:tasks:predictions_score: operator `{operator}` is not supported."
        )
    return Q(id__in=means.filter(passing).values("task_id"))


def _ground_truth(operator: str, value: Any, scope: Scope) -> Q:
    """Tasks with an annotation marked ground truth."""
    if operator not in ("equal", "not_equal"):
        raise refuse("query", "filter:tasks:ground_truth: use equal or not_equal.")
    wanted = _flag(value, "filter:tasks:ground_truth")
    found = Q(Exists(_annotations_of(scope).filter(ground_truth=True)))
    return found if wanted == (operator == "equal") else ~found


def _model_versions(operator: str, value: Any) -> Q:
    """Tasks with a prediction of one of these model versions (or, `empty`, with none)."""
    where = f"filter:tasks:predictions_model_versions {operator}"
    predictions = Prediction.objects.filter(task_id=OuterRef("pk"))
    if operator == "empty":
        anything = Q(Exists(predictions))
        return ~anything if _flag(value, where) else anything
    if operator not in ("contains", "not_contains", "in_list", "not_in_list"):
        raise refuse(
            "query", "filter:tasks:predictions_model_versions: use contains, not_contains or empty."
        )
    versions = _items(value, _text, where) if isinstance(value, list) else [_text(value, where)]
    found = Q(Exists(predictions.filter(model_version__in=versions)))
    return found if operator in ("contains", "in_list") else ~found


class _Strings(Func):
    """The string values anywhere in a JSON column, decoded, one per line: what a search
    of results reads. Not the keys, the punctuation or the escapes JSON writes (SQLite
    keeps the text as written: `\\u2019` for a curly quote, which a search for "2019"
    would otherwise find)."""

    output_field = TextField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = (
            "(SELECT group_concat(value, char(10)) FROM json_tree(%(expressions)s) "
            "WHERE type = 'text')"
        )
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = (
            "(SELECT string_agg(v #>> '{}', chr(10)) FROM "
            "jsonb_path_query(%(expressions)s, 'strict $.**') AS v "
            "WHERE jsonb_typeof(v) = 'string')"
        )
        return self.as_sql(compiler, connection, template=template, **extra)


def _written(text: str) -> Q:
    """Results whose stored JSON text holds `text` as JSON writes it inside a string: a
    quote, backslash or control character escaped; on SQLite, which keeps the text as
    written (`json.dumps`, or compact and plain from an import), letters outside ASCII
    either escaped or plain. Every result with `text` in a string passes; so do some
    without (`text` in a key, or spanning two strings)."""
    plain = json.dumps(text, ensure_ascii=False)[1:-1]
    found = Q(result__icontains=plain)
    if connection.vendor == "sqlite":
        escaped = json.dumps(text)[1:-1]
        if escaped != plain:
            found |= Q(result__icontains=escaped)
    return found


def _results(column: str, operator: str, value: Any, scope: Scope) -> Q:
    """Tasks with an annotation (a prediction) with the text in a string of its result
    (case-insensitive; ASCII letters only, on SQLite), as a semi-join from the project's
    annotations (predictions); `empty`: with none that has a region. Annotators search
    their own annotations."""
    where = f"filter:tasks:{column} {operator}"
    if column == "annotations_results":
        rows: QuerySet[Any] = Annotation.objects.filter(project_id=scope.project.pk)
        if scope.own_only:
            rows = rows.filter(completed_by_id=scope.user.pk if scope.user else None)
        regions = Q(result_count__gt=0)
    else:
        rows = Prediction.objects.filter(project_id=scope.project.pk)
        regions = ~Q(result=[])
    if operator == "empty":
        some = Q(id__in=rows.filter(regions).values("task_id"))
        return ~some if _flag(value, where) else some
    if operator not in ("contains", "not_contains"):
        raise refuse("query", f"filter:tasks:{column}: use contains, not_contains or empty.")
    text = _text(value, where)
    # The stored text holds the string's JSON form wherever a string holds it: a cheap
    # first cut, so that only results it keeps are decoded. One condition, not two ANDed:
    # PostgreSQL would multiply their selectivities, expect no row, and loop over the
    # results found once per task (50 s at 100,000 tasks).
    holding = Case(
        When(_written(text), then=IContains(_Strings("result"), text)),
        default=Value(False),
        output_field=BooleanField(),
    )
    found = Q(id__in=rows.filter(holding).values("task_id"))
    return found if operator == "contains" else ~found


_TYPES = {
    **dict.fromkeys(("id", "inner_id", *COUNTERS), ("Number",)),
    "completed_at": ("Datetime",),
    "predictions_score": ("Number",),
    "ground_truth": ("Boolean",),
    "predictions_model_versions": ("List", "String"),
    "annotations_results": ("String",),
    "predictions_results": ("String",),
    "created_at": ("Datetime",),
    "updated_at": ("Datetime",),
    "is_labeled": ("Boolean",),
    "annotators": ("List", "Number"),
    "file_upload": ("String",),
}


def _item(raw: Any, scope: Scope) -> Q:
    if not isinstance(raw, dict) or not {"filter", "operator", "type", "value"} <= set(raw):
        raise refuse("query", "Each filter item needs filter, operator, type and value.")
    name, operator, kind = raw["filter"], raw["operator"], raw["type"]
    if not all(isinstance(v, str) for v in (name, operator, kind)):
        raise refuse("query", "filter, operator and type are strings.")
    name = shown(name)
    if "__" in name:
        raise refuse("query", f"`{name}`: relation paths (`__`) are not allowed in filters.")
    column = name.removeprefix("filter:tasks:")
    if column == name:
        raise refuse("query", f"`{name}`: filter names start with `filter:tasks:`.")
    if column.startswith("data."):
        if kind not in ("String", "Unknown", "Number", "Boolean"):
            raise refuse("query", f"`{name}`: type `{kind}` is not supported for data fields.")
        condition = _data(column[5:], operator, kind, raw["value"])
    elif column in _TYPES:
        if kind not in _TYPES[column]:
            raise refuse("query", f"`{name}`: the type is {' or '.join(_TYPES[column])}.")
        condition = _column(column, operator, raw["value"], scope)
    else:
        raise refuse(
            "query", f"`{name}`: unknown filter. Known: {', '.join(sorted(_TYPES))}, data.<key>."
        )
    return condition & _children(raw, scope)


def _column(column: str, operator: str, value: Any, scope: Scope) -> Q:
    if column == "annotators":
        return _annotators(operator, value, scope)
    if column == "completed_at":
        return _computed(completed_at(scope), operator, value, _moment, column)
    if column == "predictions_score":
        return _score(operator, value, scope)
    if column == "ground_truth":
        return _ground_truth(operator, value, scope)
    if column == "predictions_model_versions":
        return _model_versions(operator, value)
    if column in ("annotations_results", "predictions_results"):
        return _results(column, operator, value, scope)
    if column == "is_labeled":
        return _labeled(operator, value)
    if column == "file_upload":
        return _upload(operator, value)
    parse = _moment if column in ("created_at", "updated_at") else _whole
    return _compare(column, operator, value, parse)


def _given_children(raw: dict[str, Any]) -> Any:
    """An item's child filters as sent: `child_filters`, or the one `child_filter`."""
    return raw.get("child_filters") or ([raw["child_filter"]] if raw.get("child_filter") else [])


def _children(raw: dict[str, Any], scope: Scope) -> Q:
    """Label Studio's child filters, AND-ed with their parent; they do not nest."""
    given = _given_children(raw)
    if not isinstance(given, list) or len(given) > MAX_ITEMS:
        raise refuse("query", "child_filters: give a list of filter items.")
    condition = Q()
    for child in given:
        if isinstance(child, dict) and (child.get("child_filters") or child.get("child_filter")):
            raise refuse("query", "child filters do not nest.")
        condition &= _item(child, scope)
    return condition


# --- the whole query --------------------------------------------------------------------


def parse_query(raw: str | None) -> dict[str, Any]:
    """The `query` parameter: a JSON object with filters, ordering and selectedItems."""
    if not raw:
        return {}
    try:
        query = json.loads(raw)
    except (ValueError, RecursionError):
        raise refuse("query", "Not valid JSON.") from None
    if not isinstance(query, dict):
        raise refuse("query", "Give a JSON object: {filters, ordering, selectedItems}.")
    unknown = sorted(set(query) - set(_QUERY_KEYS))
    if unknown:
        raise refuse("query", f"Unknown keys {unknown}; use {', '.join(_QUERY_KEYS)}.")
    return query


def conditions(spec: Any, scope: Scope) -> Q | None:
    """The `filters` object as one condition; None when it filters nothing."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise refuse("query", 'filters: give {"conjunction": "and"|"or", "items": [...]}.')
    conjunction, items = spec.get("conjunction", "and"), spec.get("items", [])
    if conjunction not in ("and", "or"):
        raise refuse("query", "filters.conjunction: use and or or.")
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise refuse("query", f"filters.items: give a list of at most {MAX_ITEMS} items.")
    if not items:
        return None
    _within_limits(items)
    combined = _item(items[0], scope)
    for item in items[1:]:
        condition = _item(item, scope)
        combined = combined & condition if conjunction == "and" else combined | condition
    return combined


def _within_limits(items: list[Any]) -> None:
    """Refuse filters that would bind more parameters than one statement may (MAX_ITEMS,
    MAX_LIST), before any is read: seven `in_list` items of 10,000 ids each are a 400,
    not a database error. Malformed items count as they come; reading them refuses them."""
    every = list(items)
    for raw in items:
        children = _given_children(raw) if isinstance(raw, dict) else []
        if isinstance(children, list):
            every += children
    if len(every) > MAX_ITEMS:
        raise refuse(
            "query", f"filters: give at most {MAX_ITEMS} filter items, child filters included."
        )
    listed = sum(
        len(raw["value"])
        for raw in every
        if isinstance(raw, dict) and isinstance(raw.get("value"), list)
    )
    if listed > MAX_LIST:
        raise refuse(
            "query", f"filters: give at most {MAX_LIST} listed values in all the filter items."
        )


def selected(spec: Any, field: str = "query") -> Q | None:
    """`selectedItems`: `{"all": false, "included": [ids]}`, `{"all": true, "excluded": [ids]}`."""
    if spec is None:
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("all"), bool):
        raise refuse(
            field, 'selectedItems: give {"all": true|false, "included"|"excluded": [ids]}.'
        )
    key = "excluded" if spec["all"] else "included"
    ids = spec.get(key, [])
    if not isinstance(ids, list) or len(ids) > MAX_LIST:
        raise refuse(field, f"selectedItems.{key}: give a list of at most {MAX_LIST} task ids.")
    chosen = [_whole(i, f"selectedItems.{key}") for i in ids]
    if spec["all"]:
        return ~Q(id__in=chosen) if chosen else None
    return Q(id__in=chosen)


def ordering(names: Any, field: str, scope: Scope | None = None) -> list[str | OrderBy]:
    """An allowlisted ordering (`tasks:` prefix optional, `-` reverses) with id to break ties.
    `completed_at` reads the annotations `scope` sees (all of them without one)."""
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or len(names) > 1 or not all(isinstance(n, str) for n in names):
        raise refuse(field, "Order by one field, e.g. `tasks:id` or `-tasks:created_at`.")
    if not names:
        return ["id"]
    name = shown(names[0])
    if "__" in name:
        raise refuse(field, f"`{name}`: relation paths (`__`) are not allowed in ordering.")
    descending = name.startswith("-")
    column = name.removeprefix("-").removeprefix("tasks:")
    tiebreak = "-id" if descending else "id"
    if column in ("id", "inner_id"):  # within a project, inner_id follows id
        return [tiebreak]
    if column in ORDERABLE:
        return [f"-{column}" if descending else column, tiebreak]
    if column == "file_upload":  # by name; tasks sent in a request body last
        upload = F("file_upload__original_name")
        by = upload.desc(nulls_last=True) if descending else upload.asc(nulls_last=True)
        return [by, tiebreak]
    if column in COMPUTED:  # tasks without a value last either way
        value = completed_at(scope) if column == "completed_at" else predictions_score()
        by = value.desc(nulls_last=True) if descending else value.asc(nulls_last=True)
        return [by, tiebreak]
    if column.startswith("data."):
        expression: Any = "data"
        for part in data_path(column[5:], field):
            expression = KeyTransform(part, expression)
        by = expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
        return [by, tiebreak]
    raise refuse(
        field,
        f"`{name}`: not orderable. Use {', '.join((*ORDERABLE, *COMPUTED))}, file_upload or "
        "data.<key>.",
    )

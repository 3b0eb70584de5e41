"""`GET api/projects/{id}/export` query parameters, as the SDK and Label Studio send them."""

from __future__ import annotations

from django.http import QueryDict
from rest_framework import exceptions

from labelkeep.api.fields import parse_id
from labelkeep.dataio.exporting.formats import FORMATS, Format, get_format
from labelkeep.dataio.exporting.services import ExportOptions

MAX_IDS = 100_000
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def flag(params: QueryDict, name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise exceptions.ValidationError({name: f"Use true or false, not {raw[:20]!r}."})


def task_ids(params: QueryDict) -> tuple[int, ...] | None:
    """`ids` repeated (the SDK), `ids[]` repeated (Label Studio's docs), or comma-separated."""
    given = [
        part for name in ("ids", "ids[]") for raw in params.getlist(name) for part in raw.split(",")
    ]
    given = [part.strip() for part in given if part.strip()]
    if not given:
        return None
    parsed = {parse_id(part) for part in given}
    if None in parsed:
        raise exceptions.ValidationError({"ids": "Task ids are positive integers."})
    unique = sorted(pk for pk in parsed if pk is not None)
    if len(unique) > MAX_IDS:
        raise exceptions.ValidationError({"ids": f"At most {MAX_IDS} ids at once."})
    return tuple(unique)


def export_format(params: QueryDict, field: str = "export_type") -> Format:
    """The format `export_type` (or `exportType`) names, JSON when neither is given; an
    unknown name is a 400 on `field` that lists the formats."""
    name = params.get("export_type") or params.get("exportType") or "JSON"
    found = get_format(name)
    if found is None:
        known = ", ".join(FORMATS)
        raise exceptions.ValidationError(
            {field: f"Unknown format {name[:40]!r}; use one of {known}."}
        )
    return found


def export_options(params: QueryDict) -> ExportOptions:
    return ExportOptions(
        format=export_format(params),
        only_annotated=not flag(params, "download_all_tasks", False),
        download_resources=flag(params, "download_resources", False),
        ids=task_ids(params),
    )

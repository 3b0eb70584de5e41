"""JSON, JSON-MIN, CSV and TSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection, Container, Iterable, Iterator
from typing import Any

from labelkeep.dataio.exporting.context import ExportContext, buffered
from labelkeep.dataio.exporting.items import (
    Item,
    annotation_fields,
    annotator,
    control_types,
    items,
    prettify,
)

# Spreadsheets run a cell that starts with one of these as a formula (CSV injection);
# the list is OWASP's and ASVS 5's (1.2.10), which adds NUL.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\x00")
FIXED_COLUMNS = ("id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time")
DATA_PREFIX = "_data_"


def json_array(lines: Iterable[str]) -> Iterator[str]:
    """A JSON array with one element per line, so a snapshot can be read back line by line."""
    separator = "[\n"
    for line in lines:
        yield separator
        yield line
        separator = ",\n"
    yield "[\n]\n" if separator == "[\n" else "\n]\n"


def write_json(ctx: ExportContext) -> Iterator[bytes]:
    return buffered(json_array(ctx.source.raw()))


def _all_items(ctx: ExportContext) -> Iterator[Item]:
    controls = control_types(ctx.config)
    for task in ctx.source.tasks():
        yield from items(task, controls)


def reserved_names(controls: Iterable[str]) -> frozenset[str]:
    """The names a record gives its own fields: every control, and the fixed columns."""
    return frozenset({*controls, *FIXED_COLUMNS})


def renamings(keys: Collection[str], reserved: Container[str]) -> dict[str, str]:
    """The data keys that need another name in a record, each with that name.

    A key named like a record field (`reserved`) becomes `_data_<key>`, prefixed again
    while that is reserved, another data key, or another renamed key's name, so no value
    overwrites another. Keys are renamed in sorted order, so the same keys always give the
    same names. Only a membership test per key runs when nothing clashes, the usual case:
    JSON_MIN calls this once per record.
    """
    clashing = [key for key in keys if key in reserved]
    if not clashing:
        return {}
    taken = set(keys)
    renamed: dict[str, str] = {}
    for key in sorted(clashing):
        name = DATA_PREFIX + key
        while name in reserved or name in taken:
            name = DATA_PREFIX + name
        taken.add(name)
        renamed[key] = name
    return renamed


def min_record(item: Item, reserved: Container[str]) -> dict[str, Any]:
    """One JSON_MIN record; its data keys are renamed among the task's own keys only (the
    records are written as they are read, without a first pass over every task's data)."""
    renamed = renamings(item.data, reserved)
    record = {renamed.get(k, k): v for k, v in item.data.items()} if renamed else dict(item.data)
    record["id"] = item.task_id
    for name, values in item.outputs.items():
        record[name] = prettify(values)
    record["annotator"] = annotator(item, as_int=True)
    record.update(annotation_fields(item))
    return record


def write_json_min(ctx: ExportContext) -> Iterator[bytes]:
    reserved = reserved_names(control_types(ctx.config))
    records = (
        json.dumps(min_record(item, reserved), ensure_ascii=False) for item in _all_items(ctx)
    )
    return buffered(json_array(records))


def defuse(value: Any) -> Any:
    """A cell a spreadsheet will show as text, never run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    return "'" + value if type(value) is str and value.startswith(FORMULA_STARTS) else value


def columns(data_keys: set[str], controls: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """Sorted column names, and the data keys renamed (`renamings`) among every exported
    task's keys, so a column holds one kind of value in every row."""
    control_names = set(controls)
    renamed = renamings(data_keys, reserved_names(control_names))
    names = {renamed.get(key, key) for key in data_keys}
    return sorted({*names, *control_names, *FIXED_COLUMNS}), renamed


def csv_row(item: Item, renamed: dict[str, str]) -> dict[str, Any]:
    """One row by column name, every cell defused (see `defuse`)."""
    row: dict[str, Any] = {renamed.get(k, k): _cell(v) for k, v in item.data.items()}
    row["id"] = item.task_id
    for name, values in item.outputs.items():
        pretty = prettify(values)
        row[name] = _cell(pretty)
    row["annotator"] = _cell(annotator(item, as_int=False))
    for name, value in annotation_fields(item).items():
        row[name] = _cell(value)
    return row


def _table(ctx: ExportContext, delimiter: str) -> Iterator[str]:
    names, renamed = columns(ctx.source.data_keys(), control_types(ctx.config))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    writer.writerow([defuse(name) for name in names])
    for item in _all_items(ctx):
        row = csv_row(item, renamed)
        writer.writerow([row.get(name, "") for name in names])
        if out.tell() > 64 * 1024:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def write_csv(ctx: ExportContext) -> Iterator[bytes]:
    return buffered(_table(ctx, ","))


def write_tsv(ctx: ExportContext) -> Iterator[bytes]:
    return buffered(_table(ctx, "\t"))

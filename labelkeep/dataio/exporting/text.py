"""JSON, JSON-MIN, CSV and TSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Container, Iterable, Iterator
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


def data_name(key: str, controls: Container[str]) -> str:
    """A data key's name in a record: `_data_<key>` where a control or one of the record's
    own fields (`id`, `annotator`, …) has the name, so neither overwrites the other."""
    return f"_data_{key}" if key in controls or key in FIXED_COLUMNS else key


def min_record(item: Item, controls: Container[str]) -> dict[str, Any]:
    record: dict[str, Any] = {data_name(k, controls): v for k, v in item.data.items()}
    record["id"] = item.task_id
    for name, values in item.outputs.items():
        record[name] = prettify(values)
    record["annotator"] = annotator(item, as_int=True)
    record.update(annotation_fields(item))
    return record


def write_json_min(ctx: ExportContext) -> Iterator[bytes]:
    controls = control_types(ctx.config)
    records = (
        json.dumps(min_record(item, controls), ensure_ascii=False) for item in _all_items(ctx)
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
    """Sorted column names, and data keys renamed where a control or a fixed column has the
    same name (`data_name`)."""
    control_names = set(controls)
    renamed = {key: data_name(key, control_names) for key in data_keys}
    return sorted({*renamed.values(), *control_names, *FIXED_COLUMNS}), renamed


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

"""Reading task files (JSON, JSON Lines, CSV, TSV, plain text) and naming media files.

Readers turn a file's bytes into `Parsed` items, the same shapes a JSON request body
holds; `labelkeep.dataio.prepare` checks them. Messages name the file and the line, never
quote the file's content.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from labelkeep.api.fields import MAX_JSON_DEPTH, too_deep

# Files whose content is tasks; everything else accepted is a media file, one task each.
TASK_FORMATS = frozenset({".json", ".jsonl", ".csv", ".tsv", ".txt"})
LIST_FORMATS = frozenset({".csv", ".tsv", ".txt"})  # Label Studio's "could be tasks list"

# Media files by kind, as task data references them: the data key falls back to the kind.
MEDIA_KINDS: dict[str, str] = {
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg"), "image"),
    **dict.fromkeys((".tif", ".tiff"), "image"),
    **dict.fromkeys((".mp3", ".wav", ".ogg", ".flac", ".m4a", ".aac", ".opus"), "audio"),
    **dict.fromkeys((".mp4", ".webm", ".ogv", ".mov", ".m4v"), "video"),
    **dict.fromkeys((".html", ".htm", ".xml"), "html"),
    ".pdf": "pdf",
}
ACCEPTED = TASK_FORMATS | frozenset(MEDIA_KINDS)

# The config's object tag types that show each media kind (lower case).
KIND_TAGS: dict[str, frozenset[str]] = {
    "image": frozenset({"image"}),
    "audio": frozenset({"audio", "audioplus"}),
    "video": frozenset({"video"}),
    "html": frozenset({"hypertext"}),
    "pdf": frozenset({"pdf"}),
}

# For URLs whose path has no usable extension.
CONTENT_TYPES: dict[str, str] = {
    "application/json": ".json",
    "application/jsonl": ".jsonl",
    "application/x-ndjson": ".jsonl",
    "application/x-jsonlines": ".jsonl",
    "text/csv": ".csv",
    "text/tab-separated-values": ".tsv",
    "text/plain": ".txt",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/ogg": ".ogg",
    "audio/flac": ".flac",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
}


# Readers stop once they hold more items than `most`: the caller refuses that many anyway
# (IMPORT_MAX_TASKS), and a file of millions of one-byte rows parsed whole would take a
# hundred times its size in memory.
UNLIMITED = sys.maxsize


class FormatError(Exception):
    """A file that cannot be read as tasks; the message is fit to show the user."""


@dataclass
class Parsed:
    """Items read from one source; `lines[i]` is the line item i started on, if known.
    `only_data`: every item is a task's data (a table's rows, a text file's lines, media
    files), so a key named "data" is data too, never the `{"data": …}` of a task.
    `upload_id`: the stored file the items were read from, which their tasks then name."""

    name: str
    format: str
    items: list[Any]
    lines: list[int] | None = field(default=None)
    only_data: bool = False
    upload_id: int | None = None

    def where(self, index: int) -> str:
        if self.lines is not None:
            return f"{self.name}, line {self.lines[index]}"
        return f"{self.name}, task {index}"


def extension(filename: str) -> str:
    """The lower-case extension of a file name (".csv"), or "" when there is none."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if "." not in base.strip("."):
        return ""
    return "." + base.rsplit(".", 1)[-1].lower()


def _text(name: str, content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FormatError(f"{name} is not UTF-8 text (bad byte at offset {error.start}).") from None


def _lines(name: str, content: bytes) -> Iterator[tuple[int, str]]:
    """Numbered lines; \\n, \\r\\n and \\r all end a line (and nothing else does)."""
    for number, line in enumerate(io.StringIO(_text(name, content), newline=None), 1):
        yield number, line.rstrip("\n")


def _refuse_constant(value: str) -> Any:
    raise ValueError(f"{value} is not valid JSON")


_TOO_DEEP = object()


def loads(text: str) -> Any:
    """Strict JSON: NaN and Infinity are refused, as every database's JSON type does;
    so is nesting deeper than MAX_JSON_DEPTH (ValueError for all of them)."""
    loaded: Any
    try:
        loaded = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        loaded = _TOO_DEEP
    if loaded is _TOO_DEEP or too_deep(loaded):
        raise ValueError(f"it is nested more than {MAX_JSON_DEPTH} levels deep")
    return loaded


def read_json(name: str, content: bytes, most: int = UNLIMITED) -> Parsed:
    try:
        loaded = _load_items(_text(name, content), most)
    except json.JSONDecodeError as error:
        raise FormatError(
            f"{name} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    except ValueError as error:
        raise FormatError(f"{name} is not valid JSON: {error}.") from None
    if isinstance(loaded, dict):
        loaded = [loaded]
    if not isinstance(loaded, list):
        raise FormatError(f"{name} must hold a JSON array of tasks or one task object.")
    return Parsed(name, ".json", loaded)


_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _skip_space(text: str, at: int) -> int:
    return _SPACE.match(text, at).end()  # type: ignore[union-attr]  # it matches ""


def _load_items(text: str, most: int) -> Any:
    """`loads(text)`, except that a top-level array is read item by item and reading stops
    once it holds more than `most` items (the caller refuses that many)."""
    at = _skip_space(text, 0)
    if not text.startswith("[", at):
        return loads(text)
    items: list[Any] = []
    at = _skip_space(text, at + 1)
    closed = text.startswith("]", at)
    while not closed:
        item, at = _array_item(text, at)
        items.append(item)
        if len(items) > most:
            return items
        at = _skip_space(text, at)
        closed = text.startswith("]", at)
        if not closed:
            if not text.startswith(",", at):
                raise json.JSONDecodeError("Expecting ',' delimiter", text, at)
            at = _skip_space(text, at + 1)
    end = _skip_space(text, at + 1)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return items


def _array_item(text: str, at: int) -> tuple[Any, int]:
    """The JSON value at `at` inside a top-level array, and where it ends (as `loads`:
    ValueError for NaN, Infinity and nesting past MAX_JSON_DEPTH, the array counted)."""
    try:
        item, end = _DECODER.raw_decode(text, at)
    except RecursionError:
        item, end = _TOO_DEEP, at
    if item is _TOO_DEEP or too_deep([item]):
        raise ValueError(f"it is nested more than {MAX_JSON_DEPTH} levels deep")
    return item, end


def read_jsonl(name: str, content: bytes, most: int = UNLIMITED) -> Parsed:
    items, lines = [], []
    for number, line in _lines(name, content):
        if not line.strip():
            continue
        try:
            items.append(loads(line))
        except ValueError as error:
            reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
            raise FormatError(f"{name}, line {number}: not valid JSON ({reason}).") from None
        lines.append(number)
        if len(items) > most:
            break
    return Parsed(name, ".jsonl", items, lines)


def read_table(name: str, content: bytes, fmt: str, most: int = UNLIMITED) -> Parsed:
    """CSV or TSV: the header row names the data keys; one task per row, values as text."""
    # newline="" keeps line breaks inside quoted values, as the csv module needs.
    text = io.StringIO(_text(name, content), newline="")
    # The csv module stops at 128 KiB a value; Label Studio reads long documents whole,
    # and the file's own size limit (IMPORT_MAX_FILE_SIZE) already bounds every value.
    csv.field_size_limit(max(csv.field_size_limit(), len(content)))
    reader = csv.reader(text, delimiter="\t" if fmt == ".tsv" else ",", strict=True)
    items: list[Any] = []
    lines: list[int] = []
    try:
        header = next(reader, None)
        if header is None:
            raise FormatError(f"{name} is empty.")
        keys = _header(name, header)
        width = len(keys)
        for row in reader:
            if not row:
                continue
            if len(row) != width:
                raise FormatError(
                    f"{name}, line {reader.line_num}: {len(row)} values, "
                    f"but the header names {width} columns."
                )
            items.append(dict(zip(keys, row, strict=True)))
            lines.append(reader.line_num)
            if len(items) > most:
                break
    except csv.Error as error:
        raise FormatError(f"{name}, line {reader.line_num}: {error}.") from None
    return Parsed(name, fmt, items, lines, only_data=True)


def _header(name: str, header: list[str]) -> list[str]:
    keys = [key.strip() for key in header]
    if not all(keys):
        raise FormatError(f"{name}: every column of the header row needs a name.")
    if len(set(keys)) != len(keys):
        raise FormatError(f"{name}: the header row names a column twice.")
    return keys


def read_txt(name: str, content: bytes, key: str, most: int = UNLIMITED) -> Parsed:
    """One task per non-blank line, its text under `key`."""
    items, lines = [], []
    for number, line in _lines(name, content):
        if line.strip():
            items.append({key: line})
            lines.append(number)
            if len(items) > most:
                break
    return Parsed(name, ".txt", items, lines, only_data=True)


def read_tasks(
    name: str, content: bytes, fmt: str, txt_key: Callable[[], str], most: int = UNLIMITED
) -> Parsed:
    """The tasks in a task file of format `fmt` (one of TASK_FORMATS); reading stops once
    there are more than `most`."""
    if fmt == ".json":
        return read_json(name, content, most)
    if fmt == ".jsonl":
        return read_jsonl(name, content, most)
    if fmt in (".csv", ".tsv"):
        return read_table(name, content, fmt, most)
    return read_txt(name, content, txt_key(), most)

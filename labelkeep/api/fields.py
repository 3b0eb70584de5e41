"""Input fields for values a database must be able to store and a JSON answer to carry.

Python's JSON reader accepts more than that: integers of any size, `1e400` (read as
infinity), `"\\u0000"` and lone surrogates such as `"\\ud800"`. Stored, they fail the
write (PostgreSQL refuses NUL and ids beyond 64 bits) or every later read of the row
(no JSON answer can hold infinity or a lone surrogate): a 500 where a 400 belongs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, time
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import serializers

# The largest id a 64-bit integer column holds; anything larger names nothing.
MAX_ID = 2**63 - 1


# Longer search text finds nothing a shorter part would not, and SQLite refuses a LIKE
# pattern past 50,000 bytes ("pattern too complex").
MAX_SEARCH = 200


def search_text(params: Mapping[str, str], name: str) -> str:
    """A search term from the query string (`?search=`), stripped; refused (400) when it
    holds a NUL, which PostgreSQL cannot compare, or runs past MAX_SEARCH characters."""
    term = (params.get(name) or "").strip()
    if "\x00" in term:
        raise serializers.ValidationError({name: "Search text cannot hold a NUL character."})
    if len(term) > MAX_SEARCH:
        raise serializers.ValidationError(
            {name: f"Search text is at most {MAX_SEARCH} characters."}
        )
    return term


def parse_id(raw: str | None) -> int | None:
    """An id given as text (`?project=12`), or None if it is not one. `str.isdigit()` also
    passes `²`, which `int()` refuses, so only ASCII digits count."""
    # 19 digits hold MAX_ID; a longer string names nothing, and past 4,300 digits
    # int() itself refuses it.
    if not raw or len(raw) > 19 or not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def parse_moment(raw: object) -> datetime | None:
    """An ISO 8601 date and time (or a date: its midnight) as an aware datetime, naive
    ones read as UTC; None for anything else, an impossible date such as 2024-02-30 or
    an offset beyond ±24 h included (the parser raises on those)."""
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    try:
        parsed = parse_datetime(raw)
        if parsed is None and (day := parse_date(raw)) is not None:
            parsed = datetime.combine(day, time.min)
        if parsed is None:
            return None
        parsed = parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)
        parsed.astimezone(UTC)  # the database stores UTC: year 1 at +01:00 does not fit
    except (ValueError, OverflowError):
        return None
    return parsed


class IdField(serializers.IntegerField):
    """An object id: 1 up to MAX_ID."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class FiniteFloatField(serializers.FloatField):
    """A number; `"nan"`, `"inf"` and `1e400` (which `float()` turns into one) are refused,
    and so are `true` and `false`, which `float()` would read as 1 and 0."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            raise serializers.ValidationError("A number is required, not true or false.")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            raise serializers.ValidationError("A finite number is required.")
        return value


# JSON nested deeper than this is refused wherever it comes in (request bodies, imported
# files). Python's JSON reader and writer recurse: a value that only just fits the stack
# where it is read fails again where the stack is deeper, as when Django reads it back.
MAX_JSON_DEPTH = 100


def _containers(value: Any) -> Iterator[tuple[Any, int]]:
    """Every list and object in a JSON value with its depth (1 for the value itself),
    walked level by level without recursion, however deep it goes."""
    level = [value] if type(value) in (dict, list) else []
    depth = 1
    while level:
        deeper = []
        for item in level:
            yield item, depth
            for child in item.values() if type(item) is dict else item:
                if type(child) in (dict, list):  # all a JSON reader makes of containers
                    deeper.append(child)
        level, depth = deeper, depth + 1


def too_deep(value: Any) -> bool:
    """Whether lists and objects nest more than MAX_JSON_DEPTH levels in `value`."""
    level = [value] if type(value) in (dict, list) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            return True
        level = [
            child
            for item in level
            for child in (item.values() if type(item) is dict else item)
            if type(child) in (dict, list)
        ]
    return False


def _has_nul(value: Any) -> bool:
    """Whether any string in a JSON value (keys included) holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    for item, _ in _containers(value):
        strings = [*item, *item.values()] if isinstance(item, dict) else item
        if any(isinstance(text, str) and "\x00" in text for text in strings):
            return True
    return False


class Unstorable(ValueError):
    """A JSON value no database can store; the message says why (a lower-case clause)."""


def compact_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def storable_text(value: Any) -> str:
    """`value` as compact JSON text, or Unstorable when a database could not store it.
    (Nesting beyond MAX_JSON_DEPTH is refused where JSON comes in: the API's parser and
    the import's reader.)"""
    try:
        text = compact_dumps(value)
        if not text.isascii():
            text.encode("utf-8")  # lone surrogates from \ud800-style escapes
    except UnicodeEncodeError:
        raise Unstorable("holds text that is not valid Unicode (a lone surrogate).") from None
    except ValueError:  # 1e400 reads as infinity, which no JSON answer can carry
        raise Unstorable("holds a number too large to store (such as 1e400).") from None
    except RecursionError:
        raise Unstorable("is nested too deeply to store.") from None
    # The dump keeps NUL escaped, so the text shows where to look (an escaped backslash
    # followed by `u0000` shows too: the walk is exact).
    if "\\u0000" in text and _has_nul(value):
        raise Unstorable("holds a NUL character (\\u0000), which cannot be stored.")
    return text


def storable_problem(value: Any) -> str | None:
    """Why `value` cannot be stored as JSON (a sentence), or None when it can."""
    try:
        storable_text(value)
    except Unstorable as exc:
        reason = str(exc)
        return reason[:1].upper() + reason[1:]
    return None


class _Storable:
    """Refuses values `storable_problem` finds fault with, after the field's own checks."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        value = super().run_validation(data)  # type: ignore[misc]
        problem = storable_problem(value)
        if problem is not None:
            raise serializers.ValidationError(problem)
        return value


class StorableJSONField(_Storable, serializers.JSONField):
    """Any JSON value a database can store."""


class StorableDictField(_Storable, serializers.DictField):
    """A JSON object a database can store."""

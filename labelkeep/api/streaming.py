"""Plain JSON arrays of any length, streamed: read by id a chunk at a time, sent as read.

For list endpoints that Label Studio answers with an unpaginated array (clients parse a
plain list, so a page envelope would break them): memory and the size of each query stay
those of one chunk whatever the table holds, and the number of queries grows with the
chunks, never with the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from rest_framework.renderers import JSONRenderer

Row = dict[str, Any]


def rows_by_id(query: QuerySet[Any], columns: Sequence[str], size: int) -> Iterator[list[Row]]:
    """`query`'s rows (as `.values(*columns)`, which must include `id`) by ascending id, in
    lists of at most `size`: keyset pages (`id > last`), so no chunk costs more than the
    first and no cursor stays open between them."""
    last: int | None = None
    while True:
        page = query if last is None else query.filter(id__gt=last)
        chunk = list(page.order_by("id").values(*columns)[:size])
        if chunk:
            yield chunk
        if len(chunk) < size:
            return
        last = chunk[-1]["id"]


def _array(chunks: Iterable[list[Row]], write: Callable[[Row], Any]) -> Iterator[bytes]:
    renderer = JSONRenderer()
    yield b"["
    first = True
    for chunk in chunks:
        # DRF's renderer, so the bytes are what a Response of the same list would hold.
        rendered = bytes(renderer.render([write(row) for row in chunk]))
        yield (b"" if first else b",") + rendered[1:-1]
        first = False
    yield b"]"


def json_array(
    query: QuerySet[Any], columns: Sequence[str], write: Callable[[Row], Any], *, size: int
) -> StreamingHttpResponse:
    """A 200 whose body is the JSON array of `write(row)` for every row of `query`."""
    return StreamingHttpResponse(
        _array(rows_by_id(query, columns, size), write), content_type="application/json"
    )

"""Request bodies sent with `Transfer-Encoding: chunked` (no Content-Length).

Django reads a body only up to CONTENT_LENGTH, which such a request does not have, so
without this its body is silently empty ("No tasks found"). gunicorn decodes the chunks
and ends `wsgi.input` at the last one (it says so with `wsgi.input_terminated`); this
middleware reads that body, at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes, and hands it on
with its length, so every parser and limit after it sees an ordinary request.

Only that much: the body is read before the caller is authenticated, so one request must
not be able to make the server store more than a JSON body's worth. Larger bodies (file
uploads) need a Content-Length, which every HTTP client sends for a file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import IO, BinaryIO, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from labelkeep.api.errors import error_body

BLOCK = 64 * 1024


class ChunkedBodyMiddleware:
    """Reads chunked request bodies (bounded), or refuses them with a clear error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        coding = request.META.get("HTTP_TRANSFER_ENCODING")
        if coding is None:
            return self.get_response(request)
        refusal, spool = _read(request, coding)
        if refusal is not None:
            return refusal
        response = self.get_response(request)
        if spool is not None:
            # Closed with the response, as Django closes the request's uploaded files.
            response._resource_closers.append(spool.close)  # type: ignore[attr-defined]
        return response


def _read(request: HttpRequest, coding: str) -> tuple[HttpResponse | None, IO[bytes] | None]:
    """(a refusal, None), or (None, the spooled body) once the request carries it."""
    if [part.strip().lower() for part in coding.split(",")] != ["chunked"]:
        return _refuse(
            request,
            501,
            f"Transfer-Encoding {coding!r} is not supported; send the body "
            "as it is, with a Content-Length or Transfer-Encoding: chunked.",
        ), None
    if request.META.get("CONTENT_LENGTH"):
        # RFC 9112 6.3: a message with both is an attempt at request smuggling.
        return _refuse(
            request, 400, "A request may not have both Transfer-Encoding and Content-Length."
        ), None
    if not request.META.get("wsgi.input_terminated"):
        # Without it, reading to the end could wait for the client to close the connection.
        return _refuse(
            request,
            411,
            "This server cannot read a chunked request body here; "
            "send the body with a Content-Length.",
        ), None
    limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed with the response)
        max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=settings.FILE_UPLOAD_TEMP_DIR
    )
    try:
        length = _copy(request.META["wsgi.input"], spool, limit)
    except OSError:  # gunicorn's chunk-format errors and a client gone midway
        spool.close()
        return _refuse(request, 400, "The chunked request body is malformed or incomplete."), None
    if length > limit:
        spool.close()
        return _refuse(
            request,
            413,
            "A chunked request body (Transfer-Encoding: chunked, no "
            f"Content-Length) may be at most DATA_UPLOAD_MAX_MEMORY_SIZE ({limit} bytes); "
            "send larger bodies, such as file uploads, with a Content-Length.",
        ), None
    spool.seek(0)
    request.META["CONTENT_LENGTH"] = str(length)
    request._stream = cast(BinaryIO, spool)  # it ends where the body ends
    return None, spool


def _copy(source: IO[bytes], target: IO[bytes], limit: int) -> int:
    """Copy `source` to its end into `target`, stopping past `limit`; the bytes copied."""
    copied = 0
    while copied <= limit:
        block = source.read(min(BLOCK, limit + 1 - copied))
        if not block:
            break
        target.write(block)
        copied += len(block)
    return copied


def _refuse(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(status, detail), status=status)
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")

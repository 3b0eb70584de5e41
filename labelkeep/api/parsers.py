"""Request parsers that enforce the body size limit (DRF streams past Django's own check)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

from labelkeep.api.fields import MAX_JSON_DEPTH, too_deep


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "body_too_large"


class TooManyParts(exceptions.APIException):
    """More files or fields than Django's form parsers accept (a count, not a size: 400)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Too many files or fields in the request."
    default_code = "too_many_parts"


def form_limit_error(exc: Exception) -> exceptions.APIException | None:
    """Django's own limits on form and multipart bodies, which its parsers raise as
    `SuspiciousOperation` (a bare 400 page), as API errors naming the setting."""
    if isinstance(exc, RequestDataTooBig):
        limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        return BodyTooLarge(
            f"The request body, not counting uploaded files, is larger than "
            f"DATA_UPLOAD_MAX_MEMORY_SIZE ({limit} bytes)."
        )
    if isinstance(exc, TooManyFilesSent):
        count = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return TooManyParts(
            f"The request has more than DATA_UPLOAD_MAX_NUMBER_FILES ({count}) files; "
            "send them in several requests."
        )
    if isinstance(exc, TooManyFieldsSent):
        count = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return TooManyParts(
            f"The request has more than DATA_UPLOAD_MAX_NUMBER_FIELDS ({count}) form fields."
        )
    return None


def read_limited(stream: IO[bytes], limit: int) -> bytes:
    """Read at most `limit` bytes; raise BodyTooLarge if the body is longer."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise BodyTooLarge(f"Request body too large: the limit is {limit} bytes.")
    return data


_TOO_DEEP = object()


class LimitedJSONParser(JSONParser):
    """JSON bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE bytes; larger ones get a 413."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"Request body too large: the limit is {limit} bytes.")
        body = io.BytesIO(read_limited(stream, limit))
        parsed: Any
        try:
            parsed = super().parse(body, media_type, parser_context)
        except RecursionError:
            # A few kilobytes of `[[[[…` exhaust the decoder's stack: malformed, not a 500.
            parsed = _TOO_DEEP
        if parsed is _TOO_DEEP or too_deep(parsed):
            raise exceptions.ParseError(
                f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep."
            )
        return parsed

"""OpenAPI pieces every API module uses: the error body, response tables, hooks."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.api.pagination import PagePagination


class SchemaView(SpectacularAPIView):
    """The OpenAPI document (YAML, or JSON with `?format=json`), with its errors in JSON
    like every other endpoint's: drf-spectacular renders an error, an unknown `?format=`
    among them, with its first renderer, YAML."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response


def drop_slash_twins(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[Any]:
    """Each API route is served with and without a trailing slash; document it once."""
    paths = {path for path, *_ in endpoints}
    return [e for e in endpoints if not (e[0].endswith("/") and e[0].rstrip("/") in paths)]


@extend_schema_field(
    {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
)
class _MessagesField(serializers.JSONField):
    """One message or a list of messages (documentation only)."""


class ApiErrorSerializer(serializers.Serializer[Any]):
    """The body of every API error response."""

    status_code = serializers.IntegerField(help_text="The HTTP status code of the response.")
    version = serializers.CharField(help_text="The Labelkeep version of the server.")
    detail = serializers.CharField(help_text="What went wrong.")
    validation_errors = serializers.DictField(
        child=_MessagesField(),
        required=False,
        help_text="Only when input failed validation: messages keyed by field name.",
    )


_MEANINGS = {
    400: "Malformed JSON, or input that failed validation (see `validation_errors`).",
    401: "Missing, invalid or expired credentials.",
    403: "The caller is not an active member of an organization or lacks the permission.",
    404: "Not found, or not visible to the caller.",
    413: "The request body is larger than `DATA_UPLOAD_MAX_MEMORY_SIZE`.",
    429: "Too many failed attempts; retry after `Retry-After` seconds.",
}

MEMBER_ERRORS = (401, 403)
"""What any organization-scoped endpoint (MemberAPIView) may answer besides its own errors."""


def responses(success: dict[int, Any], *errors: int | tuple[int, str]) -> dict[int, Any]:
    """Success bodies plus ApiError responses; an error is a code or (code, description)."""
    documented: dict[int, Any] = dict(success)
    for error in errors:
        code, meaning = error if isinstance(error, tuple) else (error, _MEANINGS[error])
        documented[code] = OpenApiResponse(ApiErrorSerializer, description=meaning)
    return documented


RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before trying again.",
)


def page_parameters(noun: str) -> list[OpenApiParameter]:
    """`page` and `page_size` of a PagePagination list of `noun`."""
    return [
        OpenApiParameter(
            "page", int, description="Page number, from 1; pages past the last one are empty."
        ),
        OpenApiParameter(
            "page_size",
            int,
            description=f"{noun.capitalize()} per page (default {PagePagination.page_size}, "
            f"at most {PagePagination.max_page_size}).",
        ),
    ]

"""OpenAPI schema hooks, authentication descriptions and shared pieces (drf-spectacular)."""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import serializers

from labelkeep.accounts.roles import Perm, Role

# Choice sets named once in the schema (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
ROLE_CHOICES = [(r.value, r.value) for r in Role]
PERMISSION_CHOICES = [(p.value, p.value) for p in Perm]


def drop_slash_twins(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[Any]:
    """Each API route is served with and without a trailing slash; document it once."""
    paths = {path for path, *_ in endpoints}
    return [e for e in endpoints if not (e[0].endswith("/") and e[0].rstrip("/") in paths)]


class LegacyTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "labelkeep.accounts.auth.LegacyTokenAuthentication"
    name = "LegacyToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`",
        }


class AccessTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "labelkeep.accounts.auth.AccessTokenAuthentication"
    name = "AccessToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class ApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "labelkeep.accounts.auth.ApiKeyHeaderAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}


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


class WholeRoleChange(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """The role change body is validated whole although it arrives by PATCH (which
    drf-spectacular otherwise documents as partial, with no required fields)."""

    target_class = "labelkeep.accounts.serializers.RoleChangeSerializer"

    def map_serializer(self, auto_schema: Any, direction: str) -> Any:
        whole = copy.copy(self.target)
        whole.partial = False
        return auto_schema._map_serializer(whole, direction, bypass_extensions=True)

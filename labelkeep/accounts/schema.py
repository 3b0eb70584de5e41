"""OpenAPI descriptions of the identity layer: auth schemes, enums, role-change body."""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension

from labelkeep.accounts.roles import Perm, Role

# Choice sets named once in the schema (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
ROLE_CHOICES = [(r.value, r.value) for r in Role]
PERMISSION_CHOICES = [(p.value, p.value) for p in Perm]


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


class WholeRoleChange(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """The role change body is validated whole although it arrives by PATCH (which
    drf-spectacular otherwise documents as partial, with no required fields)."""

    target_class = "labelkeep.accounts.serializers.RoleChangeSerializer"

    def map_serializer(self, auto_schema: Any, direction: str) -> Any:
        whole = copy.copy(self.target)
        whole.partial = False
        return auto_schema._map_serializer(whole, direction, bypass_extensions=True)

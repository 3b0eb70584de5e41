"""The OpenAPI generator of every API view (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS).

A module of its own: drf-spectacular imports this class when the first `extend_schema`
decorator runs, and labelkeep/api/schema.py runs one as it is imported (SpectacularAPIView).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.plumbing import build_media_type_object


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, which also documents the body of a DELETE that declares one with
    `extend_schema(request=…)`. It documents bodies of PUT, PATCH and POST only (OpenAPI 3.0
    gives a DELETE body no meaning), but Label Studio's clients send some, and we read them."""

    def get_request_serializer(self) -> Any:
        if self.method == "DELETE":
            return None  # not guessed from the view: only a declared body is documented
        return super().get_request_serializer()

    def _get_request_body(self, direction: str = "request") -> dict[str, Any] | None:
        if self.method != "DELETE":
            return super()._get_request_body(direction)  # type: ignore[no-any-return,no-untyped-call]
        declared = self.get_request_serializer()
        if declared is None:
            return None
        # As for other methods: a dict maps media types to bodies, else one body per parser.
        if not isinstance(declared, dict):
            declared = dict.fromkeys(self.map_parsers(), declared)
        content: dict[str, Any] = {}
        required = True
        for media_type, serializer in declared.items():
            schema, needed = self._get_request_for_media_type(serializer, direction)  # type: ignore[no-untyped-call]
            if schema is not None:
                content[media_type] = build_media_type_object(schema)
                required = required and needed
        if not content:
            return None
        return {"content": content, "required": True} if required else {"content": content}

"""OpenAPI descriptions of the task layer that the serializers alone cannot give."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension


class ListedTaskFields(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """In the task list only `id` is always present: `fields` and `include` choose the rest."""

    target_class = "labelkeep.tasks.serializers.ListedTaskSerializer"

    def map_serializer(self, auto_schema: Any, direction: str) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["required"] = ["id"]
        return schema

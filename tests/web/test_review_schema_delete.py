"""Regression test from the review of the DELETE bodies documented by
labelkeep/api/autoschema.py: the docstring tells the fault it caught, since fixed."""

from __future__ import annotations

from typing import Any

from tests.web.test_schema import body, schema

__all__ = ["schema"]  # the module-scoped fixture, used by name


def test_views_reset_documents_its_body_as_optional(world: Any, schema: dict[str, Any]) -> None:
    """`DELETE api/dm/views/reset?project=<id>` needs no body (docs/api-compatibility.md
    documents only `?project=`, and the view reads the query first), yet the schema marks
    the body required, with `project` required inside it: a client generated from the
    schema must send a body the server does not need."""
    operation = schema["paths"]["/api/dm/views/reset"]["delete"]
    project = world.admin.client.post(
        "/api/projects/", {"title": "Views", "label_config": "<View></View>"}, format="json"
    )
    assert project.status_code == 201, project.content
    answer = world.admin.client.delete(f"/api/dm/views/reset?project={project.json()['id']}")
    assert answer.status_code == 204  # no body, and the server is content
    assert operation["requestBody"].get("required") is not True  # fails: True
    assert "project" not in body(schema, operation["requestBody"]).get("required", [])

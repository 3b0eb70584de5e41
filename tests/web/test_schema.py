"""The OpenAPI schema is complete, warning-free and describes what the API really does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from labelkeep.accounts.apibase import MemberAPIView

# Operation ids are what generated clients call; changing one is a breaking change.
OPERATION_IDS = {
    ("/api/audit-log", "get"): "audit_log_list",
    ("/api/auth/csrf", "get"): "auth_csrf_retrieve",
    ("/api/auth/login", "post"): "auth_login_create",
    ("/api/auth/logout", "post"): "auth_logout_create",
    ("/api/current-user", "get"): "current_user_retrieve",
    ("/api/current-user/reset-token", "post"): "current_user_reset_token_create",
    ("/api/current-user/token", "get"): "current_user_token_retrieve",
    ("/api/current-user/whoami", "get"): "current_user_whoami_retrieve",
    ("/api/invite", "get"): "invite_retrieve",
    ("/api/invite/reset-token", "post"): "invite_reset_token_create",
    ("/api/jobs/{id}", "get"): "jobs_retrieve",
    ("/api/jwt/settings", "get"): "jwt_settings_retrieve",
    ("/api/jwt/settings", "post"): "jwt_settings_create",
    ("/api/organizations", "get"): "organizations_list",
    ("/api/organizations/{id}", "get"): "organizations_retrieve",
    ("/api/organizations/{id}", "patch"): "organizations_partial_update",
    ("/api/organizations/{id}/memberships", "get"): "organizations_memberships_list",
    ("/api/organizations/{id}/memberships/{user_pk}", "get"): "organizations_memberships_retrieve",
    (
        "/api/organizations/{id}/memberships/{user_pk}",
        "patch",
    ): "organizations_memberships_partial_update",
    (
        "/api/organizations/{id}/memberships/{user_pk}",
        "delete",
    ): "organizations_memberships_destroy",
    ("/api/schema", "get"): "schema_retrieve",
    ("/api/token", "get"): "token_list",
    ("/api/token", "post"): "token_create",
    ("/api/token/blacklist", "post"): "token_blacklist_create",
    ("/api/token/refresh", "post"): "token_refresh_create",
    ("/api/token/rotate", "post"): "token_rotate_create",
    ("/api/users", "get"): "users_list",
    ("/api/users/{id}", "get"): "users_retrieve",
    ("/api/users/{id}", "patch"): "users_partial_update",
    ("/api/users/{id}", "delete"): "users_destroy",
    ("/api/version", "get"): "version_retrieve",
    ("/api/workspaces", "get"): "workspaces_list",
    ("/api/workspaces", "post"): "workspaces_create",
    ("/api/workspaces/{id}", "get"): "workspaces_retrieve",
    ("/api/workspaces/{id}", "patch"): "workspaces_partial_update",
    ("/api/workspaces/{id}", "delete"): "workspaces_destroy",
}
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Generated as `manage.py spectacular --validate --fail-on-warn` does (raises on warnings)."""
    out: Path = tmp_path_factory.mktemp("schema") / "schema.json"
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", out
    )
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        node = schema["components"]["schemas"][name]
    return node


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def body(schema: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    return resolve(schema, part["content"]["application/json"]["schema"])


def test_operation_ids_are_unique_and_stable(schema: dict[str, Any]) -> None:
    found = {(path, method): op["operationId"] for path, method, op in operations(schema)}
    assert found == OPERATION_IDS
    assert len(set(found.values())) == len(found)


def test_every_api_operation_is_described(schema: dict[str, Any]) -> None:
    base_doc = (MemberAPIView.__doc__ or "").strip()
    for path, method, op in operations(schema):
        where = f"{method.upper()} {path}"
        assert op.get("description"), where
        assert op["description"] != base_doc, where
        assert op.get("tags"), where
        if path == "/api/schema":
            continue
        assert op.get("summary"), where
        codes = set(op["responses"])
        assert any(code.startswith("2") for code in codes), where
        for code, response in op["responses"].items():
            if code.startswith("2"):
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/ApiError", f"{where} {code}"


def test_error_component(schema: dict[str, Any]) -> None:
    error = schema["components"]["schemas"]["ApiError"]
    assert set(error["properties"]) == {"status_code", "version", "detail", "validation_errors"}
    assert set(error["required"]) == {"status_code", "version", "detail"}


def test_token_refresh(schema: dict[str, Any]) -> None:
    op = schema["paths"]["/api/token/refresh"]["post"]
    request = body(schema, op["requestBody"])
    assert op["requestBody"]["required"] is True
    assert request["required"] == ["refresh"]
    assert set(request["properties"]) == {"refresh"}
    assert set(body(schema, op["responses"]["200"])["properties"]) == {"access"}
    assert {"400", "401", "413"} <= set(op["responses"])
    assert op["security"] == [{}]  # needs no credentials


def test_memberships_are_paginated_and_filterable(schema: dict[str, Any]) -> None:
    op = schema["paths"]["/api/organizations/{id}/memberships"]["get"]
    page = body(schema, op["responses"]["200"])
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    items = resolve(schema, page["properties"]["results"]["items"])
    assert {"id", "user", "role"} <= set(items["properties"])
    query = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
    assert set(query) == {"search", "role", "page", "page_size"}
    assert "owner" in query["role"]["schema"]["enum"]


def test_audit_log_is_paginated_and_filterable(schema: dict[str, Any]) -> None:
    op = schema["paths"]["/api/audit-log"]["get"]
    page = body(schema, op["responses"]["200"])
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    query = {p["name"]: p["schema"] for p in op["parameters"] if p["in"] == "query"}
    assert set(query) == {"user", "action", "since", "until", "page", "page_size"}
    assert query["since"]["format"] == query["until"]["format"] == "date-time"


def test_bodies_and_status_codes(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    role_change = paths["/api/organizations/{id}/memberships/{user_pk}"]["patch"]
    assert body(schema, role_change["requestBody"])["required"] == ["role"]
    assert "204" in paths["/api/token/blacklist"]["post"]["responses"]
    assert "201" in paths["/api/workspaces"]["post"]["responses"]
    assert "requestBody" not in paths["/api/current-user/reset-token"]["post"]
    login = paths["/api/auth/login"]["post"]["responses"]
    assert "Retry-After" in login["429"]["headers"]
    users = paths["/api/users"]["get"]
    assert users["parameters"][0]["name"] == "ordering"


def test_documented_bodies_match_real_responses(world: Any, schema: dict[str, Any]) -> None:
    """A few answers from the running API carry exactly the documented fields."""
    client = world.admin.client
    org = world.admin.org.pk
    checks = [
        ("/api/current-user/whoami", "/api/current-user/whoami"),
        ("/api/version", "/api/version"),
        ("/api/invite", "/api/invite"),
        ("/api/jwt/settings", "/api/jwt/settings"),
        (f"/api/organizations/{org}/memberships", "/api/organizations/{id}/memberships"),
        ("/api/audit-log", "/api/audit-log"),
    ]
    for url, path in checks:
        response = client.get(url)
        assert response.status_code == 200, url
        documented = body(schema, schema["paths"][path]["get"]["responses"]["200"])
        assert set(response.json()) == set(documented["properties"]), url
    refused = client.get("/api/users?ordering=nope")
    assert refused.status_code == 400
    error = schema["components"]["schemas"]["ApiError"]
    assert set(refused.json()) <= set(error["properties"])
    assert set(error["required"]) <= set(refused.json())

"""The OpenAPI schema is complete, warning-free and describes what the API really does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from labelkeep.accounts.apibase import MemberAPIView
from labelkeep.dataio.models import ProjectImport
from labelkeep.tasks.serializers import COMPUTED_FIELDS
from tests.tasks.conftest import CONFIG, choice

# Operation ids are what generated clients call; changing one is a breaking change.
OPERATION_IDS = {
    ("/api/projects/{id}/export", "get"): "projects_export_retrieve",
    ("/api/projects/{id}/export/formats", "get"): "projects_export_formats_list",
    ("/api/projects/{id}/exports", "get"): "projects_exports_list",
    ("/api/projects/{id}/exports", "post"): "projects_exports_create",
    ("/api/projects/{id}/exports/{export_pk}", "get"): "projects_exports_retrieve",
    ("/api/projects/{id}/exports/{export_pk}", "delete"): "projects_exports_destroy",
    ("/api/projects/{id}/exports/{export_pk}/convert", "post"): "projects_exports_convert_create",
    (
        "/api/projects/{id}/exports/{export_pk}/download",
        "get",
    ): "projects_exports_download_retrieve",
    ("/api/projects/{id}/import", "post"): "projects_import_create",
    ("/api/projects/{id}/imports/{import_pk}", "get"): "projects_imports_retrieve",
    ("/api/annotations/{id}", "get"): "annotations_retrieve",
    ("/api/annotations/{id}", "patch"): "annotations_partial_update",
    ("/api/annotations/{id}", "delete"): "annotations_destroy",
    ("/api/annotations/bulk", "post"): "annotations_bulk_create",
    ("/api/annotations/bulk-delete", "post"): "annotations_bulk_delete_create",
    ("/api/audit-log", "get"): "audit_log_list",
    ("/api/auth/csrf", "get"): "auth_csrf_retrieve",
    ("/api/auth/login", "post"): "auth_login_create",
    ("/api/auth/logout", "post"): "auth_logout_create",
    ("/api/current-user", "get"): "current_user_retrieve",
    ("/api/current-user/reset-token", "post"): "current_user_reset_token_create",
    ("/api/current-user/token", "get"): "current_user_token_retrieve",
    ("/api/current-user/whoami", "get"): "current_user_whoami_retrieve",
    ("/api/dm/actions", "post"): "dm_actions_create",
    ("/api/dm/actions", "get"): "dm_actions_list",
    ("/api/projects/{id}/file-uploads", "get"): "files_list",
    ("/api/projects/{id}/file-uploads", "delete"): "files_delete_many",
    ("/api/import/file-upload/{id}", "get"): "files_retrieve",
    ("/api/import/file-upload/{id}", "delete"): "files_destroy",
    ("/api/dm/views", "get"): "views_list",
    ("/api/dm/views", "post"): "views_create",
    ("/api/dm/views/{id}", "get"): "views_retrieve",
    ("/api/dm/views/{id}", "patch"): "views_update",
    ("/api/dm/views/{id}", "put"): "views_replace",
    ("/api/dm/views/{id}", "delete"): "views_destroy",
    ("/api/dm/views/order", "post"): "views_order",
    ("/api/dm/views/reset", "delete"): "views_reset",
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
    ("/api/predictions", "get"): "predictions_list",
    ("/api/predictions", "post"): "predictions_create",
    ("/api/predictions/{id}", "get"): "predictions_retrieve",
    ("/api/predictions/{id}", "patch"): "predictions_partial_update",
    ("/api/predictions/{id}", "delete"): "predictions_destroy",
    ("/api/projects", "get"): "projects_list",
    ("/api/projects", "post"): "projects_create",
    ("/api/projects/counts", "get"): "projects_counts_list",
    ("/api/projects/{id}", "get"): "projects_retrieve",
    ("/api/projects/{id}", "patch"): "projects_partial_update",
    ("/api/projects/{id}", "delete"): "projects_destroy",
    ("/api/projects/{id}/import/predictions", "post"): "projects_import_predictions_create",
    ("/api/projects/{id}/members", "get"): "projects_members_list",
    ("/api/projects/{id}/members", "post"): "projects_members_create",
    ("/api/projects/{id}/members", "delete"): "projects_members_destroy",
    ("/api/projects/{id}/next", "get"): "projects_next_retrieve",
    ("/api/projects/{id}/annotators", "get"): "projects_annotators_list",
    ("/api/projects/{id}/tasks", "get"): "projects_tasks_list",
    ("/api/projects/{id}/tasks", "delete"): "projects_tasks_destroy",
    ("/api/projects/{id}/validate", "post"): "projects_validate_create",
    ("/api/schema", "get"): "schema_retrieve",
    ("/api/tasks", "get"): "tasks_list",
    ("/api/tasks", "post"): "tasks_create",
    ("/api/tasks/{id}", "get"): "tasks_retrieve",
    ("/api/tasks/{id}", "patch"): "tasks_partial_update",
    ("/api/tasks/{id}", "delete"): "tasks_destroy",
    ("/api/drafts/{id}", "get"): "drafts_retrieve",
    ("/api/drafts/{id}", "put"): "drafts_update",
    ("/api/drafts/{id}", "patch"): "drafts_partial_update",
    ("/api/drafts/{id}", "delete"): "drafts_destroy",
    ("/api/tasks/{id}/annotations/{annotation_pk}/drafts", "get"): "tasks_annotations_drafts_list",
    ("/api/tasks/{id}/annotations/{annotation_pk}/drafts", "post"): (
        "tasks_annotations_drafts_create"
    ),
    ("/api/tasks/{id}/drafts", "get"): "tasks_drafts_list",
    ("/api/tasks/{id}/drafts", "post"): "tasks_drafts_create",
    ("/api/tasks/{id}/annotations", "get"): "tasks_annotations_list",
    ("/api/tasks/{id}/annotations", "post"): "tasks_annotations_create",
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


def fields(schema: dict[str, Any], path: str, method: str, code: int) -> set[str]:
    """The properties of a documented response body (of its items, for an array)."""
    found = body(schema, schema["paths"][path][method]["responses"][str(code)])
    if found.get("type") == "array":
        found = resolve(schema, found["items"])
    return set(found["properties"])


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


def test_task_list_documents_envelope_and_query(schema: dict[str, Any]) -> None:
    op = schema["paths"]["/api/tasks"]["get"]
    page = body(schema, op["responses"]["200"])
    assert set(page["properties"]) == {"tasks", "total", "total_annotations", "total_predictions"}
    task = resolve(schema, page["properties"]["tasks"]["items"])
    assert {"id", "data", "annotations", "predictions", "drafts"} <= set(task["properties"])
    assert task["required"] == ["id"]  # `fields` and `include` choose the rest
    query = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
    assert set(query) == {
        "project",
        "page",
        "page_size",
        "fields",
        "include",
        "query",
        "ordering",
        "only_annotated",
        "is_labeled",
        "selectedItems",
        "resolve_uri",
        "view",
    }
    assert "optional with `view`" in query["project"]["description"]
    assert query["fields"]["schema"]["enum"] == ["all", "task_only"]
    assert "filter:tasks:" in query["query"]["description"]
    assert {"400", "404"} <= set(op["responses"])
    by_path = schema["paths"]["/api/projects/{id}/tasks"]["get"]
    assert by_path["responses"]["200"] == op["responses"]["200"]
    assert {p["name"] for p in by_path["parameters"] if p["in"] == "query"} == set(query) - {
        "project"
    }


def test_projects_are_paginated_and_filterable(schema: dict[str, Any]) -> None:
    op = schema["paths"]["/api/projects"]["get"]
    page = body(schema, op["responses"]["200"])
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    query = {p["name"]: p["schema"] for p in op["parameters"] if p["in"] == "query"}
    assert set(query) == {
        "ids",
        "workspaces",
        "title",
        "search",
        "filter",
        "ordering",
        "page",
        "page_size",
    }
    assert "-created_at" in query["ordering"]["enum"]
    assert query["filter"]["enum"] == ["all", "exclude_pinned", "pinned_only"]


def test_labeling_bodies_and_status_codes(schema: dict[str, Any]) -> None:
    paths = schema["paths"]
    annotate = paths["/api/tasks/{id}/annotations"]["post"]
    assert {"result", "was_cancelled", "lead_time", "completed_by"} <= set(
        body(schema, annotate["requestBody"])["properties"]
    )
    assert {"201", "400", "403", "404", "413"} <= set(annotate["responses"])
    assert "result" in fields(schema, "/api/tasks/{id}/annotations", "post", 201)
    validate = paths["/api/projects/{id}/validate"]["post"]
    assert body(schema, validate["requestBody"])["required"] == ["label_config"]
    assert fields(schema, "/api/projects/{id}/validate", "post", 200) == {
        "label_config",
        "config_essential_data_has_changed",
    }
    assert fields(schema, "/api/annotations/bulk-delete", "post", 200) == {"deleted_count"}
    assert fields(schema, "/api/dm/actions", "post", 200) == {"detail", "processed_items"}
    action = {p["name"]: p for p in paths["/api/dm/actions"]["post"]["parameters"]}
    assert set(action["id"]["schema"]["enum"]) == {
        "predictions_to_annotations",
        "delete_tasks",
        "delete_tasks_annotations",
        "delete_tasks_predictions",
    }
    assert action["id"]["required"]
    imported = paths["/api/projects/{id}/import/predictions"]["post"]
    assert imported["requestBody"]["content"]["application/json"]["schema"]["type"] == "array"
    assert fields(schema, "/api/projects/{id}/import/predictions", "post", 201) == {"created"}
    assert fields(schema, "/api/projects/{id}/members", "post", 201) == {"user"}
    assert fields(schema, "/api/projects/{id}/members", "post", 200) == {"user", "created_at"}
    assert "annotations" in fields(schema, "/api/projects/{id}/next", "get", 200)
    for path in ("/api/projects/{id}", "/api/tasks/{id}", "/api/annotations/{id}"):
        assert "204" in paths[path]["delete"]["responses"], path
    assert "201" in paths["/api/tasks"]["post"]["responses"]
    assert "201" in paths["/api/predictions"]["post"]["responses"]


def test_labeling_bodies_match_real_responses(world: Any, schema: dict[str, Any]) -> None:
    """Projects, tasks, annotations and predictions answer with exactly the documented fields."""
    client = world.admin.client

    def check(response: Any, path: str, method: str, code: int) -> Any:
        assert response.status_code == code, (path, response.content)
        got = response.json()
        assert set(got[0] if isinstance(got, list) else got) == fields(schema, path, method, code)
        return got

    project = check(
        client.post("/api/projects/", {"title": "Schema", "label_config": CONFIG}, format="json"),
        "/api/projects",
        "post",
        201,
    )["id"]
    check(client.get("/api/projects/"), "/api/projects", "get", 200)
    check(client.get(f"/api/projects/{project}"), "/api/projects/{id}", "get", 200)
    check(
        client.post(f"/api/projects/{project}/validate", {"label_config": CONFIG}, format="json"),
        "/api/projects/{id}/validate",
        "post",
        200,
    )
    client.post(
        f"/api/projects/{project}/members", {"users": [world.member.user.pk]}, format="json"
    )
    check(client.get(f"/api/projects/{project}/members"), "/api/projects/{id}/members", "get", 200)
    task = check(
        client.post("/api/tasks/", {"project": project, "data": {"text": "hi"}}, format="json"),
        "/api/tasks",
        "post",
        201,
    )["id"]
    listed = check(client.get(f"/api/tasks/?project={project}"), "/api/tasks", "get", 200)
    full = client.get(f"/api/tasks/?project={project}&fields=all").json()["tasks"][0]
    listed_task = body(schema, schema["paths"]["/api/tasks"]["get"]["responses"]["200"])
    documented = set(resolve(schema, listed_task["properties"]["tasks"]["items"])["properties"])
    assert set(full) == documented
    only_all = {"annotations", "predictions", "drafts", *COMPUTED_FIELDS}
    assert set(listed["tasks"][0]) == documented - only_all
    check(client.get(f"/api/tasks/{task}"), "/api/tasks/{id}", "get", 200)
    check(client.get(f"/api/projects/{project}/next"), "/api/projects/{id}/next", "get", 200)
    annotation = check(
        client.post(
            f"/api/tasks/{task}/annotations", {"result": choice("Positive")}, format="json"
        ),
        "/api/tasks/{id}/annotations",
        "post",
        201,
    )["id"]
    check(
        client.post(
            "/api/predictions", {"task": task, "result": choice("Negative")}, format="json"
        ),
        "/api/predictions",
        "post",
        201,
    )
    check(
        client.post("/api/annotations/bulk-delete", {"ids": [annotation]}, format="json"),
        "/api/annotations/bulk-delete",
        "post",
        200,
    )


def test_delete_bodies_are_documented(schema: dict[str, Any]) -> None:
    """drf-spectacular documents no DELETE body; those our DELETEs read are added
    (labelkeep/api/autoschema.py), and only those: none is guessed."""
    paths = schema["paths"]
    with_body = {
        path
        for path, method, op in operations(schema)
        if "requestBody" in op and method == "delete"
    }
    assert with_body == {
        "/api/projects/{id}/file-uploads",
        "/api/projects/{id}/members",
        "/api/dm/views/reset",
    }
    reset = paths["/api/dm/views/reset"]["delete"]["requestBody"]
    assert body(schema, reset)["properties"] == {"project": {"type": "integer"}}
    uploads = paths["/api/projects/{id}/file-uploads"]["delete"]["requestBody"]
    assert set(uploads["content"]) == {"application/json"}
    chosen = body(schema, uploads)["properties"]
    assert set(chosen) == {"file_upload_ids"}
    assert chosen["file_upload_ids"]["type"] == "array" and chosen["file_upload_ids"]["nullable"]
    assert "required" not in uploads  # without a body, every upload goes
    members = paths["/api/projects/{id}/members"]
    removed = members["delete"]["requestBody"]
    assert removed["content"] == members["post"]["requestBody"]["content"]  # {users} or {user}
    assert set(body(schema, removed)["properties"]) == {"users", "user"}
    assert "required" not in removed  # `?user=<id>` instead, as the SDK sends it


def test_import_record_matches_the_real_response(world: Any, schema: dict[str, Any]) -> None:
    client = world.admin.client
    project = client.post(
        "/api/projects/", {"title": "Schema", "label_config": CONFIG}, format="json"
    ).json()["id"]
    client.post(f"/api/projects/{project}/import", [{"text": "hi"}], format="json")
    import_pk = ProjectImport.objects.get(project_id=project).pk
    response = client.get(f"/api/projects/{project}/imports/{import_pk}")
    assert response.status_code == 200
    path = "/api/projects/{id}/imports/{import_pk}"
    assert set(response.json()) == fields(schema, path, "get", 200)
    assert {"commit_to_project", "could_be_tasks_list", "updated_at"} <= set(response.json())

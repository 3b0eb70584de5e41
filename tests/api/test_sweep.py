"""Hostile input on every route of the URL map: each answer is below 500, an error is JSON
with `detail`, and a refused write changes nothing.

Routes come from `get_resolver()` (so a new route is swept without being listed here);
body fields and query parameters come from the OpenAPI document at `/api/schema`. Path
ids name the objects of one small world (a project with tasks, an annotation, a
prediction, a saved view, an export snapshot and its job, an upload and its import, a
workspace). Every request runs in a savepoint rolled back after it, so each starts from
the same world; what it changed is compared before the rollback. CI runs this file on
SQLite and on PostgreSQL, whose text types refuse a NUL and a lone surrogate.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.apps import apps
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver

from labelkeep.dataio.models import ExportSnapshot, FileUpload, ProjectImport
from labelkeep.jobs import services as jobs
from labelkeep.tasks import anchors
from tests.conftest import HttpsClient, World
from tests.dataio.test_export_support import TEXT_CONFIG, add_tasks, annotate, choice
from tests.dataio.test_import_support import make_project, post_files

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "patch", "put", "delete")
WRITES = {"post", "patch", "put", "delete"}

# Pages, not API: the home page and HTML forms with their own tests
# (tests/accounts/test_pages.py, test_org_pages.py), answering HTML errors by design.
# /data/upload/ serves files and is swept apart below (GET with hostile names); the API
# reference page is static.
NOT_API = ("user/", "organization/", "setup/", "docs/", "data/upload/")

BIG = 2**63  # one past the largest 64-bit id
HOSTILE_TEXT = [
    "</script>",
    "../../etc/passwd",
    "javascript:alert(1)",
    "a\x00b",
    "\ud800",
    "x" * 100_000,
]
# Free-form JSON holding what a database cannot store: as a value, as a key, in a list.
HOSTILE_INSIDE = [
    json.dumps({"text": "a\x00b"}),
    json.dumps({"text": "\ud800"}),
    json.dumps({"a\x00b": "x", "\ud800": "y"}),
    json.dumps([{"text": "\ud800"}, "a\x00b"]),
    json.dumps({"text": "x" * 100_000}),
    f'{{"text": "x", "n": 1e400, "m": {2**70}}}',  # infinity, once parsed
]
# Items of an array field (ids, most often).
HOSTILE_ITEMS = [f"[{2**70}]", "[-1]", '["x"]', "[null]", "[[1]]", "[1e400]", "[0, 0, 0]"]
# Raw JSON text, so 1e400 arrives as written (json.dumps would refuse infinity).
WRONG_TYPES = ['"1"', '["x"]', '{"a": true}', str(2**70), "-1", "1e400", "true", "null"]
BAD_BODIES = [
    "{",
    "",
    '{"a": "\ud800"}',  # unescaped: sent as the bytes ED A0 80, which are not UTF-8
    '[{"a": 1}]',
    '{"a": 1}',
    '"text"',
    "7",
    "null",
    '{"a": ' * 200 + "1" + "}" * 200,
    "[" * 200 + "]" * 200,
]
# Query values as they appear in a URL: %00 is a NUL, %ED%A0%80 a surrogate's UTF-8-like
# bytes (not valid UTF-8).
HOSTILE_QUERY = [
    quote("</script>"),
    quote("../../etc/passwd"),
    quote("javascript:alert(1)"),
    "a%00b",
    "%ED%A0%80",
    "x" * 100_000,
    str(2**70),
    "-1",
    "1e400",
    quote('["x"]'),
    quote("[" * 200 + "]" * 200),
    *(
        quote(json.dumps({"filters": {"conjunction": "and", "items": [item]}}))
        for item in [
            {
                "filter": "filter:tasks:data.text",
                "operator": "contains",
                "type": "String",
                "value": v,
            }
            for v in ("a\x00b", "\ud800")
        ]
    ),
]
# Names no parameter has: a NUL, a surrogate's bytes, a name given twice.
ODD_NAMES = ["a%00b=1", "%ED%A0%80=1", "page=1&page=2"]
PAGES = ["page=0", "page=-1", f"page={10**30}", f"page_size={10**30}", "page_size=-1"]


# --- The routes ------------------------------------------------------------------------


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern), entry


def _view_methods(pattern: URLPattern) -> list[str]:
    view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
    return [m for m in METHODS if view is not None and hasattr(view, m)]


def api_routes() -> list[tuple[str, str]]:
    """(route, method) for every API route, one spelling of each (with and without the
    trailing slash reach the same view)."""
    found: dict[str, list[str]] = {}
    for route, pattern in _walk(get_resolver().url_patterns):
        if not route.startswith("api/"):
            assert route == "" or route.startswith(NOT_API), f"unswept route {route!r}"
            continue
        found.setdefault(route.rstrip("/"), _view_methods(pattern))
    return [(route, method) for route, methods in found.items() for method in methods]


ROUTES = api_routes()


def schema_path(route: str) -> str:
    """`api/tasks/<int:pk>` as the OpenAPI document spells it: `/api/tasks/{id}`."""
    named = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{" + m[1] + "}", route)
    return "/" + named.replace("{pk}", "{id}")


# --- The world -------------------------------------------------------------------------


@dataclass
class Sweep:
    client: HttpsClient
    ids: dict[str, int]  # "project", "task", ...
    roots: list[Path]
    schema: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def sweep(world: World, settings: Any, tmp_path: Path) -> Sweep:
    settings.UPLOADS_ROOT = tmp_path / "uploads"
    settings.EXPORTS_ROOT = tmp_path / "exports"
    client = world.admin.client
    project = make_project(world, TEXT_CONFIG)
    task_ids = add_tasks(project, world, [{"text": f"review {n}"} for n in range(3)])
    annotation = annotate(task_ids[0], choice("Positive"), world)
    prediction = client.post(
        "/api/predictions", {"task": task_ids[1], "result": choice("Negative")}, format="json"
    )
    view = client.post("/api/dm/views", {"project": project.pk, "data": {}}, format="json")
    assert (prediction.status_code, view.status_code) == (201, 201)
    made = client.post(f"/api/projects/{project.pk}/exports", {"title": "s"}, format="json")
    snapshot = ExportSnapshot.objects.get(pk=made.json()["id"])
    assert snapshot.job_id is not None
    jobs.execute(snapshot.job_id)  # a written snapshot, so download and convert get far
    uploaded = post_files(client, project, {"more.csv": b"text\nfrom a file\n"})
    assert uploaded.status_code == 201, uploaded.content
    workspace = client.post("/api/workspaces", {"title": "Team"}, format="json")
    assert workspace.status_code == 201
    draft = client.post(f"/api/tasks/{task_ids[0]}/drafts", {"result": []}, format="json")
    assert draft.status_code == 201
    ids = {
        "project": project.pk,
        "task": task_ids[0],
        "annotation": annotation,
        "prediction": prediction.json()["id"],
        "view": view.json()["id"],
        "snapshot": snapshot.pk,
        "job": snapshot.job_id,
        "upload": FileUpload.objects.get(project=project).pk,
        "import": ProjectImport.objects.filter(project=project).latest("pk").pk,
        "workspace": workspace.json()["id"],
        "draft": draft.json()["id"],
        "organization": world.org.pk,
        "member": world.member.user.pk,
        "admin": world.admin.user.pk,
    }
    roots = [settings.UPLOADS_ROOT, settings.EXPORTS_ROOT]
    return Sweep(client, ids, roots, schema=openapi(client))


_schema_text: list[bytes] = []


def openapi(client: HttpsClient) -> dict[str, Any]:
    """The OpenAPI document, fetched once (it is the same for every world)."""
    if not _schema_text:
        response = client.get("/api/schema?format=json")
        assert response.status_code == 200
        _schema_text.append(response.content)
    document: dict[str, Any] = json.loads(_schema_text[0])
    return document


# Which object each path parameter names, by the route's first word.
_PK_OF = {
    "users": "admin",  # an admin changes only their own profile (as Label Studio)
    "members": "member",
    "organizations": "organization",
    "workspaces": "workspace",
    "jobs": "job",
    "projects": "project",
    "tasks": "task",
    "annotations": "annotation",
    "predictions": "prediction",
    "drafts": "draft",
    "dm": "view",
    "import": "upload",
}
_NAMED = {
    "user_pk": "member",
    "import_pk": "import",
    "export_pk": "snapshot",
    "annotation_pk": "annotation",
}


def path_ids(route: str, method: str, sweep: Sweep) -> dict[str, int]:
    names = re.findall(r"<(?:\w+:)?(\w+)>", route)
    first = route.split("/")[1]
    if (method, first) == ("delete", "users"):
        first = "members"  # nobody deletes their own account over the API
    return {n: sweep.ids[_NAMED.get(n) or _PK_OF[first]] for n in names}


def fill(route: str, values: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        return str(values[match[1]])

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route)


# --- Valid requests, so one hostile field is judged on its own ----------------------------


@dataclass
class Base:
    """A request the endpoint accepts, on which one field or parameter at a time is made
    hostile; without it, most writes would stop at a missing required field."""

    body: dict[str, Any] | list[Any] | None = None
    query: dict[str, Any] = field(default_factory=dict)
    refused: bool = False  # no valid request exists from here (a refresh token, a password)


def base_request(route: str, method: str, sweep: Sweep) -> Base:
    ids = sweep.ids
    result = choice("Positive")
    project, task = ids["project"], ids["task"]
    bases: dict[tuple[str, str], Base] = {
        ("post", "api/projects"): Base({"title": "t", "label_config": TEXT_CONFIG}),
        ("post", "api/projects/<int:pk>/validate"): Base({"label_config": TEXT_CONFIG}),
        ("post", "api/projects/<int:pk>/members"): Base({"user": ids["member"]}),
        ("delete", "api/projects/<int:pk>/members"): Base(query={"user": ids["member"]}),
        ("post", "api/projects/<int:pk>/import"): Base([{"text": "x"}]),
        ("post", "api/projects/<int:pk>/import/predictions"): Base(
            [{"task": task, "result": result}]
        ),
        ("post", "api/projects/<int:pk>/exports"): Base({"title": "t"}),
        ("post", "api/projects/<int:pk>/exports/<int:export_pk>/convert"): Base(
            {"export_type": "CSV"}
        ),
        ("get", "api/projects/<int:pk>/exports/<int:export_pk>/download"): Base(
            query={"exportType": "JSON"}
        ),
        ("delete", "api/projects/<int:pk>/file-uploads"): Base(
            {"file_upload_ids": [ids["upload"]]}
        ),
        ("post", "api/tasks"): Base({"project": project, "data": {"text": "x"}}),
        ("get", "api/tasks"): Base(query={"project": project}),
        ("post", "api/tasks/<int:pk>/annotations"): Base({"result": result}),
        ("post", "api/tasks/<int:pk>/drafts"): Base({"result": result}),
        ("post", "api/tasks/<int:pk>/annotations/<int:annotation_pk>/drafts"): Base(
            {"result": result}
        ),
        ("put", "api/drafts/<int:pk>"): Base({"result": result}),
        ("post", "api/annotations/bulk"): Base(
            {"project": project, "tasks": [task], "result": result}
        ),
        ("post", "api/annotations/bulk-delete"): Base(
            {"project": project, "ids": [ids["annotation"]]}
        ),
        ("post", "api/predictions"): Base({"task": task, "result": result}),
        ("get", "api/predictions"): Base(query={"project": project}),
        ("get", "api/dm/views"): Base(query={"project": project}),
        ("post", "api/dm/views"): Base({"project": project, "data": {}}),
        ("put", "api/dm/views/<int:pk>"): Base({"project": project, "data": {}}),
        ("post", "api/dm/views/order"): Base({"project": project, "ids": [ids["view"]]}),
        ("delete", "api/dm/views/reset"): Base(query={"project": project}),
        ("post", "api/dm/actions"): Base(
            {"selectedItems": {"all": False, "included": [task]}},
            query={"id": "delete_tasks", "project": project},
        ),
        ("get", "api/dm/actions"): Base(query={"project": project}),
        ("post", "api/workspaces"): Base({"title": "w"}),
        ("patch", "api/organizations/<int:pk>/memberships/<int:user_pk>"): Base(
            {"role": "reviewer"}
        ),
        ("post", "api/jwt/settings"): Base({}),
        ("post", "api/auth/login"): Base(
            {"email": "admin@a.example", "password": "wrong"}, refused=True
        ),
        ("post", "api/token/refresh"): Base({"refresh": "x"}, refused=True),
        ("post", "api/token/rotate"): Base({"refresh": "x"}, refused=True),
        ("post", "api/token/blacklist"): Base({"refresh": "x"}, refused=True),
    }
    if (method, route) in bases:
        return bases[method, route]
    return Base({} if method == "patch" else None)


# --- What the schema names ---------------------------------------------------------------


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node or len(node.get("allOf", [])) == 1:
        node = node["allOf"][0] if "allOf" in node else node
        if "$ref" in node:
            node = schema["components"]["schemas"][node["$ref"].split("/")[-1]]
    return node


def body_fields(schema: dict[str, Any], route: str, method: str) -> list[tuple[list[str], str]]:
    """(path, type) of each writable field of the JSON body, one level of nesting deep."""
    operation = schema["paths"][schema_path(route)][method]
    content = operation.get("requestBody", {}).get("content", {})
    node = content.get("application/json", {}).get("schema")
    if not node:
        return []
    out: list[tuple[list[str], str]] = []

    def walk(node: dict[str, Any], at: list[str]) -> None:
        node = _resolve(schema, node)
        for name, prop in node.get("properties", {}).items():
            prop = _resolve(schema, prop)
            if prop.get("readOnly"):
                continue
            out.append(([*at, name], prop.get("type", "any")))
            if prop.get("properties") and not at:
                walk(prop, [name])

    walk(node, [])
    return out


def query_names(schema: dict[str, Any], route: str, method: str) -> list[str]:
    operation = schema["paths"][schema_path(route)][method]
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]


# --- The probes ----------------------------------------------------------------------------


@dataclass
class Probe:
    method: str
    path: str
    body: str | None = None  # raw JSON text
    control: bool = False  # the valid request: must be accepted
    reads: tuple[str, ...] = ()  # read back after an accepted write

    def __str__(self) -> str:
        shown = (self.body or "")[:120]
        return f"{self.method.upper()} {self.path[:160]} {shown}"


def _with(base: Any, at: list[str], raw: str) -> str:
    """`base` as JSON text with the field at `at` set to the raw JSON `raw`."""
    marker = "\x01HOSTILE\x01"
    body = json.loads(json.dumps(base)) if isinstance(base, dict) else {}
    target = body
    for name in at[:-1]:
        if not isinstance(target.get(name), dict):
            target[name] = {}
        target = target[name]
    target[at[-1]] = marker
    return json.dumps(body).replace(json.dumps(marker), raw)


def _url(path: str, query: dict[str, Any]) -> str:
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def probes(route: str, method: str, sweep: Sweep) -> Iterator[Probe]:
    """The probes of `route` and `method`; writes are read back through the route's GET."""
    reads: tuple[str, ...] = ()
    if (route, "get") in ROUTES:
        reads = (
            _url(
                fill(route, path_ids(route, "get", sweep)), base_request(route, "get", sweep).query
            ),
        )
    for probe in _probes(route, method, sweep):
        yield dataclasses.replace(probe, reads=reads) if method in WRITES else probe


def _probes(route: str, method: str, sweep: Sweep) -> Iterator[Probe]:
    ids = path_ids(route, method, sweep)
    path = fill(route, ids)
    base = base_request(route, method, sweep)
    body = json.dumps(base.body) if base.body is not None else "{}"
    # The control: the valid request itself, accepted (or refused whole, as it must be).
    yield Probe(method, _url(path, base.query), body, control=not base.refused)
    for name in ids:  # ids past 64 bits, and 0
        for number in (BIG, 2**70, 0):
            yield Probe(method, _url(fill(route, {**ids, name: number}), base.query), body)
    for name in dict.fromkeys([*query_names(sweep.schema, route, method), *base.query]):
        for value in HOSTILE_QUERY:
            yield Probe(method, _url(path, {**base.query, name: value}), body)
    for query in [*ODD_NAMES, *(PAGES if method == "get" else [])]:
        joined = "&" if base.query else "?"
        yield Probe(method, f"{_url(path, base.query)}{joined}{query}", body)
    if method not in WRITES:
        return
    path = _url(path, base.query)
    for raw in BAD_BODIES:
        yield Probe(method, path, raw)
    fields = body_fields(sweep.schema, route, method)
    if isinstance(base.body, dict):  # fields the schema does not name are swept too
        named = {tuple(at) for at, _ in fields}
        fields += [([name], "any") for name in base.body if (name,) not in named]
    for at, kind in fields:
        for raw in WRONG_TYPES:
            yield Probe(method, path, _with(base.body, at, raw))
        if kind in ("string", "any"):
            for text in HOSTILE_TEXT:
                yield Probe(method, path, _with(base.body, at, json.dumps(text)))
        if kind == "array":
            for raw in HOSTILE_ITEMS:
                yield Probe(method, path, _with(base.body, at, raw))
        if kind in ("object", "any"):  # free-form JSON (task data, a result): inside it
            for inner in HOSTILE_INSIDE:
                yield Probe(method, path, _with(base.body, at, inner))
    if isinstance(base.body, list):  # an array body: hostile items, hostile fields of one
        for raw in WRONG_TYPES:
            yield Probe(method, path, f"[{raw}]")
        for name in base.body[0]:
            for raw in [*WRONG_TYPES, *(json.dumps(text) for text in HOSTILE_TEXT)]:
                yield Probe(method, path, "[" + _with(base.body[0], [name], raw) + "]")


# --- What a request may change ---------------------------------------------------------------

# The tables that hold what users made; the audit log is left out (a refusal may be
# recorded), as are login failures (a refused sign-in is counted, on purpose).
TABLES = [
    "accounts.User",
    "accounts.Organization",
    "accounts.Workspace",
    "accounts.Membership",
    "accounts.ApiToken",
    "accounts.PersonalAccessToken",
    "projects.Project",
    "projects.ProjectMember",
    "tasks.Task",
    "tasks.Annotation",
    "tasks.Prediction",
    "tasks.SavedView",
    "dataio.FileUpload",
    "dataio.ProjectImport",
    "dataio.ExportSnapshot",
    "jobs.Job",
]
# Fields a read or a refusal moves on purpose.
VOLATILE = {"last_login", "last_used_at", "last_activity"}


@cache
def _models() -> list[Any]:
    return [apps.get_model(label) for label in TABLES]


def state(sweep: Sweep) -> dict[str, Any]:
    rows = {
        model.__name__: [
            {k: v for k, v in row.items() if k not in VOLATILE}
            for row in model.objects.order_by("pk").values()
        ]
        for model in _models()
    }
    files = sorted(str(p) for root in sweep.roots if root.exists() for p in root.rglob("*"))
    return {"rows": rows, "files": files}


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    assert before is not None
    if before["files"] != after["files"]:
        return f"files {sorted(set(after['files']) ^ set(before['files']))}"
    for name, rows in before["rows"].items():
        if rows != after["rows"][name]:
            return f"{name}: {len(rows)} rows -> {len(after['rows'][name])}"
    return ""


@dataclass
class Answer:
    status: int
    content: bytes  # read to the end, streamed or not


def ask(sweep: Sweep, method: str, path: str, body: str | None = None) -> Answer:
    # Bytes, so an unescaped surrogate goes out as the invalid UTF-8 it encodes to
    # (the stubs say str; the client sends bytes as they are).
    raw = (body or "").encode("utf-8", "surrogatepass")
    response = sweep.client.generic(
        method.upper(),
        path,
        raw,  # type: ignore[arg-type]
        content_type="application/json",
    )
    streamed = response.streaming
    content = b"".join(response.streaming_content) if streamed else response.content
    return Answer(response.status_code, content)


def send(sweep: Sweep, probe: Probe) -> str:
    """What is wrong with the answer to `probe` ("" when nothing is)."""
    write = probe.method in WRITES
    with transaction.atomic():
        try:
            before = state(sweep) if write else None
            answer = ask(sweep, probe.method, probe.path, probe.body)
            problem = judge(answer)
            if probe.control and answer.status >= 400:
                problem = f"the valid request was refused: {answer.status}"
            elif not problem and write and answer.status >= 400:
                changed = changes(before, state(sweep))
                problem = f"refused ({answer.status}) but changed {changed}" if changed else ""
            elif not problem and write:  # what was stored can be read back and exported
                for path in (*probe.reads, export_path(sweep)):
                    problem = problem or judge(ask(sweep, "get", path), f"then GET {path}: ")
        except Exception as exc:  # raised by the view: the server would answer 500
            problem = f"500 {type(exc).__name__}: {str(exc)[:200]}"
        finally:
            anchors.forget()
            transaction.set_rollback(True)
    return problem


def export_path(sweep: Sweep) -> str:
    return f"/api/projects/{sweep.ids['project']}/export?download_all_tasks=true"


def judge(answer: Answer, prefix: str = "") -> str:
    if answer.status >= 500:
        return f"{prefix}{answer.status} {answer.content[:200]!r}"
    if answer.status < 400:
        return ""
    try:
        body = json.loads(answer.content)
    except ValueError:
        return f"{prefix}{answer.status} not JSON: {answer.content[:120]!r}"
    if not isinstance(body, dict) or "detail" not in body:
        return f"{prefix}{answer.status} without detail: {str(body)[:120]}"
    return ""


# --- The tests -------------------------------------------------------------------------------


@pytest.mark.parametrize(("route", "method"), ROUTES, ids=[f"{m} {r}" for r, m in ROUTES])
def test_hostile_input(sweep: Sweep, route: str, method: str) -> None:
    failures = []
    for probe in probes(route, method, sweep):
        problem = send(sweep, probe)
        if problem:
            failures.append(f"{probe}\n    -> {problem}")
    assert not failures, f"{len(failures)} bad answers:\n" + "\n".join(failures[:40])


def test_methods_and_paths_no_route_takes(sweep: Sweep) -> None:
    # The rest of the method table (405) and paths that match no route (404): JSON too.
    allowed: dict[str, set[str]] = {}
    for route, method in ROUTES:
        allowed.setdefault(route, set()).add(method)
    sent = [
        Probe(method, fill(route, path_ids(route, "get", sweep)), "{")
        for route, methods in allowed.items()
        for method in METHODS
        if method not in methods
    ]
    sent += [Probe("get", "/api/no-such-thing"), Probe("patch", "/api/tasks/abc", "{}")]
    sent += [Probe("get", f"/api/tasks/{sweep.ids['task']}/{'x' * 5000}")]
    failures = [f"{probe} -> {problem}" for probe in sent if (problem := send(sweep, probe))]
    assert not failures
    assert len(sent) > 100


def test_every_swept_route_is_in_the_schema(sweep: Sweep) -> None:
    # Fields and parameters come from the schema: a route it lacks would be swept blind.
    missing = [
        (route, method)
        for route, method in ROUTES
        if method not in sweep.schema["paths"].get(schema_path(route), {})
    ]
    assert not missing
    assert len(ROUTES) > 80  # every method of every API route, not a few


@pytest.mark.parametrize("query", ["?format=xml", "?format=a%00b", "?format=%ED%A0%80"])
def test_schema_errors_are_json(sweep: Sweep, anon: HttpsClient, query: str) -> None:
    # Found by the sweep: drf-spectacular answered these in YAML, its first renderer.
    refused = sweep.client.get(f"/api/schema{query}")
    assert refused.status_code == 404
    assert refused["Content-Type"] == "application/json"
    assert refused.json()["detail"]
    assert anon.get("/api/schema").json()["status_code"] == 401
    assert sweep.client.get("/api/schema")["Content-Type"].startswith("application/vnd.oai")


@pytest.mark.parametrize("project", ["project", BIG, 0])
@pytest.mark.parametrize(
    "name",
    ["..", "%2E%2E", "a%00b", "%ED%A0%80", "x" * 5000, quote("</script>"), "javascript:x"],
)
def test_uploaded_file_names(sweep: Sweep, project: str | int, name: str) -> None:
    # Files, not JSON: only the status is judged.
    pk = sweep.ids[project] if isinstance(project, str) else project
    response = sweep.client.get(f"/data/upload/{pk}/{name}")
    assert response.status_code in (400, 404)

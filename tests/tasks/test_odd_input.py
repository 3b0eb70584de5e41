"""Odd and hostile input on every project, task, annotation and prediction route: a 4xx
with a JSON body, never a 500 (which the SDK would also replay), and nothing stored."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from labelkeep.projects.models import Project
from labelkeep.tasks import services as tasks
from labelkeep.tasks.models import Annotation, Prediction, Task
from tests.conftest import TEST_ORIGIN, HttpsClient, World
from tests.tasks.conftest import choice

BEYOND = [2**63, 2**64]  # ids no database column can hold

ROUTES = [
    ("get", "/api/projects/"),
    ("post", "/api/projects/"),
    ("get", "/api/projects/{project}/"),
    ("patch", "/api/projects/{project}/"),
    ("delete", "/api/projects/{project}/"),
    ("post", "/api/projects/{project}/validate/"),
    ("get", "/api/projects/{project}/members"),
    ("post", "/api/projects/{project}/members"),
    ("delete", "/api/projects/{project}/members"),
    ("get", "/api/projects/{project}/tasks/"),
    ("delete", "/api/projects/{project}/tasks/"),
    ("get", "/api/projects/{project}/next"),
    ("post", "/api/projects/{project}/import/predictions"),
    ("get", "/api/tasks/?project={project}"),
    ("post", "/api/tasks/"),
    ("get", "/api/tasks/{task}/"),
    ("patch", "/api/tasks/{task}/"),
    ("delete", "/api/tasks/{task}/"),
    ("get", "/api/tasks/{task}/annotations/"),
    ("post", "/api/tasks/{task}/annotations/"),
    ("get", "/api/annotations/{annotation}/"),
    ("patch", "/api/annotations/{annotation}/"),
    ("delete", "/api/annotations/{annotation}/"),
    ("post", "/api/annotations/bulk/"),
    ("post", "/api/annotations/bulk-delete/"),
    ("get", "/api/predictions/"),
    ("post", "/api/predictions/"),
    ("get", "/api/predictions/{prediction}/"),
    ("patch", "/api/predictions/{prediction}/"),
    ("delete", "/api/predictions/{prediction}/"),
    ("post", "/api/dm/actions?id=delete_tasks&project={project}"),
]
WRITES = [(m, r) for m, r in ROUTES if m in ("post", "patch")]

# Every field name these routes read, so each hostile value reaches each field.
FIELDS = [
    "title",
    "description",
    "label_config",
    "expert_instruction",
    "show_instruction",
    "show_skip_button",
    "maximum_annotations",
    "sampling",
    "color",
    "workspace",
    "model_version",
    "data",
    "meta",
    "project",
    "overlap",
    "result",
    "was_cancelled",
    "ground_truth",
    "lead_time",
    "completed_by",
    "task",
    "score",
    "tasks",
    "selected_items",
    "selectedItems",
    "ids",
    "users",
    "user",
    "all",
    "included",
    "excluded",
]
VALUES: list[Any] = [
    None,
    "x",
    [],
    {},
    [None],
    True,
    -1,
    *BEYOND,
    [2**64],
    "nan",
    "inf",
    "</script><script>alert(1)</script>",
    "../../etc/passwd",
    "javascript:alert(1)",
    {"all": True, "excluded": [2**64]},
    {"all": False, "included": [2**64]},
]
# Bodies that are not what any route expects, written as raw bytes.
RAW_BODIES = [
    b"{",
    b"",
    b"[]",
    b"null",
    b"7",
    b'"text"',
    b"[null]",
    b"[[]]",
    b"\xff\xfe",
    b"[" * 50_000,
]
# Literals Python's JSON reader accepts but no database or JSON answer can carry.
UNSTORABLE = [
    *(b"1e400", b"-1e400", b'"\\ud800"', b'"a\\u0000b"', b'{"\\udfff": 1}', b'["\\u0000"]'),
    # Deeper than the API takes (100 levels), where Python's JSON code runs out of stack.
    b"[" * 400 + b'"\\u0000"' + b"]" * 400,
    b'{"a": ' * 900 + b"1" + b"}" * 900,
]


@pytest.fixture
def ids(project: Project, task_ids: list[int], world: World) -> dict[str, int]:
    first, second = Task.objects.filter(pk__in=task_ids[:2]).order_by("pk")
    annotation = tasks.create_annotation(
        first,
        {"result": choice("Positive")},
        actor=world.member.user,
        completed_by=world.member.user,
        origin=TEST_ORIGIN,
    )
    (prediction,) = tasks.create_predictions(
        project,
        [(second, {"result": choice("Negative")})],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    return {
        "project": project.pk,
        "task": first.pk,
        "annotation": annotation.pk,
        "prediction": prediction.pk,
    }


def send(client: HttpsClient, method: str, url: str, body: bytes | None = None) -> Any:
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, data=body, content_type="application/json")


def assert_refused(response: Any, *codes: int) -> None:
    """A client error from the allowed set, with the API's JSON error body."""
    assert response.status_code in codes, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json"
    assert response.json()["status_code"] == response.status_code


def stored(project: Project) -> tuple[int, int, int]:
    return (
        Task.objects.filter(project=project).count(),
        Annotation.objects.filter(project=project).count(),
        Prediction.objects.filter(project=project).count(),
    )


@pytest.mark.parametrize(("method", "route"), [r for r in ROUTES if "{" in r[1].split("?")[0]])
@pytest.mark.parametrize("beyond", BEYOND)
def test_ids_beyond_64_bits_in_the_path_are_404(
    world: World, ids: dict[str, int], method: str, route: str, beyond: int
) -> None:
    path, _, query = route.partition("?")
    url = path.format(**dict.fromkeys(ids, beyond)) + ("?" + query.format(**ids) if query else "")
    body = None if method in ("get", "delete") else b"{}"
    assert_refused(send(world.admin.client, method, url, body), 404)


@pytest.mark.parametrize(
    "url",
    [
        "/api/tasks/?project={beyond}",
        "/api/projects/{project}/tasks/?selectedItems={selected}",
        "/api/dm/actions?id=delete_tasks&project={beyond}",
    ],
)
def test_ids_beyond_64_bits_in_queries_are_refused(
    world: World, ids: dict[str, int], url: str
) -> None:
    selected = json.dumps({"all": False, "included": [2**64]})
    method = "post" if "actions" in url else "get"
    full = url.format(beyond=2**64, selected=selected, **ids)
    assert_refused(
        send(world.admin.client, method, full, b"{}" if method == "post" else None), 400, 404
    )


@pytest.mark.parametrize("param", ["ids", "workspaces"])
def test_project_list_id_filters_beyond_64_bits_are_400(
    world: World, ids: dict[str, int], param: str
) -> None:
    assert_refused(world.admin.client.get(f"/api/projects/?{param}=1,{2**64}"), 400)


# str.isdigit() yet not int(): "²"; and digits past what int() reads (4,300).
@pytest.mark.parametrize("digit", ["\u00b2", "1\u00b2", "1" * 5000], ids=["sup2", "1sup2", "long"])
def test_unicode_digits_are_not_ids(world: World, ids: dict[str, int], digit: str) -> None:
    assert_refused(world.admin.client.get("/api/tasks/", {"project": digit}), 400)
    assert_refused(world.admin.client.get("/api/predictions/", {"task": digit}), 400)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/projects/{project}/members", {"users": [2**64]}),
        ("/api/projects/{project}/members", {"user": 2**63}),
        ("/api/annotations/bulk/", {"project": 2**63, "result": []}),
        ("/api/annotations/bulk/", {"tasks": [2**64], "result": []}),
        ("/api/annotations/bulk-delete/", {"ids": [2**64]}),
        ("/api/predictions/", {"task": 2**63, "result": []}),
        ("/api/projects/{project}/import/predictions", [{"task": 2**64, "result": []}]),
        (
            "/api/dm/actions?id=delete_tasks&project={project}",
            {"selectedItems": {"included": [2**64]}},
        ),
        ("/api/tasks/{task}/annotations/", {"result": [], "completed_by": 2**64}),
    ],
)
def test_ids_beyond_64_bits_in_bodies_are_400(
    world: World, project: Project, ids: dict[str, int], url: str, body: Any
) -> None:
    before = stored(project)
    response = send(world.admin.client, "post", url.format(**ids), json.dumps(body).encode())
    assert_refused(response, 400)
    assert stored(project) == before


@pytest.mark.parametrize(
    ("method", "route", "field", "value"),
    [
        ("post", "/api/tasks/{task}/annotations/", "lead_time", "nan"),
        ("post", "/api/tasks/{task}/annotations/", "lead_time", "Infinity"),
        ("patch", "/api/annotations/{annotation}/", "lead_time", "inf"),
        ("post", "/api/predictions/", "score", "nan"),
        ("patch", "/api/predictions/{prediction}/", "score", "-inf"),
        # float() reads true as 1 and false as 0; a number field takes neither.
        ("post", "/api/tasks/{task}/annotations/", "lead_time", True),
        ("post", "/api/predictions/", "score", False),
        ("patch", "/api/predictions/{prediction}/", "score", True),
    ],
)
def test_numbers_spelled_as_infinity_or_nan_are_400(
    world: World,
    project: Project,
    ids: dict[str, int],
    method: str,
    route: str,
    field: str,
    value: str | bool,
) -> None:
    body = {field: value, "task": ids["task"], "result": choice("Neutral")}
    response = send(world.admin.client, method, route.format(**ids), json.dumps(body).encode())
    assert_refused(response, 400)
    assert field in response.json()["validation_errors"]
    assert world.admin.client.get(f"/api/tasks/{ids['task']}/").status_code == 200


# A region the labeling config accepts, carrying one more key (regions may).
REGION = (
    '{"from_name": "sentiment", "to_name": "text", "type": "choices", '
    '"value": {"choices": ["Positive"]}, "x": %(value)s}'
)
# Where each value lands: a JSON object or list stored as given.
STORED_JSON = [
    ("post", "/api/tasks/", b'{"project": %(project)d, "data": {"text": "t", "x": %(value)s}}'),
    ("patch", "/api/tasks/{task}/", b'{"data": {"text": "t", "x": %(value)s}}'),
    ("patch", "/api/tasks/{task}/", b'{"meta": {"x": [%(value)s]}}'),
    ("post", "/api/tasks/{task}/annotations/", b'{"result": [], "lead_time": %(value)s}'),
    ("post", "/api/tasks/{task}/annotations/", b'{"result": [%(region)s]}'),
    ("patch", "/api/annotations/{annotation}/", b'{"result": [%(region)s]}'),
    ("post", "/api/predictions/", b'{"task": %(task)d, "result": [], "score": %(value)s}'),
    ("post", "/api/predictions/", b'{"task": %(task)d, "result": [%(region)s]}'),
    ("patch", "/api/predictions/{prediction}/", b'{"result": [], "score": %(value)s}'),
    (
        "post",
        "/api/projects/{project}/import/predictions",
        b'[{"task": %(task)d, "result": [%(region)s]}]',
    ),
    ("post", "/api/annotations/bulk/", b'{"tasks": [%(task)d], "result": [%(region)s]}'),
]


# Number fields take only the numbers: strings there are covered above.
CASES = [
    pytest.param(*where, value, id=f"{where[1]}:{where[2].decode()[:40]}:{value.decode()[:24]}")
    for where in STORED_JSON
    for value in UNSTORABLE
    if value[-1:].isdigit() or not (b"lead_time" in where[2] or b"score" in where[2])
]


@pytest.mark.parametrize(("method", "route", "template", "value"), CASES)
def test_values_no_database_can_store_are_400_and_change_nothing(
    world: World,
    project: Project,
    ids: dict[str, int],
    method: str,
    route: str,
    template: bytes,
    value: bytes,
) -> None:
    before = stored(project)
    task_before = world.admin.client.get(f"/api/tasks/{ids['task']}/").json()
    region = REGION % {"value": value.decode()}
    body = template.decode() % {**ids, "value": value.decode(), "region": region}
    response = send(world.admin.client, method, route.format(**ids), body.encode())
    assert_refused(response, 400)
    assert stored(project) == before
    after = world.admin.client.get(f"/api/tasks/{ids['task']}/")
    assert after.status_code == 200
    assert after.json() == task_before


def test_error_messages_never_echo_a_lone_surrogate(world: World, ids: dict[str, int]) -> None:
    for method, url in (("post", "/api/projects/"), ("patch", "/api/projects/{project}/")):
        body = b'{"title": "T", "sampling": "\\ud800"}'
        response = send(world.admin.client, method, url.format(**ids), body)
        assert_refused(response, 400)
        assert "sampling" in response.json()["validation_errors"]


@pytest.mark.parametrize("body", [b"[]", b"null", b"7", b'"text"', b'[{"all": true}]'])
def test_data_manager_action_body_must_be_an_object(
    world: World, project: Project, ids: dict[str, int], body: bytes
) -> None:
    url = f"/api/dm/actions?id=delete_tasks&project={project.pk}"
    assert_refused(send(world.admin.client, "post", url, body), 400)
    assert stored(project)[0] == 5


@pytest.mark.parametrize("actor", ["admin", "member"])
def test_no_route_answers_500_to_odd_input(
    world: World, project: Project, ids: dict[str, int], actor: str
) -> None:
    """A sweep: malformed bodies, and every field set to every odd value, on every write.
    Whatever is refused is refused with a JSON error; whatever is accepted stays readable."""
    client = getattr(world, actor).client
    for method, route in WRITES:
        url = route.format(**ids)
        bodies = [*RAW_BODIES]
        for value in VALUES:
            bodies.append(json.dumps(dict.fromkeys(FIELDS, value)).encode())
            bodies.append(json.dumps([dict.fromkeys(FIELDS, value)]).encode())
        for name in FIELDS:
            bodies += [json.dumps({name: value}).encode() for value in VALUES]
            bodies += [b'{"%s": %s}' % (name.encode(), literal) for literal in UNSTORABLE]
        for body in bodies:
            response = send(client, method, url, body)
            assert response.status_code < 500, (method, url, body[:200], response.content[:300])
            if response.status_code >= 400:
                assert_refused(response, response.status_code)
    for method, route in ROUTES:
        if method == "get":
            response = send(client, method, route.format(**ids))
            assert response.status_code in (200, 404), (route, response.content[:300])


# Text PostgreSQL cannot compare (NUL is kept neither in text nor in jsonb) or no encoding
# holds (a lone surrogate), as a `data.<key>` filter value: on every route that filters.
UNCOMPARABLE = ["\u0000", "a\u0000b", "\ud800", "x\udfff"]
TEXT_FILTERS: list[tuple[str, str, Any]] = [
    ("equal", "String", lambda v: v),
    ("not_equal", "String", lambda v: v),
    ("equal", "Unknown", lambda v: v),
    ("equal", "Number", lambda v: v),  # a string where a number is expected is compared too
    ("in", "String", lambda v: ["ok", v]),
    ("in_list", "String", lambda v: [v]),
    ("not_in", "Number", lambda v: [1, v]),
    ("not_in_list", "String", lambda v: [v]),
    ("contains", "String", lambda v: v),
    ("not_contains", "String", lambda v: v),
    ("starts_with", "String", lambda v: v),
    ("not_starts_with", "Unknown", lambda v: v),
    ("ends_with", "String", lambda v: v),
    ("not_ends_with", "String", lambda v: v),
]


def _filtering(operator: str, kind: str, value: Any, *, child: bool = False) -> dict[str, Any]:
    condition = {
        "filter": "filter:tasks:data.text",
        "operator": operator,
        "type": kind,
        "value": value,
    }
    if child:  # the same value in a child filter is refused as well
        condition = {
            "filter": "filter:tasks:id",
            "operator": "greater",
            "type": "Number",
            "value": 0,
            "child_filters": [condition],
        }
    return {"conjunction": "or", "items": [condition]}


@pytest.mark.parametrize("text", UNCOMPARABLE, ids=["nul", "inner-nul", "surrogate", "low"])
@pytest.mark.parametrize(
    ("operator", "kind", "shape"), [pytest.param(*f, id=f"{f[0]}-{f[1]}") for f in TEXT_FILTERS]
)
def test_filter_text_no_database_can_compare_is_400_naming_the_filter(
    world: World,
    project: Project,
    ids: dict[str, int],
    operator: str,
    kind: str,
    shape: Any,
    text: str,
) -> None:
    """Each route that reads the task list's filters: a 400 naming the filter, and the
    data manager's delete deletes nothing."""
    before = stored(project)
    for child in (False, True):
        filtering = _filtering(operator, kind, shape(text), child=child)
        query = json.dumps({"filters": filtering})  # ASCII: `\u0000`, `\ud800` as escapes
        for url in (
            f"/api/tasks/?{urlencode({'project': project.pk, 'query': query})}",
            f"/api/projects/{project.pk}/tasks/?{urlencode({'query': query})}",
        ):
            response = world.admin.client.get(url)
            assert_refused(response, 400)
            assert "filter:tasks:data.text" in json.dumps(response.json()), response.json()
        body = {"selectedItems": {"all": True, "excluded": []}, "filters": filtering}
        url = f"/api/dm/actions?id=delete_tasks&project={project.pk}"
        response = send(world.admin.client, "post", url, json.dumps(body).encode())
        assert_refused(response, 400)
        assert "filter:tasks:data.text" in json.dumps(response.json()), response.json()
    assert stored(project) == before

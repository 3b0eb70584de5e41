"""The task list's filters, ordering, refusals and query counts (labelkeep/tasks/listing.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from label_studio_sdk import data_manager
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from labelkeep.projects.models import Project
from labelkeep.tasks import anchors, drafts, services
from labelkeep.tasks.listing import task_page
from labelkeep.tasks.models import Task
from tests.conftest import TEST_ORIGIN, Actor, World
from tests.tasks.conftest import choice
from tests.tasks.test_delete_at_scale import stock_sqlite_limit

__all__ = ["stock_sqlite_limit"]  # a fixture: SQLite's stock limit of bound variables

DATA: list[dict[str, Any]] = [
    {
        "text": "Good film",
        "group": "a",
        "n": 1,
        "ok": True,
        "info": {"lang": "en"},
        "contains": "k1",
    },
    {"text": "Bad film", "group": "b", "n": 2, "ok": False, "info": {"lang": "fr"}},
    {"text": "good book", "group": "a", "n": 3, "info": {"lang": "en"}},
    {"text": "", "group": "c", "n": 10},
    {"text": "plain 100%", "group": None},
    {"group": "b"},
]
# The client's own filter helpers (untyped in the SDK).
SDK: Any = data_manager
CREATED = [dt.datetime(2024, 1, d, 12, tzinfo=dt.UTC) for d in (1, 2, 3, 4, 5, 6)]


@pytest.fixture
def shelf(world: World, project: Project) -> list[int]:
    """Six tasks: annotated by the member (0, 2), the admin (1, 2), skipped (3), predicted (4)."""
    ids = services.create_tasks(
        project,
        [services.NewTask(data=d) for d in DATA],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    ).task_ids
    tasks = {t.pk: t for t in Task.objects.filter(pk__in=ids)}
    for index, author, cancelled in (
        (0, world.member, False),
        (1, world.admin, False),
        (2, world.member, False),
        (2, world.admin, False),
        (3, world.member, True),
    ):
        services.create_annotation(
            tasks[ids[index]],
            {"result": [] if cancelled else choice("Positive"), "was_cancelled": cancelled},
            actor=author.user,
            completed_by=author.user,
            origin=TEST_ORIGIN,
        )
    services.create_predictions(
        project,
        [(tasks[ids[4]], {"result": choice("Negative"), "score": 0.5})],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    for pk, when in zip(ids, CREATED, strict=True):
        Task.objects.filter(pk=pk).update(created_at=when, updated_at=when + dt.timedelta(days=30))
    return ids


def listing(actor: Actor, project: Project, **params: Any) -> Any:
    response = actor.client.get(f"/api/tasks/?{urlencode({'project': project.pk, **params})}")
    assert response.status_code == 200, response.content
    return response.json()


def dm(*items: dict[str, Any], conjunction: str = "and", **rest: Any) -> str:
    return json.dumps({"filters": {"conjunction": conjunction, "items": list(items)}, **rest})


def item(name: str, operator: str, kind: str, value: Any) -> dict[str, Any]:
    return {"filter": f"filter:tasks:{name}", "operator": operator, "type": kind, "value": value}


def found(world: World, project: Project, shelf: list[int], query: str) -> list[int]:
    """Which of the shelf's tasks (by position) a query returns, checking `total` too."""
    body = listing(world.admin, project, query=query)
    positions = [shelf.index(t["id"]) for t in body["tasks"]]
    assert body["total"] == len(positions)
    return positions


# --- filters ----------------------------------------------------------------------------


def test_only_annotated_and_is_labeled_parameters(world: World, project, shelf) -> None:
    annotated = listing(world.admin, project, only_annotated="true")
    assert [shelf.index(t["id"]) for t in annotated["tasks"]] == [0, 1, 2]
    assert annotated["total"] == 3
    assert listing(world.admin, project, only_annotated="false")["total"] == 6
    open_ = listing(world.admin, project, is_labeled="False")
    assert [shelf.index(t["id"]) for t in open_["tasks"]] == [3, 4, 5]


@pytest.mark.parametrize(
    ("name", "operator", "value", "expected"),
    [
        ("total_annotations", "greater", 0, [0, 1, 2]),
        ("total_annotations", "equal", 2, [2]),
        ("total_annotations", "not_equal", 1, [2, 3, 4, 5]),
        ("total_annotations", "less_or_equal", 0, [3, 4, 5]),
        ("total_annotations", "greater_or_equal", 2, [2]),
        ("total_annotations", "less", 1, [3, 4, 5]),
        ("total_annotations", "in", {"min": 1, "max": 1}, [0, 1]),
        ("total_annotations", "not_in", {"min": 1, "max": 1}, [2, 3, 4, 5]),
        ("cancelled_annotations", "greater_or_equal", 1, [3]),
        ("total_predictions", "equal", 1, [4]),
        ("total_predictions", "equal", 1.0, [4]),
    ],
)
def test_counter_filters(world: World, project, shelf, name, operator, value, expected) -> None:
    assert found(world, project, shelf, dm(item(name, operator, "Number", value))) == expected


ALL = [0, 1, 2, 3, 4, 5]
MAX_ID = 2**63 - 1


# Numbers outside a column's range (the counters are 32-bit on PostgreSQL, 64-bit on
# SQLite, and never negative; neither is inner_id): Django finds before asking the
# database that such a comparison matches every task or none, and so must the list.
@pytest.mark.parametrize(
    ("name", "operator", "value", "expected"),
    [
        ("total_annotations", "equal", 2**31, []),
        ("total_annotations", "greater", 2**31, []),
        ("total_annotations", "greater_or_equal", 2**31, []),
        ("total_annotations", "less", 2**31, ALL),
        ("total_annotations", "less_or_equal", MAX_ID, ALL),
        ("total_annotations", "not_equal", 2**31, ALL),
        ("cancelled_annotations", "in", {"min": 2**31, "max": 2**40}, []),
        ("cancelled_annotations", "not_in", {"min": 2**31, "max": 2**40}, ALL),
        ("total_predictions", "in", {"min": -5, "max": 2**31}, ALL),
        ("total_predictions", "not_in", {"min": -5, "max": 2**31}, []),
        ("total_annotations", "equal", -1, []),
        ("total_annotations", "not_equal", -1, ALL),
        ("total_annotations", "less", -1, []),
        ("total_annotations", "less_or_equal", -1, []),
        ("total_annotations", "greater", -1, ALL),
        ("cancelled_annotations", "in", {"min": -10, "max": -1}, []),
        ("total_predictions", "equal", -(2**40), []),
        ("inner_id", "equal", -1, []),
        ("inner_id", "less", -1, []),
        ("inner_id", "less_or_equal", -MAX_ID, []),
        ("inner_id", "in", {"min": -5, "max": -1}, []),
        ("inner_id", "not_in", {"min": -5, "max": -1}, ALL),
        ("inner_id", "greater", -1, ALL),
        ("inner_id", "in_list", [-1, MAX_ID], []),
        ("id", "less", -MAX_ID, []),
        ("id", "greater", MAX_ID, []),
        ("id", "not_in_list", [-MAX_ID, MAX_ID], ALL),
        ("annotators", "contains", MAX_ID, []),
    ],
)
def test_numbers_beyond_a_columns_range(
    world: World, project, shelf, name, operator, value, expected
) -> None:
    kind = "List" if name == "annotators" else "Number"
    assert found(world, project, shelf, dm(item(name, operator, kind, value))) == expected
    # Deep pages start from remembered positions, known by the filter's SQL.
    deep = listing(world.admin, project, query=dm(item(name, operator, kind, value)), page=101)
    assert deep["tasks"] == []
    assert deep["total"] == len(expected)


def test_numbers_beyond_a_columns_range_in_combined_filters(world: World, project, shelf) -> None:
    nothing = item("total_annotations", "equal", "Number", -1)
    two = item("total_annotations", "equal", "Number", 2)
    assert found(world, project, shelf, dm(nothing, two, conjunction="or")) == [2]
    assert found(world, project, shelf, dm(nothing, two)) == []
    assert found(world, project, shelf, dm({**two, "child_filters": [nothing]})) == []
    beyond = item("total_annotations", "greater_or_equal", "Number", 2**31)
    assert found(world, project, shelf, dm(beyond, two, conjunction="or")) == [2]


def test_is_labeled_filter(world: World, project, shelf) -> None:
    labeled = item("is_labeled", "equal", "Boolean", True)
    assert found(world, project, shelf, dm(labeled)) == [0, 1, 2]
    assert found(world, project, shelf, dm({**labeled, "operator": "not_equal"})) == [3, 4, 5]


def test_id_filters(world: World, project, shelf) -> None:
    assert found(world, project, shelf, dm(item("id", "greater", "Number", shelf[3]))) == [4, 5]
    listed = item("id", "in_list", "Number", [shelf[1], shelf[4], 10**12])
    assert found(world, project, shelf, dm(listed)) == [1, 4]
    unlisted = {**listed, "operator": "not_in_list"}
    assert found(world, project, shelf, dm(unlisted)) == [0, 2, 3, 5]
    between = item("id", "in", "Number", {"min": shelf[1], "max": shelf[2]})
    assert found(world, project, shelf, dm(between)) == [1, 2]


@pytest.mark.parametrize(
    ("column", "operator", "value", "expected"),
    [
        ("created_at", "greater", "2024-01-03T12:00:00.000000Z", [3, 4, 5]),
        ("created_at", "less_or_equal", "2024-01-02T12:00:00Z", [0, 1]),
        ("created_at", "in", {"min": "2024-01-02", "max": "2024-01-04"}, [1, 2]),
        ("created_at", "not_in", {"min": "2024-01-02", "max": "2024-01-04"}, [0, 3, 4, 5]),
        ("created_at", "greater_or_equal", "2024-01-05T13:00:00+01:00", [4, 5]),
        ("updated_at", "greater", "2024-02-03T12:00:00", [4, 5]),
        ("updated_at", "less", "2024-01-31", []),
    ],
)
def test_date_filters(world: World, project, shelf, column, operator, value, expected) -> None:
    assert found(world, project, shelf, dm(item(column, operator, "Datetime", value))) == expected


def test_annotator_filters_without_repeated_rows(world: World, project, shelf) -> None:
    member, admin = world.member.user.pk, world.admin.user.pk
    by_member = item("annotators", "contains", "List", member)
    assert found(world, project, shelf, dm(by_member)) == [0, 2, 3]
    both = item("annotators", "contains", "List", [member, admin])
    assert found(world, project, shelf, dm(both)) == [0, 1, 2, 3]  # task 2 once
    assert found(world, project, shelf, dm({**both, "operator": "in_list"})) == [0, 1, 2, 3]
    not_member = {**by_member, "operator": "not_contains"}
    assert found(world, project, shelf, dm(not_member)) == [1, 4, 5]
    assert found(world, project, shelf, dm(item("annotators", "empty", "List", True))) == [4, 5]
    assert found(world, project, shelf, dm(item("annotators", "empty", "List", False))) == [
        0,
        1,
        2,
        3,
    ]


@pytest.mark.parametrize(
    ("key", "operator", "kind", "value", "expected"),
    [
        ("group", "equal", "String", "a", [0, 2]),
        ("group", "not_equal", "String", "a", [1, 3, 4, 5]),
        ("text", "contains", "String", "FILM", [0, 1]),
        ("text", "contains", "Unknown", "good", [0, 2]),
        ("text", "not_contains", "String", "film", [2, 3, 4, 5]),
        ("text", "contains", "String", "%", [4]),  # a literal %, not a wildcard
        ("text", "contains", "String", "_", []),
        ("text", "starts_with", "String", "good", [0, 2]),
        ("text", "ends_with", "String", "film", [0, 1]),
        ("group", "in_list", "String", ["a", "c"], [0, 2, 3]),
        ("group", "in", "String", ["a", "c"], [0, 2, 3]),
        ("group", "not_in", "String", ["a", "c"], [1, 4, 5]),
        ("n", "equal", "Number", 2, [1]),
        ("n", "in_list", "Number", [1, 10], [0, 3]),
        ("ok", "equal", "Boolean", False, [1]),
        ("ok", "not_equal", "Boolean", True, [1, 2, 3, 4, 5]),
        ("info.lang", "equal", "String", "en", [0, 2]),
        ("text", "empty", "String", True, [3, 5]),
        ("text", "empty", "String", False, [0, 1, 2, 4]),
        ("group", "empty", "String", True, [4]),
        ("contains", "equal", "String", "k1", [0]),  # a key named like a lookup is a key
    ],
)
def test_data_filters(world: World, project, shelf, key, operator, kind, value, expected) -> None:
    query = dm(item(f"data.{key}", operator, kind, value))
    assert found(world, project, shelf, query) == expected


def test_conjunctions_and_child_filters(world: World, project, shelf) -> None:
    group_a = item("data.group", "equal", "String", "a")
    predicted = item("total_predictions", "equal", "Number", 1)
    assert found(world, project, shelf, dm(group_a, predicted, conjunction="or")) == [0, 2, 4]
    assert found(world, project, shelf, dm(group_a, predicted)) == []
    by_admin = item("annotators", "contains", "List", world.admin.user.pk)
    assert found(world, project, shelf, dm({**group_a, "child_filters": [by_admin]})) == [2]
    assert found(world, project, shelf, dm({**group_a, "child_filter": by_admin})) == [2]
    assert found(world, project, shelf, dm({**group_a, "child_filters": None})) == [0, 2]


def test_the_sdks_own_filter_helpers(world: World, project, shelf) -> None:
    filters = SDK.Filters.create(
        SDK.Filters.AND,
        [
            SDK.Filters.item(
                SDK.Column.total_annotations,
                SDK.Operator.GREATER,
                SDK.Type.Number,
                SDK.Filters.value(0),
            ),
            SDK.Filters.item(
                SDK.Column.created_at,
                SDK.Operator.IN,
                SDK.Type.Datetime,
                SDK.Filters.value(
                    dt.datetime(2024, 1, 2, tzinfo=dt.UTC), dt.datetime(2024, 1, 31, tzinfo=dt.UTC)
                ),
            ),
            SDK.Filters.item(
                SDK.Column.data("text"), SDK.Operator.CONTAINS, SDK.Type.String, "film"
            ),
        ],
    )
    query = json.dumps(
        {
            "filters": filters,
            "ordering": ["-tasks:id"],
            "selectedItems": {"all": True, "excluded": []},
        }
    )
    assert found(world, project, shelf, query) == [1]


def test_selected_items(world: World, project, shelf) -> None:
    chosen = json.dumps({"selectedItems": {"all": False, "included": [shelf[3], shelf[1]]}})
    assert found(world, project, shelf, chosen) == [1, 3]
    rest = json.dumps({"selectedItems": {"all": True, "excluded": [shelf[0]]}})
    assert found(world, project, shelf, rest) == [1, 2, 3, 4, 5]
    param = {"selectedItems": json.dumps({"all": False, "included": [shelf[2]]})}
    assert [t["id"] for t in listing(world.admin, project, **param)["tasks"]] == [shelf[2]]


def test_legacy_sdk_query_without_filters_is_unfiltered(world: World, project, shelf) -> None:
    project.refresh_from_db()
    query = json.dumps(
        {"filters": None, "ordering": [], "selectedItems": {"all": True, "excluded": []}}
    )
    body = listing(world.admin, project, query=query)
    assert [t["id"] for t in body["tasks"]] == shelf
    assert (body["total"], body["total_annotations"], body["total_predictions"]) == (
        project.task_number,
        project.total_annotations_number,
        project.total_predictions_number,
    )


def test_total_counts_filtered_tasks(world: World, project, shelf) -> None:
    project.refresh_from_db()
    body = listing(world.admin, project, query=dm(item("data.group", "equal", "String", "b")))
    assert body["total"] == 2
    assert body["total_annotations"] == project.total_annotations_number == 4
    assert listing(world.admin, project)["total"] == 6


# --- ordering and pages -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        (["-tasks:total_annotations"], [2, 1, 0, 5, 4, 3]),
        (["tasks:total_annotations"], [3, 4, 5, 0, 1, 2]),
        (["-tasks:created_at"], [5, 4, 3, 2, 1, 0]),
        (["tasks:updated_at"], [0, 1, 2, 3, 4, 5]),
        (["-tasks:cancelled_annotations"], [3, 5, 4, 2, 1, 0]),
        (["tasks:total_predictions"], [0, 1, 2, 3, 5, 4]),
        (["tasks:is_labeled"], [3, 4, 5, 0, 1, 2]),
        (["-tasks:id"], [5, 4, 3, 2, 1, 0]),
        (["id"], [0, 1, 2, 3, 4, 5]),
        (["tasks:data.n"], [0, 1, 2, 3, 4, 5]),
        (["-tasks:data.n"], [3, 2, 1, 0, 5, 4]),
        ([], [0, 1, 2, 3, 4, 5]),
    ],
)
def test_ordering_with_id_tiebreak(world: World, project, shelf, ordering, expected) -> None:
    body = listing(world.admin, project, query=json.dumps({"ordering": ordering}))
    assert [shelf.index(t["id"]) for t in body["tasks"]] == expected


def test_ordering_parameter(world: World, project, shelf) -> None:
    body = listing(world.admin, project, ordering="-created_at")
    assert [shelf.index(t["id"]) for t in body["tasks"]] == [5, 4, 3, 2, 1, 0]
    body = listing(world.admin, project, ordering="tasks:total_annotations", page_size=2, page=3)
    assert [shelf.index(t["id"]) for t in body["tasks"]] == [1, 2]


def test_deep_pages_of_a_filtered_ordering(world: World, project, shelf) -> None:
    query = dm(item("total_annotations", "less", "Number", 2), ordering=["-tasks:created_at"])
    pages = [
        [
            shelf.index(t["id"])
            for t in listing(world.admin, project, query=query, page_size=2, page=n)["tasks"]
        ]
        for n in (1, 2, 3, 4)
    ]
    assert pages == [[5, 4], [3, 1], [0], []]


def test_include_narrows_each_task(world: World, project, shelf) -> None:
    only_ids = listing(world.admin, project, include="id", fields="all")
    assert only_ids["tasks"] == [{"id": pk} for pk in shelf]
    some = listing(world.admin, project, include="data,annotations", fields="all")
    assert set(some["tasks"][2]) == {"id", "data", "annotations"}
    assert len(some["tasks"][2]["annotations"]) == 2


# --- who sees what ----------------------------------------------------------------------


def test_annotators_see_their_own_annotations_only(world: World, project, shelf) -> None:
    body = listing(world.member, project, fields="all")
    by_task = {t["id"]: t for t in body["tasks"]}
    assert [a["completed_by"] for a in by_task[shelf[2]]["annotations"]] == [world.member.user.pk]
    assert by_task[shelf[1]]["annotations"] == []
    mine = dm(item("annotators", "contains", "List", world.member.user.pk))
    assert [t["id"] for t in listing(world.member, project, query=mine)["tasks"]] == [
        shelf[0],
        shelf[2],
        shelf[3],
    ]
    theirs = dm(item("annotators", "contains", "List", world.admin.user.pk))
    refused = world.member.client.get(
        f"/api/tasks/?project={project.pk}&{urlencode({'query': theirs})}"
    )
    assert refused.status_code == 400
    assert "own id" in refused.content.decode()
    admin_view = listing(world.admin, project, fields="all")
    assert len({t["id"]: t for t in admin_view["tasks"]}[shelf[2]]["annotations"]) == 2


def test_outsiders_get_404_before_any_filter_is_read(world: World, project, shelf) -> None:
    for params in (
        {"query": dm(item("total_annotations", "greater", "Number", 0))},
        {"query": "{not json"},
        {"ordering": "updated_by__password"},
    ):
        url = f"/api/tasks/?{urlencode({'project': project.pk, **params})}"
        assert world.outsider.client.get(url).status_code == 404
        assert (
            world.outsider.client.get(
                f"/api/projects/{project.pk}/tasks/?{urlencode(params)}"
            ).status_code
            == 404
        )


# --- refusals ---------------------------------------------------------------------------

REFUSED_QUERIES = [
    # unknown filters, and relation paths wherever a name goes
    (dm(item("reviewed", "equal", "Boolean", True)), "reviewed"),
    (dm(item("updated_by__password", "contains", "String", "a")), "updated_by__password"),
    (dm(item("annotations__completed_by__password", "regex", "String", "^a")), "__"),
    (dm(item("data.text__regex", "equal", "String", "a")), "data.text__regex"),
    (dm(item("data.text__", "equal", "String", "a")), "__"),
    (dm(item("data.a.b.c.d.e.f", "equal", "String", "a")), "data.a.b.c.d.e.f"),
    (dm(item("data.a-b", "equal", "String", "a")), "data.a-b"),
    (dm(item("data.", "equal", "String", "a")), "data."),
    (dm(item("data", "equal", "String", "a")), "data"),
    (dm({**item("id", "equal", "Number", 1), "filter": "tasks:id"}), "filter:tasks:"),
    (dm({**item("id", "equal", "Number", 1), "filter": "id"}), "filter:tasks:"),
    # operators
    (dm(item("data.text", "regex", "String", "^a")), "regex"),
    (dm(item("id", "contains", "Number", 1)), "contains"),
    (dm(item("created_at", "in_list", "Datetime", ["2024-01-01"])), "in_list"),
    (dm(item("is_labeled", "greater", "Boolean", True)), "is_labeled"),
    (dm(item("annotators", "greater", "List", 1)), "annotators"),
    (dm(item("data.ok", "contains", "Boolean", True)), "contains"),
    # types
    (dm(item("id", "equal", "String", 1)), "filter:tasks:id"),
    (dm(item("created_at", "greater", "Number", 1)), "created_at"),
    (dm(item("data.text", "equal", "Datetime", "x")), "Datetime"),
    (dm({"filter": "filter:tasks:id", "operator": 1, "type": "Number", "value": 1}), "strings"),
    # values
    (dm(item("id", "greater", "Number", "abc")), "whole number"),
    (dm(item("id", "greater", "Number", True)), "whole number"),
    (dm(item("total_annotations", "less", "Number", 1.5)), "whole number"),
    (dm(item("id", "equal", "Number", 10**30)), "whole number"),
    (dm(item("created_at", "greater", "Datetime", "yesterday")), "ISO 8601"),
    (dm(item("created_at", "greater", "Datetime", "2024-13-45T00:00:00Z")), "ISO 8601"),
    (dm(item("created_at", "in", "Datetime", {"min": "2024-01-01"})), "min"),
    (dm(item("id", "in_list", "Number", [])), "list"),
    (dm(item("id", "in_list", "Number", list(range(10_001)))), "list"),
    (dm(item("is_labeled", "equal", "Boolean", "yes")), "true or false"),
    (dm(item("data.text", "contains", "String", "x" * 1001)), "1000"),
    # NUL and lone surrogates wherever else a string goes: names, keys, other values
    (dm(item("data.te\u0000xt", "equal", "String", "a")), "data.te"),
    (dm(item("data.\ud800", "equal", "String", "a")), "data."),
    (dm(item("\u0000", "equal", "String", "a")), "filter:tasks:"),
    (dm(item("data.text", "equal\u0000", "String", "a")), "operator"),
    (dm(item("data.text", "equal", "Str\ud800", "a")), "type"),
    (dm(item("annotators", "contains", "List", "\u0000")), "whole number"),
    (dm(item("created_at", "greater", "Datetime", "2024-01-01\u0000")), "ISO 8601"),
    (json.dumps({"ordering": ["tasks:data.te\u0000xt"]}), "data.te"),
    # more than one statement binds: 10,000 listed values in all, 50 items with children
    (dm(*[item("id", "in_list", "Number", list(range(1, 10_001)))] * 7), "10000 listed values"),
    (dm(*[item("data.n", "not_in", "Number", list(range(5_001)))] * 2), "10000 listed values"),
    (
        dm({**item("id", "greater", "Number", 0), "child_filters": [item("n", "x", "y", 0)] * 50}),
        "child filters included",
    ),
    (dm(item("data.text", "equal", "String", {"$ne": 1})), "string"),
    (dm(item("data.text", "empty", "String", "yes")), "true or false"),
    # structure
    (dm(item("id", "equal", "Number", 1), conjunction="xor"), "conjunction"),
    (json.dumps({"filters": {"conjunction": "and", "items": {"a": 1}}}), "items"),
    (
        json.dumps({"filters": {"conjunction": "and", "items": [{"filter": "filter:tasks:id"}]}}),
        "value",
    ),
    (json.dumps({"filters": "id=1"}), "filters"),
    (json.dumps({"filter": {}}), "filter"),
    (json.dumps([1, 2]), "JSON object"),
    ("{not json", "JSON"),
    ("[" * 100_000, "JSON"),
    (json.dumps({"selectedItems": {"included": [1]}}), "selectedItems"),
    (json.dumps({"selectedItems": {"all": False, "included": ["1 OR 1=1"]}}), "selectedItems"),
    (
        dm(
            {
                **item("id", "equal", "Number", 1),
                "child_filters": [
                    {
                        **item("id", "equal", "Number", 1),
                        "child_filters": [item("id", "equal", "Number", 1)],
                    }
                ],
            }
        ),
        "nest",
    ),
    # ordering inside the query
    (json.dumps({"ordering": ["updated_by__password"]}), "updated_by__password"),
    (json.dumps({"ordering": ["tasks:annotations__completed_by__password"]}), "__"),
    (json.dumps({"ordering": ["-tasks:data.text__regex"]}), "__"),
    (json.dumps({"ordering": ["tasks:project"]}), "tasks:project"),
    (json.dumps({"ordering": ["tasks:data.a b"]}), "data.a b"),
    (json.dumps({"ordering": ["tasks:id", "tasks:created_at"]}), "one field"),
    (json.dumps({"ordering": [{"field": "id"}]}), "one field"),
]


@pytest.mark.parametrize(("query", "named"), REFUSED_QUERIES)
def test_refused_queries_are_400_naming_the_field(
    world: World, project, shelf, query, named
) -> None:
    response = world.admin.client.get(
        f"/api/tasks/?{urlencode({'project': project.pk, 'query': query})}"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert named in json.dumps(body), body


@pytest.mark.usefixtures("stock_sqlite_limit")
def test_the_largest_query_the_limits_allow(world: World, project, shelf) -> None:
    """Every limit at once: 50 filter items, 10,000 listed values, both selectedItems
    lists full. One statement binds fewer parameters than stock SQLite takes (32,766)."""
    deep = "data.info.lang.a.b"  # five segments: the most parameters an item binds
    items = [item("data.group", "not_in", "String", [f"g{n}" for n in range(10_000)])]
    items += [item(deep, "empty", "String", False)] * 39
    items.append({**item(deep, "not_contains", "String", "x"), "child_filters": items[1:10]})
    nowhere = range(10**12, 10**12 + 10_000 - len(shelf))
    chosen = json.dumps({"all": False, "included": [*shelf, *nowhere]})
    query = dm(*items, conjunction="or", selectedItems={"all": True, "excluded": list(nowhere)})
    assert found(world, project, shelf, query) == [0, 1, 2, 3, 4, 5]
    for page in ({"page": 2, "page_size": 2}, {"page": 101}):
        body = listing(world.admin, project, query=query, selectedItems=chosen, **page)
        assert body["total"] == 6
    body = listing(world.admin, project, query=query, selectedItems=chosen, page=2, page_size=2)
    assert [shelf.index(t["id"]) for t in body["tasks"]] == [2, 3]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"ordering": "updated_by__password"}, "updated_by__password"),
        ({"ordering": "-data__text"}, "__"),
        ({"ordering": "project__organization"}, "__"),
        ({"ordering": "data"}, "data"),
        ({"ordering": "password"}, "password"),
        ({"view": "three"}, "view"),
        ({"fields": "everything"}, "fields"),
        ({"include": "id,password"}, "password"),
        ({"include": "annotations"}, "annotations"),  # only with fields=all
        ({"page": "abc"}, "page"),
        ({"page": "²"}, "page"),
        ({"page": "0"}, "page"),
        ({"page_size": "9" * 5000}, "page_size"),
        ({"only_annotated": "maybe"}, "only_annotated"),
        ({"is_labeled": "2"}, "is_labeled"),
        ({"resolve_uri": "perhaps"}, "resolve_uri"),
        ({"selectedItems": "{"}, "selectedItems"),
    ],
)
def test_refused_parameters(world: World, project, shelf, params, named) -> None:
    response = world.admin.client.get(f"/api/tasks/?{urlencode({'project': project.pk, **params})}")
    assert response.status_code == 400, response.content
    assert named in json.dumps(response.json())


def test_pages_past_the_end_are_empty(world: World, project, shelf) -> None:
    assert listing(world.admin, project, page=10**9, page_size=1000)["tasks"] == []
    query = dm(item("total_annotations", "greater", "Number", 0))
    assert listing(world.admin, project, page=99, query=query) == {
        "tasks": [],
        "total": 3,
        "total_annotations": 4,
        "total_predictions": 1,
    }


# --- query counts -----------------------------------------------------------------------

PAGES: dict[str, tuple[dict[str, Any], int]] = {
    "plain": ({}, 1),
    "plain, page 2": ({"page": 2, "page_size": 2}, 1),
    "fields=all": ({"fields": "all"}, 4),
    "fields=all, page 2": ({"fields": "all", "page": 2, "page_size": 2}, 4),
    "filtered": ({"query": dm(item("data.group", "not_equal", "String", "zzz"))}, 2),
    "filtered by annotators": (
        {"query": dm(item("annotators", "empty", "List", False)), "fields": "all"},
        5,
    ),
    "filtered, ordered, page 2": (
        {
            "query": dm(item("id", "greater", "Number", 0), ordering=["-tasks:created_at"]),
            "page": 2,
            "page_size": 2,
            "fields": "all",
        },
        5,
    ),
}


def _page_queries(world: World, project: Project, params: dict[str, Any], as_: Actor) -> int:
    """Queries for a page with nothing remembered (no anchors, no counts)."""
    anchors.forget()
    request = Request(APIRequestFactory().get("/api/tasks/", params))
    with CaptureQueriesContext(connection) as queries:
        task_page(project, request, own_only=as_ is world.member, user=as_.user)
    return len(queries)


@pytest.mark.parametrize("case", PAGES)
def test_query_counts_are_pinned_and_flat(world: World, project, shelf, case) -> None:
    params, expected = PAGES[case]
    # A project with drafts (pages with fields=all then read them: one query more).
    first = Task.objects.get(pk=shelf[0])
    drafts.create_draft(first, {"result": []}, user=world.admin.user, origin=TEST_ORIGIN)
    project.refresh_from_db()
    assert _page_queries(world, project, params, world.admin) == expected
    assert _page_queries(world, project, params, world.member) == expected
    more = services.create_tasks(
        project,
        [services.NewTask(data={"text": f"more {n}", "group": "d"}) for n in range(30)],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    ).task_ids
    for task in Task.objects.filter(pk__in=more[:10]):
        for author in (world.member, world.admin):
            services.create_annotation(
                task,
                {"result": choice("Neutral")},
                actor=author.user,
                completed_by=author.user,
                origin=TEST_ORIGIN,
            )
            drafts.create_draft(
                task, {"result": choice("Positive")}, user=author.user, origin=TEST_ORIGIN
            )
    project.refresh_from_db()
    assert _page_queries(world, project, params, world.admin) == expected
    assert _page_queries(world, project, params, world.member) == expected


def test_a_project_without_drafts_does_not_look_for_them(
    world: World, project: Project, shelf: list[int]
) -> None:
    params = {"fields": "all"}
    without = _page_queries(world, project, params, world.admin)
    drafts.create_draft(
        Task.objects.get(pk=shelf[0]), {"result": []}, user=world.member.user, origin=TEST_ORIGIN
    )
    project.refresh_from_db()
    assert project.has_drafts
    assert _page_queries(world, project, params, world.admin) == without + 1


def test_http_query_count_does_not_grow(world: World, project, shelf) -> None:
    query = dm(item("total_annotations", "greater", "Number", -1))
    url = f"/api/tasks/?{urlencode({'project': project.pk, 'fields': 'all', 'query': query})}"

    def count() -> int:
        anchors.forget()  # the match count is remembered until the tasks change
        with CaptureQueriesContext(connection) as queries:
            assert world.admin.client.get(url).status_code == 200
        return len(queries)

    count()  # the first call also records the key's last use
    before = count()
    services.create_tasks(
        project,
        [
            services.NewTask(data={"text": "x"}, annotations=[{"result": choice("Positive")}])
            for _ in range(40)
        ],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    assert count() == before


def test_a_filtered_count_is_remembered_until_the_tasks_change(
    world: World, project: Project, shelf: list[int]
) -> None:
    """`total` of a filtered list is counted once per version of the project's tasks: the
    same request again costs one query less, and any change to the tasks counts anew."""
    anchors.forget()
    query = dm(item("is_labeled", "equal", "Boolean", False))
    params = {"project": project.pk, "query": query}

    def asked() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = world.admin.client.get(f"/api/tasks/?{urlencode(params)}")
        assert response.status_code == 200
        return response.json()["total"], len(queries)

    asked()  # the first request of a session also does its own bookkeeping
    anchors.forget()
    total, cold = asked()
    assert total == 3
    assert asked() == (3, cold - 1)
    task = Task.objects.get(pk=shelf[4])

    def changes() -> Any:
        yield lambda: services.create_annotation(
            task,
            {"result": choice("Positive")},
            actor=world.admin.user,
            completed_by=world.admin.user,
            origin=TEST_ORIGIN,
        )
        yield lambda: services.update_task(
            task, {"is_labeled": False}, actor=world.admin.user, origin=TEST_ORIGIN
        )
        yield lambda: services.create_tasks(
            project,
            [services.NewTask(data={"text": "new"})],
            actor=world.admin.user,
            origin=TEST_ORIGIN,
        )
        yield lambda: services.delete_tasks(
            project, [shelf[5]], actor=world.admin.user, origin=TEST_ORIGIN
        )

    expected = [2, 3, 4, 3]
    for change, count in zip(changes(), expected, strict=True):
        change()
        assert asked() == (count, cold)
        assert asked() == (count, cold - 1)

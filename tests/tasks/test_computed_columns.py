"""Label Studio's computed data-manager columns: `completed_at`, `ground_truth`,
`predictions_score` (given with `fields=all`, filtered on, ordered by),
`predictions_model_versions`, `annotations_results` and `predictions_results` (given and
filtered on)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from labelkeep.accounts.roles import Role
from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import services
from labelkeep.tasks.models import Annotation, Prediction, Task
from labelkeep.tasks.serializers import COMPUTED_FIELDS, RESULTS_SHOWN
from tests.conftest import TEST_ORIGIN, Actor, World, make_user
from tests.tasks.conftest import choice
from tests.tasks.test_listing import dm, item, listing

pytestmark = pytest.mark.django_db


@pytest.fixture
def shelf(world: World, project: Project) -> list[int]:
    """t0 finished by the member, t1 finished by the admin as ground truth, t2 skipped by
    the member, t3 untouched. Predictions: t0 0.2 and 0.4 (v1), t1 0.9 (v2), t2 none
    scored (v1), t3 none."""
    ids = services.create_tasks(
        project,
        [services.NewTask(data={"text": f"t{n}"}) for n in range(4)],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    ).task_ids
    tasks = {t.pk: t for t in Task.objects.filter(pk__in=ids)}
    for index, author, body in (
        (0, world.member, {"result": choice("Positive")}),
        (1, world.admin, {"result": choice("Negative"), "ground_truth": True}),
        (2, world.member, {"result": [], "was_cancelled": True}),
    ):
        services.create_annotation(
            tasks[ids[index]], body, actor=author.user, completed_by=author.user,
            origin=TEST_ORIGIN,
        )  # fmt: skip
    # Finished a day apart, so that ordering by completed_at means something.
    base = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    for index in (0, 1):
        Annotation.objects.filter(task_id=ids[index]).update(
            created_at=base + dt.timedelta(days=index)
        )
    predictions: list[tuple[int, dict[str, Any]]] = [
        (0, {"score": 0.2, "model_version": "v1"}),
        (0, {"score": 0.4, "model_version": "v1"}),
        (1, {"score": 0.9, "model_version": "v2"}),
        (2, {"model_version": "v1"}),
    ]
    services.create_predictions(
        project,
        [(tasks[ids[i]], {"result": choice("Neutral"), **p}) for i, p in predictions],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    return ids


def _found(who: Actor, project: Project, shelf: list[int], query: str) -> list[int]:
    body = listing(who, project, query=query)
    assert body["total"] == len(body["tasks"])
    return [shelf.index(t["id"]) for t in body["tasks"]]


CASES = [
    (item("completed_at", "empty", "Datetime", False), [0, 1]),
    (item("completed_at", "empty", "Datetime", True), [2, 3]),
    (item("completed_at", "greater", "Datetime", "2026-03-01T18:00:00Z"), [1]),
    (item("completed_at", "less_or_equal", "Datetime", "2026-03-01"), []),
    (item("completed_at", "in", "Datetime", {"min": "2026-02-01", "max": "2026-03-31"}), [0, 1]),
    (item("predictions_score", "less", "Number", 0.5), [0]),
    (item("predictions_score", "greater_or_equal", "Number", 0.5), [1]),
    (item("predictions_score", "in", "Number", {"min": 0.25, "max": 1}), [0, 1]),
    (item("predictions_score", "not_in", "Number", {"min": 0.25, "max": 0.5}), [1]),
    (item("predictions_score", "not_equal", "Number", 0.9), [0]),
    (item("predictions_score", "empty", "Number", True), [2, 3]),
    (item("ground_truth", "equal", "Boolean", True), [1]),
    (item("ground_truth", "equal", "Boolean", False), [0, 2, 3]),
    (item("ground_truth", "not_equal", "Boolean", True), [0, 2, 3]),
    (item("predictions_model_versions", "contains", "List", "v1"), [0, 2]),
    (item("predictions_model_versions", "not_contains", "List", "v1"), [1, 3]),
    (item("predictions_model_versions", "in_list", "List", ["v2", "v9"]), [1]),
    (item("predictions_model_versions", "empty", "List", True), [3]),
    (item("annotations_results", "contains", "String", "positive"), [0]),
    (item("annotations_results", "contains", "String", "Negative"), [1]),
    (item("annotations_results", "not_contains", "String", "POSITIVE"), [1, 2, 3]),
    (item("annotations_results", "contains", "String", "Neutral"), []),
    (item("annotations_results", "empty", "String", True), [2, 3]),  # t2: a skip, no region
    (item("annotations_results", "empty", "String", False), [0, 1]),
    (item("predictions_results", "contains", "String", "neutral"), [0, 1, 2]),
    (item("predictions_results", "not_contains", "String", "Neutral"), [3]),
    (item("predictions_results", "empty", "String", True), [3]),
    # `%` and `_` are text, not patterns.
    (item("annotations_results", "contains", "String", "%"), []),
    (item("annotations_results", "contains", "String", "Posi_ive"), []),
]


@pytest.mark.parametrize(("condition", "expected"), CASES, ids=lambda c: str(c))
def test_filters(
    world: World, project: Project, shelf: list[int], condition: Any, expected: list[int]
) -> None:
    assert _found(world.admin, project, shelf, dm(condition)) == expected


@pytest.mark.parametrize(
    "condition",
    [
        item("predictions_score", "less", "Number", "0.5"),
        item("predictions_score", "less", "Number", float("inf")),
        item("predictions_score", "less", "Number", True),
        item("predictions_score", "contains", "Number", 1),
        item("completed_at", "greater", "Datetime", "yesterday"),
        item("completed_at", "greater", "Number", 5),
        item("ground_truth", "equal", "Boolean", "yes"),
        item("ground_truth", "greater", "Boolean", True),
        item("predictions_model_versions", "contains", "List", "v\u0000"),
        item("predictions_model_versions", "contains", "List", 5),
        item("predictions_model_versions", "regex", "List", ".*"),
        item("predictions_model_versions", "in_list", "List", []),
        item("annotations_results", "contains", "String", 5),
        item("annotations_results", "contains", "String", "x\u0000"),
        item("annotations_results", "contains", "String", "x" * 1001),
        item("annotations_results", "contains", "Number", "Positive"),
        item("annotations_results", "equal", "String", "Positive"),
        item("predictions_results", "regex", "String", ".*"),
        item("predictions_results", "empty", "String", "yes"),
    ],
    ids=lambda c: f"{c['filter']}-{c['operator']}-{c['value']!r}",
)
def test_bad_values_are_a_400(
    world: World, project: Project, shelf: list[int], condition: Any
) -> None:
    got = world.admin.client.get(f"/api/tasks/?project={project.pk}&query={dm(condition)}")
    assert got.status_code == 400
    assert condition["filter"] in str(got.json())


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("tasks:predictions_score", [0, 1, 2, 3]),
        ("-tasks:predictions_score", [1, 0, 3, 2]),
        ("completed_at", [0, 1, 2, 3]),
        ("-completed_at", [1, 0, 3, 2]),
    ],
)
def test_ordering_puts_tasks_without_a_value_last(
    world: World, project: Project, shelf: list[int], ordering: str, expected: list[int]
) -> None:
    body = listing(world.admin, project, ordering=ordering)
    assert [shelf.index(t["id"]) for t in body["tasks"]] == expected
    query = listing(world.admin, project, query=dm(ordering=[ordering]))
    assert [shelf.index(t["id"]) for t in query["tasks"]] == expected


def test_given_with_fields_all(world: World, project: Project, shelf: list[int]) -> None:
    body = listing(world.admin, project, fields="all")
    by_id = {t["id"]: t for t in body["tasks"]}
    first = by_id[shelf[0]]
    annotation = first["annotations"][0]
    assert first["completed_at"] == annotation["created_at"]
    assert first["completed_at"].startswith("2026-03-01T12:00:00")
    assert first["predictions_score"] == pytest.approx(0.3)
    assert first["ground_truth"] is False
    assert by_id[shelf[1]]["ground_truth"] is True
    assert by_id[shelf[2]]["completed_at"] is None  # skipped: not done
    assert by_id[shelf[2]]["predictions_score"] is None  # no score
    assert (by_id[shelf[3]]["completed_at"], by_id[shelf[3]]["ground_truth"]) == (None, False)
    assert first["annotators"] == [
        {
            "user_id": world.member.user.pk,
            "annotated": True,
            "review": None,
            "reviewed": False,
            "id": world.member.user.pk,
            "email": world.member.user.email,
            "username": world.member.user.username,
            "first_name": world.member.user.first_name,
            "last_name": world.member.user.last_name,
            "avatar": None,
        }
    ]
    assert first["annotations_ids"] == str(annotation["id"])
    assert first["predictions_model_versions"] == "v1"
    assert json.loads(f"[{first['annotations_results']}]") == [annotation["result"]]
    assert json.loads(f"[{first['predictions_results']}]") == [choice("Neutral")] * 2
    assert by_id[shelf[2]]["annotations_results"] == ""  # a skip has no regions
    assert (by_id[shelf[3]]["annotations_results"], by_id[shelf[3]]["predictions_results"]) == (
        "",
        "",
    )
    assert (first["draft_exists"], first["storage_filename"]) == (False, None)
    assert by_id[shelf[3]]["annotators"] == [] and by_id[shelf[3]]["annotations_ids"] == ""
    assert by_id[shelf[3]]["avg_lead_time"] is None
    # The same on the task itself.
    single = world.admin.client.get(f"/api/tasks/{shelf[0]}/").json()
    same = (
        "completed_at",
        "ground_truth",
        "annotators",
        "annotations_ids",
        "annotations_results",
        "predictions_results",
        "avg_lead_time",
    )
    assert {k: single[k] for k in same} == {k: first[k] for k in same}
    assert single["predictions_score"] == pytest.approx(0.3)
    # Without fields=all, none of them; with include, only those named.
    plain = listing(world.admin, project)["tasks"][0]
    assert not set(COMPUTED_FIELDS) & set(plain)
    picked = listing(world.admin, project, fields="all", include="completed_at")["tasks"]
    assert {t["id"]: t for t in picked}[shelf[1]] == {
        "id": shelf[1],
        "completed_at": by_id[shelf[1]]["completed_at"],
    }


def test_annotators_compute_from_their_own_annotations(
    world: World, project: Project, shelf: list[int]
) -> None:
    """The member sees only their own annotations: the admin's ground truth on t1 is not
    theirs to find, nor when t1 was finished."""
    member = world.member
    assert _found(member, project, shelf, dm(item("ground_truth", "equal", "Boolean", True))) == []
    assert _found(member, project, shelf, dm(item("completed_at", "empty", "Datetime", False))) == [
        0
    ]
    tasks = {t["id"]: t for t in listing(member, project, fields="all")["tasks"]}
    assert (tasks[shelf[1]]["completed_at"], tasks[shelf[1]]["ground_truth"]) == (None, False)
    # Nor who else annotated: the admin's t1 and the member's own t0 and t2 skip.
    assert tasks[shelf[1]]["annotators"] == [] and tasks[shelf[1]]["annotations_ids"] == ""
    assert tasks[shelf[1]]["annotations_results"] == ""
    negative = dm(item("annotations_results", "contains", "String", "Negative"))
    assert _found(member, project, shelf, negative) == []
    assert _found(
        member, project, shelf, dm(item("annotations_results", "empty", "String", False))
    ) == [0]
    for own in (shelf[0], shelf[2]):
        assert [p["user_id"] for p in tasks[own]["annotators"]] == [member.user.pk]
    single = member.client.get(f"/api/tasks/{shelf[1]}/").json()
    assert (single["annotators"], single["ground_truth"]) == ([], False)
    assert tasks[shelf[0]]["completed_at"] is not None


def test_a_rescored_prediction_is_counted_again(
    world: World, project: Project, shelf: list[int]
) -> None:
    low = dm(item("predictions_score", "less", "Number", 0.5))
    assert listing(world.admin, project, query=low)["total"] == 1
    prediction = Prediction.objects.get(task_id=shelf[1])
    changed = world.admin.client.patch(
        f"/api/predictions/{prediction.pk}/", {"score": 0.1}, format="json"
    )
    assert changed.status_code == 200
    assert listing(world.admin, project, query=low)["total"] == 2


WRITTEN = """
<View>
  <Text name="text" value="$text"/>
  <TextArea name="note" toName="text"/>
</View>
"""


def notes_project(world: World, tasks: list[services.NewTask]) -> tuple[Project, list[int]]:
    """A project with a TextArea, and these tasks in it."""
    made = projects.create_project(
        world.org, {"title": "Notes", "label_config": WRITTEN}, actor=world.admin.user,
        origin=TEST_ORIGIN,
    )  # fmt: skip
    ids = services.create_tasks(made, tasks, actor=world.admin.user, origin=TEST_ORIGIN).task_ids
    return made, ids


def note_of(text: str) -> list[dict[str, Any]]:
    return [{"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": [text]}}]


@pytest.mark.parametrize(
    "text",
    [
        'a "quoted" word',
        "back\\slash",
        "</script><script>alert(1)</script>",
        "Crème brûlée",
        "ÉCOLE",
        "line\nbreak",
        "../../etc/passwd",
        "javascript:alert(1)",
    ],
)
def test_results_are_searched_as_the_text_written(world: World, text: str) -> None:
    """Whatever a result holds is found by the text itself: quotes, backslashes and line
    breaks, stored escaped in the JSON, and letters outside ASCII, which SQLite keeps as
    `\\u` escapes."""
    made, ids = notes_project(world, [services.NewTask(data={"text": f"t{n}"}) for n in range(2)])
    note = note_of(text)
    response = world.admin.client.post(
        f"/api/tasks/{ids[0]}/annotations/", {"result": note}, format="json"
    )
    assert response.status_code == 201, response.content
    found = listing(
        world.admin, made, query=dm(item("annotations_results", "contains", "String", text))
    )
    assert [t["id"] for t in found["tasks"]] == [ids[0]]
    if text.isupper():  # case-insensitive for ASCII letters on every database
        lower = dm(item("annotations_results", "contains", "String", "cole"))
        assert [t["id"] for t in listing(world.admin, made, query=lower)["tasks"]] == [ids[0]]
    body = listing(world.admin, made, fields="all", include="annotations_results")["tasks"]
    shown = {t["id"]: t["annotations_results"] for t in body}
    assert json.loads(f"[{shown[ids[0]]}]") == [note]
    assert shown[ids[1]] == ""


def test_only_the_results_strings_are_searched(world: World) -> None:
    """Not the JSON around them: key names, punctuation, or the escape SQLite keeps for a
    letter outside ASCII (a curly quote is stored as `\\u2019`: no match for "2019")."""
    made, ids = notes_project(
        world, [services.NewTask(data={"text": "t"}, predictions=[{"result": []}])]
    )
    note = note_of("it\u2019s \u00e9")
    response = world.admin.client.post(
        f"/api/tasks/{ids[0]}/annotations/", {"result": note}, format="json"
    )
    assert response.status_code == 201, response.content
    for text in ("2019", "u00e9", "from_name", "value", '"', "[", ", ", "_"):
        for column in ("annotations_results", "predictions_results"):
            query = dm(item(column, "contains", "String", text))
            assert listing(world.admin, made, query=query)["tasks"] == [], (column, text)
    for text in ("it\u2019s", "\u2019", "\u00e9", "s \u00e9"):
        query = dm(item("annotations_results", "contains", "String", text))
        assert [t["id"] for t in listing(world.admin, made, query=query)["tasks"]] == ids, text


def test_the_results_cells_are_cut_at_their_limit(world: World) -> None:
    made, (task,) = notes_project(world, [services.NewTask(data={"text": "t"})])
    for n in range(3):
        note = note_of(f"{n}" * 700)
        author = make_user(f"long{n}@a.example", org=world.org, role=Role.ADMIN)
        services.create_annotation(
            Task.objects.get(pk=task), {"result": note}, actor=author, completed_by=author,
            origin=TEST_ORIGIN,
        )  # fmt: skip
    (shown,) = listing(world.admin, made, fields="all", include="annotations_results")["tasks"]
    cell = shown["annotations_results"]
    assert len(cell) == RESULTS_SHOWN
    assert cell.startswith('[{"') and "0" * 700 in cell and "1" * 100 in cell
    assert "2" * 10 not in cell  # the third result is past the limit

"""Deep pages of the id-ordered task list start from remembered anchors
(labelkeep/tasks/anchors.py) and must be exactly the pages OFFSET would give."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labelkeep.projects.models import Project
from labelkeep.tasks import anchors, services
from labelkeep.tasks.models import Task
from tests.conftest import TEST_ORIGIN, World
from tests.tasks.conftest import choice


@pytest.fixture(autouse=True)
def small_anchors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Anchors every 4 tasks, used from the 6th position: deep pages in a small project."""
    monkeypatch.setattr(anchors, "ANCHOR_EVERY", 4)
    monkeypatch.setattr(anchors, "DEEP", 6)
    anchors._cache.clear()


def _create(world: World, project: Project, count: int) -> list[int]:
    items = [services.NewTask(data={"text": f"t{n}"}) for n in range(count)]
    return services.create_tasks(
        project, items, actor=world.admin.user, origin=TEST_ORIGIN
    ).task_ids


def _page(world: World, project: Project, **params: Any) -> list[int]:
    query = urlencode({"project": project.pk, **params})
    response = world.admin.client.get(f"/api/tasks/?{query}")
    assert response.status_code == 200, response.content
    return [task["id"] for task in response.json()["tasks"]]


def _every_page_matches_offset(world: World, project: Project) -> None:
    project.refresh_from_db()
    for ordering in ("id", "-id"):
        expected = list(
            Task.objects.filter(project=project).order_by(ordering).values_list("id", flat=True)
        )
        for size in (1, 3, 4, 5):
            for page in range(1, len(expected) // size + 3):
                got = _page(world, project, ordering=ordering, page=page, page_size=size)
                assert got == expected[(page - 1) * size : page * size], (ordering, size, page)


def test_deep_pages_equal_offset_pages_both_ways(world: World, project: Project) -> None:
    _create(world, project, 23)
    _every_page_matches_offset(world, project)
    expected = {(project.pk, False, None), (project.pk, True, None)}
    assert {key[1:] for key in anchors._cache} == expected


def test_anchors_are_read_again_after_inserts_and_deletes(world: World, project: Project) -> None:
    ids = _create(world, project, 20)
    _every_page_matches_offset(world, project)
    services.delete_tasks(project, ids[1:9:2], actor=world.admin.user, origin=TEST_ORIGIN)
    _every_page_matches_offset(world, project)
    _create(world, project, 7)
    _every_page_matches_offset(world, project)
    # Delete some and insert as many: the count is back where it was, the ids are not.
    services.delete_tasks(project, ids[10:13], actor=world.admin.user, origin=TEST_ORIGIN)
    _create(world, project, 3)
    _every_page_matches_offset(world, project)


def test_other_projects_tasks_never_enter_the_anchors(world: World, project: Project) -> None:
    other = Project.objects.create(organization=world.org, title="Other", label_config="")
    mine = _create(world, project, 6)
    services.create_tasks(
        other,
        [services.NewTask(data={"text": "x"}) for _ in range(9)],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    mine += _create(world, project, 6)
    assert _page(world, project, page=2, page_size=6) == mine[6:]
    assert _page(world, project, page=3, page_size=3) == mine[6:9]


def test_a_counter_that_disagrees_with_the_rows_still_gives_right_pages(
    world: World, project: Project
) -> None:
    ids = _create(world, project, 15)
    Project.objects.filter(pk=project.pk).update(task_number=99)
    assert _page(world, project, page=3, page_size=4) == ids[8:12]
    assert _page(world, project, page=4, page_size=4) == ids[12:15]
    assert _page(world, project, page=5, page_size=4) == []


def test_other_orderings_keep_offset(world: World, project: Project) -> None:
    ids = _create(world, project, 15)
    _page(world, project, ordering="-created_at", page=3, page_size=4)
    assert anchors._cache == {}
    assert _page(world, project, page=3, page_size=4) == ids[8:12]


def _filtered_pages_match_offset(world: World, project: Project, **params: Any) -> None:
    project.refresh_from_db()
    for ordering in ("id", "-id"):
        matching = Task.objects.filter(
            project=project, is_labeled=False, data__text__istartswith="t"
        )
        expected = list(matching.order_by(ordering).values_list("id", flat=True))
        for size in (1, 3, 4):
            for page in range(1, len(expected) // size + 3):
                got = _page(world, project, ordering=ordering, page=page, page_size=size, **params)
                assert got == expected[(page - 1) * size : page * size], (ordering, size, page)


def test_filtered_lists_keep_anchors_of_their_own_while_the_tasks_stay(
    world: World, project: Project
) -> None:
    """A filtered list in id order has anchors of its own, right for exactly the version of
    the project's tasks they were found in: annotating a task, skipping one, editing its
    data or deleting one forgets them."""
    ids = _create(world, project, 30)
    query = json.dumps(
        {
            "filters": {
                "conjunction": "and",
                "items": [
                    {
                        "filter": "filter:tasks:data.text",
                        "operator": "starts_with",
                        "type": "String",
                        "value": "t",
                    }
                ],
            }
        }
    )
    params = {"is_labeled": "false", "query": query}
    _filtered_pages_match_offset(world, project, **params)
    assert {key[3] is not None for key in anchors._cache} == {True}
    tasks = {t.pk: t for t in Task.objects.filter(pk__in=ids)}
    for pk in ids[3:12:3]:
        services.create_annotation(
            tasks[pk],
            {"result": choice("Positive")},
            actor=world.admin.user,
            completed_by=world.admin.user,
            origin=TEST_ORIGIN,
        )
        _filtered_pages_match_offset(world, project, **params)
    services.create_annotation(
        tasks[ids[20]],
        {"result": [], "was_cancelled": True},
        actor=world.admin.user,
        completed_by=world.admin.user,
        origin=TEST_ORIGIN,
    )
    _filtered_pages_match_offset(world, project, **params)
    services.update_task(
        tasks[ids[14]],
        {"data": {"text": "x no longer t"}},
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    _filtered_pages_match_offset(world, project, **params)
    services.delete_tasks(project, ids[16:18], actor=world.admin.user, origin=TEST_ORIGIN)
    _filtered_pages_match_offset(world, project, **params)


def _offsets(queries: list[dict[str, Any]]) -> list[int]:
    return [int(n) for q in queries for n in re.findall(r"OFFSET (\d+)", q["sql"])]


def test_reading_pages_in_order_skips_little_on_each(world: World, project: Project) -> None:
    ids = _create(world, project, 40)
    with CaptureQueriesContext(connection) as first:
        assert _page(world, project, page=8, page_size=3) == ids[21:24]
    assert max(_offsets(first.captured_queries)) == 20  # found once, from the start
    for page in range(9, 15):
        with CaptureQueriesContext(connection) as later:
            assert _page(world, project, page=page, page_size=3) == ids[(page - 1) * 3 : page * 3]
        assert max(_offsets(later.captured_queries), default=0) < 2 * anchors.ANCHOR_EVERY
    with CaptureQueriesContext(connection) as again:
        assert _page(world, project, page=8, page_size=3) == ids[21:24]
    assert max(_offsets(again.captured_queries), default=0) < anchors.ANCHOR_EVERY
    assert len(again) < len(first)

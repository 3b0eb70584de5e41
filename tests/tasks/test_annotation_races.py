"""The same annotation change sent twice at once (a double-click, two tabs, a client's
retry) moves the counters once: the task does not reopen for a third person at overlap 1.
And a task deleted while an annotation of it is being saved is a 404, not a 500."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections, transaction

from labelkeep.projects.models import Project
from labelkeep.tasks import services
from labelkeep.tasks.models import Annotation
from labelkeep.tasks.stream import next_task
from tests.conftest import TEST_ORIGIN, World
from tests.tasks.conftest import choice
from tests.tasks.test_counters import _matches_recount as _matches_recount_in


def _matches_recount(project: Project) -> tuple[Any, ...]:
    with transaction.atomic():  # the recount locks rows (tests with transaction=True)
        return _matches_recount_in(project)


def _annotated(world: World, project: Project, task_id: int, *, skipped: bool = False) -> int:
    response = world.member.client.post(
        f"/api/tasks/{task_id}/annotations/",
        {"result": choice("Positive"), "was_cancelled": skipped},
        format="json",
    )
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def test_deleting_through_a_stale_copy_counts_once(
    world: World, project: Project, task_ids: list[int]
) -> None:
    first = _annotated(world, project, task_ids[0])
    kept = _annotated(world, project, task_ids[0])
    one, other = Annotation.objects.get(pk=first), Annotation.objects.get(pk=first)
    origin = TEST_ORIGIN
    assert services.delete_annotations([one], actor=world.admin.user, origin=origin) == 1
    assert services.delete_annotations([other], actor=world.admin.user, origin=origin) == 0
    state = _matches_recount(project)
    assert state[1][0] == (1, 0, True)  # `kept` still counts, and the task stays done
    assert Annotation.objects.filter(pk=kept).exists()


def test_flipping_a_skip_through_a_stale_copy_counts_once(
    world: World, project: Project, task_ids: list[int]
) -> None:
    annotation = _annotated(world, project, task_ids[0])
    one, other = Annotation.objects.get(pk=annotation), Annotation.objects.get(pk=annotation)
    for copy in (one, other):
        services.update_annotation(
            copy, {"was_cancelled": True}, actor=world.member.user, origin=TEST_ORIGIN
        )
    state = _matches_recount(project)
    assert state[1][0] == (0, 1, False)  # one skip (a skip does not finish a task)


def test_updating_a_deleted_annotation_is_not_found(
    world: World, project: Project, task_ids: list[int]
) -> None:
    annotation = Annotation.objects.get(pk=_annotated(world, project, task_ids[0]))
    Annotation.objects.filter(pk=annotation.pk).delete()
    with pytest.raises(Annotation.DoesNotExist):
        services.update_annotation(
            annotation, {"was_cancelled": True}, actor=world.member.user, origin=TEST_ORIGIN
        )


@pytest.mark.parametrize("route", ["create", "update", "delete"])
def test_a_task_deleted_meanwhile_is_a_404(
    world: World, project: Project, task_ids: list[int], route: str, monkeypatch: Any
) -> None:
    annotation = _annotated(world, project, task_ids[0])
    name = {"create": "create_annotation", "update": "update_annotation"}.get(
        route, "delete_annotations"
    )
    original: Callable[..., Any] = getattr(services, name)

    def after_the_task_is_gone(*args: Any, **kwargs: Any) -> Any:
        services.delete_tasks(  # by someone else, just now
            project, [task_ids[0]], actor=world.admin.user, origin=TEST_ORIGIN
        )
        return original(*args, **kwargs)

    monkeypatch.setattr(services, name, after_the_task_is_gone)
    client = world.member.client
    response = {
        "create": lambda: client.post(
            f"/api/tasks/{task_ids[0]}/annotations/", {"result": []}, format="json"
        ),
        "update": lambda: client.patch(
            f"/api/annotations/{annotation}/", {"was_cancelled": True}, format="json"
        ),
        "delete": lambda: client.delete(f"/api/annotations/{annotation}/"),
    }[route]()
    assert response.status_code == 404, response.content
    assert response.json()["status_code"] == 404
    _matches_recount(project)


def _at_once(count: int, work: Callable[[], Any]) -> list[Any]:
    """Run `work` in `count` threads started together; their results, errors raised."""
    start, results, errors = threading.Barrier(count), [], []

    def run() -> None:
        try:
            start.wait()
            results.append(work())
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_the_same_delete_at_once_reopens_nothing(
    world: World, project: Project, task_ids: list[int]
) -> None:
    first = _annotated(world, project, task_ids[0])
    _annotated(world, project, task_ids[0])
    copies = [Annotation.objects.get(pk=first) for _ in range(4)]
    counts = _at_once(
        4,
        lambda: services.delete_annotations(
            [copies.pop()], actor=world.admin.user, origin=TEST_ORIGIN
        ),
    )
    assert sorted(counts) == [0, 0, 0, 1]
    assert _matches_recount(project)[1][0] == (1, 0, True)
    # Done at overlap 1: nobody else is given it.
    nxt = next_task(project, world.admin.user)
    assert nxt is not None and nxt.pk != task_ids[0]


@pytest.mark.django_db(transaction=True)
def test_the_same_skip_at_once_counts_once(
    world: World, project: Project, task_ids: list[int]
) -> None:
    annotation = _annotated(world, project, task_ids[0])
    copies = [Annotation.objects.get(pk=annotation) for _ in range(4)]
    _at_once(
        4,
        lambda: services.update_annotation(
            copies.pop(), {"was_cancelled": True}, actor=world.member.user, origin=TEST_ORIGIN
        ),
    )
    assert _matches_recount(project)[1][0] == (0, 1, False)


@pytest.mark.django_db(transaction=True)
def test_the_same_bulk_delete_at_once_counts_once(
    world: World, project: Project, task_ids: list[int]
) -> None:
    made = [_annotated(world, project, pk) for pk in task_ids[:3]]
    counts = _at_once(
        3,
        lambda: services.delete_annotations_bulk(made, actor=world.admin.user, origin=TEST_ORIGIN),
    )
    assert sorted(counts) == [0, 0, 3]
    state = _matches_recount(project)
    assert state[0][2] == 0  # total_annotations_number

"""An annotation checked against the labeling config is not saved after a change of that
config that it no longer fits (labelkeep/tasks/services.py `_against_current_config`).

The race is staged: right after the result is checked against the config the request
read, another request changes the project (its config, or only its title) and commits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import services
from labelkeep.tasks.models import Annotation, Task
from tests.conftest import TEST_ORIGIN, World
from tests.tasks.conftest import CONFIG, choice

WITHOUT_NEUTRAL = CONFIG.replace('    <Choice value="Neutral"/>\n', "")


def _change_after_check(
    monkeypatch: pytest.MonkeyPatch, world: World, project: Project, fields: dict[str, Any]
) -> list[int]:
    """After the first result check, change the project (as another request would);
    returns the list the number of checks is counted in."""
    real: Callable[[Project, Any], list[Any]] = services._checked_result
    checks: list[int] = []

    def checked_then_changed(checked: Project, result: Any) -> list[Any]:
        checks.append(1)
        value = real(checked, result)
        if len(checks) == 1:
            fresh = Project.objects.get(pk=project.pk)
            projects.update_project(fresh, fields, actor=world.admin.user, origin=TEST_ORIGIN)
        return value

    monkeypatch.setattr(services, "_checked_result", checked_then_changed)
    return checks


def _counters(project: Project) -> tuple[int, int]:
    fresh = Project.objects.get(pk=project.pk)
    return fresh.total_annotations_number, fresh.num_tasks_with_annotations


def test_a_save_that_no_longer_fits_the_config_is_refused_whole(
    world: World, project: Project, task_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = _change_after_check(monkeypatch, world, project, {"label_config": WITHOUT_NEUTRAL})
    response = world.member.client.post(
        f"/api/tasks/{task_ids[0]}/annotations/",
        {"result": choice("Neutral")},
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert "Neutral" in response.content.decode()
    assert len(checks) == 2  # checked again, against the config that is current now
    assert not Annotation.objects.filter(task_id=task_ids[0]).exists()
    assert Task.objects.get(pk=task_ids[0]).total_annotations == 0
    assert _counters(project) == (0, 0)
    assert Project.objects.get(pk=project.pk).label_config == WITHOUT_NEUTRAL


def test_a_save_that_still_fits_goes_through_after_a_second_check(
    world: World, project: Project, task_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = _change_after_check(monkeypatch, world, project, {"title": "Renamed"})
    response = world.member.client.post(
        f"/api/tasks/{task_ids[0]}/annotations/",
        {"result": choice("Neutral")},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert len(checks) == 2
    assert Annotation.objects.filter(task_id=task_ids[0]).count() == 1
    assert _counters(project) == (1, 1)


def test_an_edit_that_no_longer_fits_is_refused(
    world: World, project: Project, task_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    made = world.member.client.post(
        f"/api/tasks/{task_ids[0]}/annotations/",
        {"result": choice("Positive")},
        content_type="application/json",
    )
    assert made.status_code == 201
    pk = made.json()["id"]
    _change_after_check(monkeypatch, world, project, {"label_config": WITHOUT_NEUTRAL})
    response = world.member.client.patch(
        f"/api/annotations/{pk}/", {"result": choice("Neutral")}, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert Annotation.objects.get(pk=pk).result == choice("Positive")


def test_a_bulk_save_that_no_longer_fits_is_refused_whole(
    world: World, project: Project, task_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _change_after_check(monkeypatch, world, project, {"label_config": WITHOUT_NEUTRAL})
    with pytest.raises(services.TaskError):
        services.create_annotations_bulk(
            project,
            task_ids,
            {"result": choice("Neutral")},
            actor=world.admin.user,
            completed_by=world.admin.user,
            origin=TEST_ORIGIN,
        )
    assert not Annotation.objects.filter(task_id__in=task_ids).exists()
    assert _counters(project) == (0, 0)


def test_a_project_that_keeps_changing_gives_a_clear_error(
    world: World, project: Project, task_ids: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = services._checked_result
    renames = iter(range(10))

    def checked_then_renamed(checked: Project, result: Any) -> list[Any]:
        value = real(checked, result)
        fresh = Project.objects.get(pk=project.pk)
        title = f"Title {next(renames)}"
        projects.update_project(fresh, {"title": title}, actor=world.admin.user, origin=TEST_ORIGIN)
        return value

    monkeypatch.setattr(services, "_checked_result", checked_then_renamed)
    response = world.member.client.post(
        f"/api/tasks/{task_ids[0]}/annotations/",
        {"result": choice("Positive")},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert services._CHANGED_MEANWHILE in response.content.decode()
    assert not Annotation.objects.filter(task_id=task_ids[0]).exists()

"""Defects found in review of saved Data Manager views: each test failed before its fix."""

from __future__ import annotations

import pytest
from django.http import Http404

from labelkeep.audit.models import AuditEvent
from labelkeep.projects.models import Project
from labelkeep.tasks import saved_views
from labelkeep.tasks.models import SavedView
from tests.conftest import TEST_ORIGIN, World


def _stale_copies(world: World, project: Project) -> tuple[SavedView, SavedView]:
    """Two requests' copies of one view, each read before either changed it."""
    made = world.admin.client.post(
        "/api/dm/views/", {"project": project.pk, "data": {"title": "Tab"}}, format="json"
    )
    assert made.status_code == 201, made.content
    pk = made.json()["id"]
    found = SavedView.objects.select_related("project")
    return found.get(pk=pk), found.get(pk=pk)


def test_a_view_deleted_meanwhile_is_not_changed_or_deleted_again(
    world: World, project: Project
) -> None:
    """A PATCH (or a second DELETE) of a view that another request deleted after this one
    found it: the PATCH was a 500 (an update that touched no row), the second DELETE a
    204 with a second `view.delete` entry in the audit log."""
    first, second = _stale_copies(world, project)
    actor = world.admin.user
    saved_views.delete_view(first, actor=actor, origin=TEST_ORIGIN)
    with pytest.raises(Http404):
        saved_views.update_view(second, {"title": "Renamed"}, actor=actor, origin=TEST_ORIGIN)
    with pytest.raises(Http404):
        saved_views.delete_view(second, actor=actor, origin=TEST_ORIGIN)
    assert not SavedView.objects.exists()
    assert AuditEvent.objects.filter(action="view.delete").count() == 1
    assert not AuditEvent.objects.filter(action="view.update").exists()

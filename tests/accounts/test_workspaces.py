"""Workspaces inside an organization: managers manage, members see, outsiders get 404."""

from __future__ import annotations

from labelkeep.accounts.models import Workspace
from tests.conftest import World


def test_create_list_update_delete(world: World) -> None:
    created = world.admin.client.post("/api/workspaces/", {"title": "Vision"}, format="json")
    assert created.status_code == 201
    pk = created.json()["id"]
    assert [w["title"] for w in world.member.client.get("/api/workspaces/").json()] == ["Vision"]
    renamed = world.admin.client.patch(f"/api/workspaces/{pk}", {"title": "Audio"}, format="json")
    assert renamed.json()["title"] == "Audio"
    assert world.admin.client.delete(f"/api/workspaces/{pk}/").status_code == 204
    assert not Workspace.objects.filter(pk=pk).exists()


def test_annotators_cannot_manage(world: World) -> None:
    assert (
        world.member.client.post("/api/workspaces/", {"title": "X"}, format="json").status_code
        == 403
    )
    pk = world.admin.client.post("/api/workspaces/", {"title": "W"}, format="json").json()["id"]
    assert world.member.client.delete(f"/api/workspaces/{pk}").status_code == 403


def test_outsider_gets_404(world: World) -> None:
    pk = world.admin.client.post("/api/workspaces/", {"title": "Secret"}, format="json").json()[
        "id"
    ]
    assert world.outsider.client.get(f"/api/workspaces/{pk}").status_code == 404
    assert (
        world.outsider.client.patch(
            f"/api/workspaces/{pk}", {"title": "x"}, format="json"
        ).status_code
        == 404
    )
    assert world.outsider.client.delete(f"/api/workspaces/{pk}").status_code == 404
    assert world.outsider.client.get("/api/workspaces/").json() == []


def test_duplicate_and_bad_titles(world: World) -> None:
    world.admin.client.post("/api/workspaces/", {"title": "Same"}, format="json")
    dup = world.admin.client.post("/api/workspaces/", {"title": "Same"}, format="json")
    assert dup.status_code == 400
    assert "title" in dup.json()["validation_errors"]
    assert (
        world.admin.client.post("/api/workspaces/", {"title": ""}, format="json").status_code == 400
    )
    assert world.admin.client.post("/api/workspaces/", [1, 2], format="json").status_code == 400
    # Same title in another organization is fine.
    assert (
        world.outsider.client.post("/api/workspaces/", {"title": "Same"}, format="json").status_code
        == 201
    )

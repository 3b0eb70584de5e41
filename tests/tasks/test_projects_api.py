"""Projects through the API: fields, counters, config validation, roles, outsiders."""

from __future__ import annotations

from labelkeep.projects.models import Project
from tests.conftest import World
from tests.tasks.conftest import CONFIG, choice


def test_create_and_read(world: World) -> None:
    response = world.admin.client.post(
        "/api/projects/",
        {"title": "New", "label_config": CONFIG, "maximum_annotations": 2, "color": "#FF0000"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "New"
    assert body["maximum_annotations"] == 2
    assert body["task_number"] == 0
    assert body["parsed_label_config"]["sentiment"]["labels"] == ["Positive", "Negative", "Neutral"]
    assert body["organization"] == world.org.pk
    got = world.admin.client.get(f"/api/projects/{body['id']}/").json()
    assert got["label_config"] == CONFIG


def test_invalid_config_is_a_clear_400(world: World) -> None:
    bad = '<View><Choices name="c" toName="missing"><Choice value="a"/></Choices></View>'
    response = world.admin.client.post(
        "/api/projects/", {"title": "Bad", "label_config": bad}, format="json"
    )
    assert response.status_code == 400
    assert "missing" in str(response.json()["validation_errors"]["label_config"])
    assert not Project.objects.filter(title="Bad").exists()


def test_xxe_config_is_refused(world: World) -> None:
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE v [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<View><Text name="t" value="&x;"/></View>'
    )
    response = world.admin.client.post(
        "/api/projects/", {"title": "XXE", "label_config": xxe}, format="json"
    )
    assert response.status_code == 400
    assert "root:" not in response.content.decode()


def test_list_is_paged_and_scoped(world: World, project) -> None:
    listed = world.admin.client.get("/api/projects/").json()
    assert listed["count"] == 1
    assert listed["results"][0]["id"] == project.pk
    assert world.outsider.client.get("/api/projects/").json()["count"] == 0
    assert world.outsider.client.get(f"/api/projects/{project.pk}/").status_code == 404


def test_annotators_see_only_their_projects(world: World, project) -> None:
    other = world.admin.client.post(
        "/api/projects/", {"title": "Other", "label_config": CONFIG}, format="json"
    ).json()
    ids = [p["id"] for p in world.member.client.get("/api/projects/").json()["results"]]
    assert ids == [project.pk]
    assert world.member.client.get(f"/api/projects/{other['id']}/").status_code == 404


def test_annotators_cannot_manage(world: World, project) -> None:
    client = world.member.client
    assert client.post("/api/projects/", {"title": "X"}, format="json").status_code == 403
    assert (
        client.patch(f"/api/projects/{project.pk}/", {"title": "Y"}, format="json").status_code
        == 403
    )
    assert client.delete(f"/api/projects/{project.pk}/").status_code == 403


def test_list_filters_and_ordering(world: World, project) -> None:
    world.admin.client.post("/api/projects/", {"title": "Zebra"}, format="json")
    titles = [
        p["title"]
        for p in world.admin.client.get("/api/projects/?ordering=title").json()["results"]
    ]
    assert titles == ["Reviews", "Zebra"]
    found = world.admin.client.get(f"/api/projects/?ids={project.pk}").json()["results"]
    assert [p["id"] for p in found] == [project.pk]
    assert world.admin.client.get("/api/projects/?ordering=created_by__password").status_code == 400
    assert world.admin.client.get("/api/projects/?ids=1,x").status_code == 400


def test_counters_follow_annotations(world: World, project, task_ids) -> None:
    client = world.member.client
    client.post(
        f"/api/tasks/{task_ids[0]}/annotations/", {"result": choice("Positive")}, format="json"
    )
    client.post(
        f"/api/tasks/{task_ids[1]}/annotations/",
        {"result": [], "was_cancelled": True},
        format="json",
    )
    body = world.admin.client.get(f"/api/projects/{project.pk}/").json()
    assert body["task_number"] == 5
    assert body["total_annotations_number"] == 1
    assert body["num_tasks_with_annotations"] == 1


def test_config_change_that_orphans_annotations_is_refused(world: World, project, task_ids) -> None:
    world.member.client.post(
        f"/api/tasks/{task_ids[0]}/annotations/", {"result": choice("Negative")}, format="json"
    )
    without_negative = CONFIG.replace('<Choice value="Negative"/>', "")
    response = world.admin.client.patch(
        f"/api/projects/{project.pk}/", {"label_config": without_negative}, format="json"
    )
    assert response.status_code == 400
    assert "Negative" in str(response.json()["validation_errors"]["label_config"])
    validate = world.admin.client.post(
        f"/api/projects/{project.pk}/validate/", {"label_config": without_negative}, format="json"
    )
    assert validate.status_code == 400
    # Removing an unused label is fine.
    without_neutral = CONFIG.replace('<Choice value="Neutral"/>', "")
    ok = world.admin.client.patch(
        f"/api/projects/{project.pk}/", {"label_config": without_neutral}, format="json"
    )
    assert ok.status_code == 200
    assert ok.json()["parsed_label_config"]["sentiment"]["labels"] == ["Positive", "Negative"]


def test_validate_endpoint(world: World, project) -> None:
    same = world.admin.client.post(
        f"/api/projects/{project.pk}/validate/", {"label_config": CONFIG}, format="json"
    )
    assert same.status_code == 200
    assert same.json()["config_essential_data_has_changed"] is False
    assert (
        world.member.client.post(
            f"/api/projects/{project.pk}/validate/", {"label_config": CONFIG}, format="json"
        ).status_code
        == 403
    )


def test_delete_takes_everything(world: World, project, task_ids) -> None:
    assert world.admin.client.delete(f"/api/projects/{project.pk}/").status_code == 204
    assert world.admin.client.get(f"/api/tasks/{task_ids[0]}/").status_code == 404


def test_workspace_must_be_in_org(world: World) -> None:
    mine = world.admin.client.post("/api/workspaces/", {"title": "W"}, format="json").json()["id"]
    theirs = world.outsider.client.post("/api/workspaces/", {"title": "T"}, format="json").json()[
        "id"
    ]
    ok = world.admin.client.post("/api/projects/", {"title": "P", "workspace": mine}, format="json")
    assert ok.status_code == 201
    bad = world.admin.client.post(
        "/api/projects/", {"title": "P", "workspace": theirs}, format="json"
    )
    assert bad.status_code == 400


def test_project_members(world: World, project) -> None:
    url = f"/api/projects/{project.pk}/members"
    emails = {m["user"]["email"] for m in world.member.client.get(url).json()}
    assert emails == {"admin@a.example", "member@a.example"}
    outsider_id = world.outsider.user.pk
    assert world.admin.client.post(url, {"users": [outsider_id]}, format="json").status_code == 400
    assert (
        world.member.client.post(url, {"users": [world.owner.user.pk]}, format="json").status_code
        == 403
    )
    removed = world.admin.client.delete(url, {"users": [world.member.user.pk]}, format="json")
    assert removed.status_code == 204
    assert world.member.client.get(f"/api/projects/{project.pk}/").status_code == 404

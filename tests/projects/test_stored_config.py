"""A config stored before a rule that refuses it now (here: labels with control characters)
keeps its project working; only a config sent in is checked by today's rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labelkeep.jobs.worker import run_batch
from labelkeep.projects.labelconfig import ConfigError, parse, validate_result
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Task
from tests.conftest import World
from tests.dataio.test_export_support import (
    add_tasks,
    archive,
    body,
    export,
    exported_json,
    make_project,
)
from tests.dataio.test_import_support import import_path

# Labels as a config could hold before control characters were refused: a line break
# written as a character reference, and a raw NEL (a C1 control).
BROKEN = "Cat&#10;Zebra"
NEL = "Owl\u0085"
LEGACY = f"""
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image">
    <Label value="Dog"/>
    <Label value="{BROKEN}"/>
    <Label value="{NEL}"/>
  </RectangleLabels>
</View>
"""
VALID = LEGACY.replace(f'<Label value="{BROKEN}"/>', "").replace(f'<Label value="{NEL}"/>', "")
RENAMED = VALID.replace('<Label value="Dog"/>', '<Label value="Dog"/><Label value="Cat Zebra"/>')
STORED_LABEL = "Cat\nZebra"  # the label as results store it


def region(label: str, region_id: str = "r1") -> dict[str, Any]:
    return {
        "id": region_id,
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": 640,
        "original_height": 480,
        "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": [label]},
    }


@pytest.fixture
def legacy(world: World) -> Project:
    """A project whose stored config today's validation refuses, as an upgrade leaves it."""
    project = make_project(world, VALID)
    add_tasks(project, world, [{"image": "/data/a.png"}, {"image": "/data/b.png"}])
    parsed = parse(LEGACY, strict=False).parsed
    Project.objects.filter(pk=project.pk).update(label_config=LEGACY, parsed_label_config=parsed)
    project.refresh_from_db()
    return project


def annotate(world: World, project: Project, *labels: str) -> Any:
    task = Task.objects.filter(project=project).order_by("id").first()
    assert task is not None
    result = [region(label, f"r{n}") for n, label in enumerate(labels)]
    return world.member.client.post(
        f"/api/tasks/{task.pk}/annotations/", {"result": result}, format="json"
    )


# --- Reading -------------------------------------------------------------------------


def test_a_strict_parse_still_refuses_the_stored_config() -> None:
    with pytest.raises(ConfigError) as refused:
        parse(LEGACY)
    assert len(refused.value.messages) == 2
    assert all("contains a control character" in m for m in refused.value.messages)


def test_a_lenient_parse_reads_the_labels_as_stored() -> None:
    config = parse(LEGACY, strict=False)
    assert config.controls["box"].labels == ("Dog", STORED_LABEL, "Owl\x85")
    assert config.parsed["box"]["labels"] == ["Dog", STORED_LABEL, "Owl\x85"]


@pytest.mark.parametrize(
    "config",
    [
        '<View><Image name="i" value="$i"/><Bogus/></View>',  # structure
        '<View><Image name="i" value="$i" onload="x()"/></View>',  # safety
        '<!DOCTYPE v [<!ENTITY x "y">]><View/>',  # defusedxml
        '<View><Image name="i" value="$i"/><RectangleLabels name="b" toName="nope">'
        '<Label value="A&#10;"/></RectangleLabels></View>',
    ],
    ids=["unknown-tag", "event-handler", "doctype", "bad-toname"],
)
def test_a_lenient_parse_keeps_every_other_check(config: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse(config, strict=False)
    assert not any("control character" in m for m in refused.value.messages)


def test_results_may_carry_a_stored_label_but_no_other_control_character() -> None:
    config = parse(LEGACY, strict=False)
    assert validate_result(config, [region(STORED_LABEL), region("Owl\x85", "r2")]) == []
    assert validate_result(config, [region("Dog\n")]) == [
        r"Result 0: label 'Dog\n' contains a control character"
    ]
    assert validate_result(config, [region("Bird")]) == [
        "Result 0: label 'Bird' is not an option of control 'box'"
    ]


# --- The project keeps working ---------------------------------------------------------


def test_annotations_are_saved(world: World, legacy: Project) -> None:
    assert annotate(world, legacy, "Dog").status_code == 201
    assert annotate(world, legacy, STORED_LABEL).status_code == 201
    refused = annotate(world, legacy, "Dog\n")
    assert refused.status_code == 400
    assert "contains a control character" in json.dumps(refused.json())
    assert annotate(world, legacy, "Bird").status_code == 400


def test_tasks_are_imported_with_annotations(world: World, legacy: Project) -> None:
    item = {"data": {"image": "/data/c.png"}, "annotations": [{"result": [region(STORED_LABEL)]}]}
    response = world.admin.client.post(import_path(legacy), [item], format="json")
    assert response.status_code == 201, response.content
    assert response.json()["annotation_count"] == 1
    created = world.admin.client.post(
        "/api/tasks/", {"project": legacy.pk, "data": {"image": "/d.png"}}, format="json"
    )
    assert created.status_code == 201, created.content


def test_the_project_reads_and_the_next_task_is_given(world: World, legacy: Project) -> None:
    got = world.admin.client.get(f"/api/projects/{legacy.pk}/")
    assert got.status_code == 200
    assert got.json()["parsed_label_config"]["box"]["labels"][1] == STORED_LABEL
    following = world.member.client.get(f"/api/projects/{legacy.pk}/next")
    assert following.status_code == 200, following.content
    assert following.json()["data"] == {"image": "/data/a.png"}
    formats = world.admin.client.get(f"/api/projects/{legacy.pk}/export/formats")
    assert formats.status_code == 200
    assert "COCO" in [f["name"] for f in formats.json() if not f.get("disabled")]


def test_every_image_format_exports(world: World, legacy: Project) -> None:
    assert annotate(world, legacy, STORED_LABEL).status_code == 201
    tasks = exported_json(world.admin.client, legacy, "?export_type=JSON")
    (result,) = [t["annotations"][0]["result"] for t in tasks if t["annotations"]]
    assert result[0]["value"]["rectanglelabels"] == [STORED_LABEL]
    coco = json.loads(
        archive(export(world.admin.client, legacy, "?export_type=COCO")).read("result.json")
    )
    assert STORED_LABEL in [c["name"] for c in coco["categories"]]
    classes = archive(export(world.admin.client, legacy, "?export_type=YOLO")).read("classes.txt")
    assert classes.decode().splitlines() == ["Cat Zebra", "Dog", "Owl "]
    voc = archive(export(world.admin.client, legacy, "?export_type=VOC"))
    (member,) = voc.namelist()
    assert b"<name>Cat\nZebra</name>" in voc.read(member)
    csv = export(world.admin.client, legacy, "?export_type=CSV")
    assert csv.status_code == 200
    assert b"Cat\\nZebra" in body(csv)


# --- Config changes are checked by today's rules -------------------------------------------


def send(world: World, project: Project, config: str) -> list[Any]:
    url = f"/api/projects/{project.pk}/"
    return [
        world.admin.client.post(f"{url}validate/", {"label_config": config}, format="json"),
        world.admin.client.patch(url, {"label_config": config}, format="json"),
    ]


def test_sending_the_stored_config_back_is_refused(world: World, legacy: Project) -> None:
    for response in send(world, legacy, LEGACY):
        assert response.status_code == 400
        messages = response.json()["validation_errors"]["label_config"]
        assert any(r'"Cat\nZebra" contains a control character' in m for m in messages)
    assert Project.objects.get(pk=legacy.pk).label_config == LEGACY


def test_other_fields_change_without_the_config(world: World, legacy: Project) -> None:
    response = world.admin.client.patch(
        f"/api/projects/{legacy.pk}/", {"title": "Renamed"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert Project.objects.get(pk=legacy.pk).label_config == LEGACY


def test_a_valid_config_replaces_it(world: World, legacy: Project) -> None:
    assert annotate(world, legacy, "Dog").status_code == 201
    for response in send(world, legacy, RENAMED):
        assert response.status_code == 200, response.content
    assert Project.objects.get(pk=legacy.pk).label_config == RENAMED


def test_a_config_orphaning_a_stored_label_is_refused(world: World, legacy: Project) -> None:
    assert annotate(world, legacy, STORED_LABEL).status_code == 201
    for response in send(world, legacy, RENAMED):
        assert response.status_code == 400
        (message,) = response.json()["validation_errors"]["label_config"]
        assert message == r"Label 'Cat\nZebra' of control 'box' is used by existing annotations"
    assert Project.objects.get(pk=legacy.pk).label_config == LEGACY


@pytest.mark.django_db(transaction=True)
def test_snapshots_are_written_and_converted(
    world: World, legacy: Project, tmp_path: Path, settings: Any
) -> None:
    settings.EXPORTS_ROOT = tmp_path / "exports"
    assert annotate(world, legacy, STORED_LABEL).status_code == 201
    url = f"/api/projects/{legacy.pk}/exports/"
    snapshot = world.admin.client.post(url, {"title": "old"}, format="json").json()["id"]
    run_batch()
    world.admin.client.post(f"{url}{snapshot}/convert", {"export_type": "YOLO"}, format="json")
    run_batch()
    done = world.admin.client.get(f"{url}{snapshot}").json()
    assert done["status"] == "completed"
    assert [c["status"] for c in done["converted_formats"]] == ["completed"]
    yolo = archive(world.admin.client.get(f"{url}{snapshot}/download?exportType=YOLO"))
    assert yolo.read("classes.txt").decode().splitlines() == ["Cat Zebra", "Dog", "Owl "]

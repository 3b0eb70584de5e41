"""Results of controls inside a <Repeater>: `labels_0` is `labels_{{idx}}` at index 0."""

from __future__ import annotations

from typing import Any

from labelkeep.projects.labelconfig import Usage, parse, usage_conflicts, validate_result
from tests.conftest import World
from tests.dataio.test_export_support import body

REPEATER = """<View>
  <Repeater on="$images" indexFlag="{{idx}}">
    <Image name="image_{{idx}}" value="$images[{{idx}}].url"/>
    <RectangleLabels name="labels_{{idx}}" toName="image_{{idx}}">
      <Label value="Document Title"/>
    </RectangleLabels>
  </Repeater>
</View>"""


def box(from_name: str, to_name: str, label: str = "Document Title") -> dict[str, object]:
    return {
        "id": "r1",
        "from_name": from_name,
        "to_name": to_name,
        "type": "rectanglelabels",
        "value": {"x": 1, "y": 2, "width": 3, "height": 4, "rectanglelabels": [label]},
    }


def test_an_indexed_result_fits_its_template() -> None:
    config = parse(REPEATER)
    assert validate_result(config, [box("labels_0", "image_0")]) == []
    assert validate_result(config, [box("labels_12", "image_12")]) == []


def test_indexed_results_are_still_checked() -> None:
    config = parse(REPEATER)
    # Another index's object, a label the control lacks, a name that is not an index.
    assert validate_result(config, [box("labels_0", "image_1")])
    assert validate_result(config, [box("labels_0", "image_0", "Signature")])
    assert validate_result(config, [box("labels_x", "image_x")])
    assert validate_result(config, [box("labels_", "image_")])


def test_a_config_keeping_the_template_keeps_indexed_usage() -> None:
    config = parse(REPEATER)
    used = Usage("labels_3", "image_3", "rectanglelabels", "Document Title")
    assert usage_conflicts(config, used) == []
    gone = Usage("labels_3", "image_3", "rectanglelabels", "Signature")
    assert usage_conflicts(config, gone)


def _project_with_task(client: Any) -> tuple[dict[str, Any], str]:
    """A Repeater project with one two-page task; the task's annotations URL."""
    project = client.post(
        "/api/projects/", {"title": "Pages", "label_config": REPEATER}, format="json"
    ).json()
    task = client.post(
        "/api/tasks/",
        {"project": project["id"], "data": {"images": [{"url": "/a.png"}, {"url": "/b.png"}]}},
        format="json",
    )
    assert task.status_code == 201, task.content
    return project, f"/api/tasks/{task.json()['id']}/annotations/"


def test_an_annotation_on_a_repeated_control_is_saved(world: World) -> None:
    client = world.admin.client
    project, url = _project_with_task(client)
    saved = client.post(url, {"result": [box("labels_1", "image_1")]}, format="json")
    assert saved.status_code == 201, saved.content
    wrong = client.post(url, {"result": [box("labels_1", "image_0")]}, format="json")
    assert wrong.status_code == 400
    # Every format that fits the config exports it (the region of `labels_1` included).
    for export_type in ("JSON", "JSON_MIN", "CSV", "COCO", "YOLO", "VOC"):
        response = client.get(f"/api/projects/{project['id']}/export?export_type={export_type}")
        assert response.status_code == 200, (export_type, response.content)
        content = body(response)
        assert content, export_type
        if export_type == "JSON":
            assert b"labels_1" in content


def test_removing_a_repeated_control_in_use_is_refused(world: World) -> None:
    """The config-change scan finds `labels_0` results for the `labels_{{idx}}` control."""
    client = world.admin.client
    project, url = _project_with_task(client)
    made = client.post(url, {"result": [box("labels_0", "image_0")]}, format="json")
    assert made.status_code == 201, made.content
    without = REPEATER.replace(
        '<RectangleLabels name="labels_{{idx}}" toName="image_{{idx}}">\n'
        '      <Label value="Document Title"/>\n'
        "    </RectangleLabels>\n",
        "",
    )
    assert "RectangleLabels" not in without
    refused = client.patch(
        f"/api/projects/{project['id']}/", {"label_config": without}, format="json"
    )
    assert refused.status_code == 400, refused.content
    assert "Control 'labels_0' is used by existing annotations" in refused.content.decode()
    renamed = REPEATER.replace("labels_{{idx}}", "boxes_{{idx}}")
    assert (
        client.patch(
            f"/api/projects/{project['id']}/", {"label_config": renamed}, format="json"
        ).status_code
        == 400
    )
    kept = REPEATER.replace(
        '<Label value="Document Title"/>', '<Label value="Document Title"/><Label value="Stamp"/>'
    )
    assert (
        client.patch(
            f"/api/projects/{project['id']}/", {"label_config": kept}, format="json"
        ).status_code
        == 200
    )

"""Shared pieces of the export tests: labeling configs, projects with labels, downloads.

(Named test_export_* so it lives with the export tests; it holds no tests itself.)
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import services as tasks
from labelkeep.tasks.models import Task
from tests.conftest import TEST_ORIGIN, World

TEXT_CONFIG = """
<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
  </Choices>
</View>
"""

NER_CONFIG = """
<View>
  <Labels name="label" toName="text">
    <Label value="PER"/>
    <Label value="LOC"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>
"""

IMAGE_CONFIG = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image">
    <Label value="Cat"/>
    <Label value="Dog"/>
  </RectangleLabels>
  <PolygonLabels name="outline" toName="image">
    <Label value="Cat"/>
    <Label value="Dog"/>
  </PolygonLabels>
</View>
"""

KEYPOINT_CONFIG = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image">
    <Label value="Person"/>
  </RectangleLabels>
  <KeyPointLabels name="kp" toName="image">
    <Label value="nose" model_index="0"/>
    <Label value="eye" model_index="1"/>
  </KeyPointLabels>
</View>
"""


def make_project(world: World, config: str, title: str = "Export me") -> Project:
    made = projects.create_project(
        world.org,
        {"title": title, "label_config": config},
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    projects.add_members(made, [world.member.user], actor=world.admin.user, origin=TEST_ORIGIN)
    return made


def add_tasks(project: Project, world: World, data: list[dict[str, Any]]) -> list[int]:
    created = tasks.create_tasks(
        project, [tasks.NewTask(data=d) for d in data], actor=world.admin.user, origin=TEST_ORIGIN
    )
    return created.task_ids


def annotate(task_id: int, result: list[dict[str, Any]], world: World, **fields: Any) -> int:
    task = Task.objects.select_related("project").get(pk=task_id)
    annotation = tasks.create_annotation(
        task,
        {"result": result, **fields},
        actor=world.member.user,
        completed_by=world.member.user,
        origin=TEST_ORIGIN,
    )
    return annotation.pk


def choice(label: str) -> list[dict[str, Any]]:
    return [
        {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [label]},
        }
    ]


def span(start: int, end: int, text: str, label: str) -> dict[str, Any]:
    return {
        "from_name": "label",
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": end, "text": text, "labels": [label]},
    }


def box(x: float, y: float, w: float, h: float, label: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": extra.pop("id", f"b{x}{y}"),
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": 200,
        "original_height": 100,
        "value": {
            "x": x,
            "y": y,
            "width": w,
            "height": h,
            "rotation": 0,
            "rectanglelabels": [label],
        }
        | extra,
    }


def polygon(points: list[list[float]], label: str) -> dict[str, Any]:
    return {
        "id": "p1",
        "from_name": "outline",
        "to_name": "image",
        "type": "polygonlabels",
        "original_width": 200,
        "original_height": 100,
        "value": {"points": points, "polygonlabels": [label]},
    }


def keypoint(x: float, y: float, label: str, parent: str) -> dict[str, Any]:
    return {
        "id": f"k{label}",
        "parentID": parent,
        "from_name": "kp",
        "to_name": "image",
        "type": "keypointlabels",
        "original_width": 200,
        "original_height": 100,
        "value": {"x": x, "y": y, "width": 1, "keypointlabels": [label]},
    }


def export(client: Any, project: Project, query: str = "") -> Any:
    return client.get(f"/api/projects/{project.pk}/export{query}")


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def exported_json(client: Any, project: Project, query: str = "") -> Any:
    response = export(client, project, query)
    assert response.status_code == 200, response.content if not response.streaming else ""
    return json.loads(body(response))


def archive(response: Any) -> zipfile.ZipFile:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(body(response)))

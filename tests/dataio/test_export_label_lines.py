"""Line-based exports stay one line per class and per token, even for a label with a line
break stored before configs and results refused them (tests/projects/test_label_characters.py)."""

from __future__ import annotations

import json

import pytest

from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation
from tests.conftest import TEST_ORIGIN, World
from tests.dataio.test_export_support import (
    add_tasks,
    archive,
    body,
    box,
    export,
    make_project,
    span,
)

DYNAMIC_BOXES = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="box" toName="image" value="$classes"/></View>'
)
DYNAMIC_SPANS = (
    '<View><Text name="text" value="$text"/>'
    '<Labels name="label" toName="text" value="$tags"/></View>'
)


def stored_as_before(project: Project, task_id: int, result: list[dict[str, object]]) -> None:
    """An annotation written before results were checked for control characters."""
    Annotation.objects.create(task_id=task_id, project=project, result=result)


def test_the_audit_config_is_refused_when_saved(world: World) -> None:
    config = (
        '<View><Image name="image" value="$image"/><RectangleLabels name="box" toName="image">'
        '<Label value="Cat&#10;Zebra"/><Label value="Dog"/><Label value="Owl"/>'
        "</RectangleLabels></View>"
    )
    fields = {"title": "Zoo", "label_config": config}
    with pytest.raises(projects.ProjectError, match="contains a control character"):
        projects.create_project(world.org, fields, actor=world.admin.user, origin=TEST_ORIGIN)


def test_yolo_classes_keep_one_line_each(world: World) -> None:
    project = make_project(world, DYNAMIC_BOXES)
    ids = add_tasks(project, world, [{"image": f"/data/upload/1/{n}.jpg"} for n in range(3)])
    stored_as_before(project, ids[0], [box(0, 0, 10, 10, "Cat\nZebra", id="a")])
    stored_as_before(project, ids[1], [box(0, 0, 10, 10, "Dog", id="b")])
    stored_as_before(project, ids[2], [box(0, 0, 10, 10, "Owl\u2028", id="c")])
    with archive(export(world.admin.client, project, "?export_type=YOLO")) as zipped:
        classes = zipped.read("classes.txt").decode().splitlines()
        notes = json.loads(zipped.read("notes.json"))
        first = zipped.read("labels/0.txt").decode()
    assert classes == ["Cat Zebra", "Dog", "Owl "]  # three classes, three lines
    assert [c["name"] for c in notes["categories"]] == ["Cat\nZebra", "Dog", "Owl\u2028"]
    assert first.startswith("0 ")


def test_conll_tags_stay_on_their_token_line(world: World) -> None:
    project = make_project(world, DYNAMIC_SPANS)
    (task,) = add_tasks(project, world, [{"text": "Ada lived"}])
    stored_as_before(project, task, [span(0, 3, "Ada", "PER\nSON")])
    response = export(world.admin.client, project, "?export_type=CONLL2003")
    assert body(response).decode().splitlines() == [
        "-DOCSTART- -X- O",
        "Ada -X- _ B-PER_SON",
        "lived -X- _ O",
        "",
    ]

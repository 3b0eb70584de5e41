"""Values the file formats fix: whole-pixel image sizes (COCO, VOC) and one-column tags
whatever the label (CoNLL)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labelkeep.dataio.exporting.conll import tag_label
from tests.conftest import World
from tests.dataio.test_export_support import (
    IMAGE_CONFIG,
    add_tasks,
    annotate,
    archive,
    body,
    box,
    export,
    make_project,
    span,
)


def sized(label: str, width: float, height: float) -> dict[str, Any]:
    return box(10, 10, 50, 50, label) | {"original_width": width, "original_height": height}


def test_coco_image_sizes_are_integers(world: World) -> None:
    project = make_project(world, IMAGE_CONFIG)
    ids = add_tasks(project, world, [{"image": f"/data/upload/1/{n}.jpg"} for n in range(3)])
    annotate(ids[0], [box(10, 10, 50, 50, "Cat")], world)  # 200 x 100, as most results say
    annotate(ids[1], [sized("Dog", 199.6, 100.4)], world)  # nothing stops a float
    query = "?export_type=COCO&download_all_tasks=true"
    with archive(export(world.admin.client, project, query)) as zipped:
        text = zipped.read("result.json").decode()
    coco = json.loads(text)
    sizes = [(image["width"], image["height"]) for image in coco["images"]]
    assert sizes == [(200, 100), (200, 100), (None, None)]
    assert all(type(side) is int for pair in sizes[:2] for side in pair)
    assert '"width": 200, "height": 100' in text  # not 200.0, which typed readers refuse
    # Regions sit on the size the image record declares.
    assert coco["annotations"][1]["bbox"] == [20.0, 10.0, 100.0, 50.0]


def test_a_tiny_size_still_names_an_image(world: World) -> None:
    project = make_project(world, IMAGE_CONFIG)
    (task,) = add_tasks(project, world, [{"image": "/data/upload/1/dot.jpg"}])
    annotate(task, [sized("Cat", 0.4, 0.4)], world)
    with archive(export(world.admin.client, project, "?export_type=COCO")) as zipped:
        coco = json.loads(zipped.read("result.json"))
    assert (coco["images"][0]["width"], coco["images"][0]["height"]) == (1, 1)
    assert len(coco["annotations"]) == 1


def test_voc_sizes_and_boxes_are_integers(world: World) -> None:
    project = make_project(world, IMAGE_CONFIG)
    (task,) = add_tasks(project, world, [{"image": "/data/upload/1/a.jpg"}])
    annotate(task, [sized("Dog", 199.6, 100.4)], world)
    with archive(export(world.admin.client, project, "?export_type=VOC")) as zipped:
        xml = zipped.read("Annotations/a.xml").decode()
    assert "<width>200</width>" in xml and "<height>100</height>" in xml
    assert "<xmin>20</xmin>" in xml and "<xmax>120</xmax>" in xml


SPACED_LABELS = """
<View>
  <Labels name="label" toName="text">
    <Label value="New York Loc"/>
    <Label value="PER"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>
"""


def test_conll_tags_with_spaces_stay_one_column(world: World) -> None:
    project = make_project(world, SPACED_LABELS)
    text = "Ada flew to New York City."
    (task,) = add_tasks(project, world, [{"text": text}])
    annotate(task, [span(0, 3, "Ada", "PER"), span(12, 25, "New York City", "New York Loc")], world)
    lines = body(export(world.admin.client, project, "?export_type=CONLL2003")).decode()
    assert lines.splitlines() == [
        "-DOCSTART- -X- O",
        "Ada -X- _ B-PER",
        "flew -X- _ O",
        "to -X- _ O",
        "New -X- _ B-New_York_Loc",
        "York -X- _ I-New_York_Loc",
        "City -X- _ I-New_York_Loc",
        ". -X- _ O",
        "",
    ]
    assert all(len(line.split()) == 4 for line in lines.splitlines()[1:-1])


@pytest.mark.parametrize(
    ("label", "tag"),
    [
        ("LOC", "LOC"),
        ("New York Loc", "New_York_Loc"),
        ("New   York\tLoc", "New_York_Loc"),  # a run is one "_"
        (" padded ", "padded"),
        ("no\u00a0break", "no_break"),  # what str.split() splits, readers split
        ("Cat\nZebra", "Cat_Zebra"),
        ("Owl\u0085\u2028", "Owl"),
        ("bell\x07ringer", "bell_ringer"),  # a control character that is not whitespace
        ("snake_case", "snake_case"),
        ("a\u200bb", "a\u200bb"),  # zero width, not whitespace: kept
    ],
)
def test_tag_label(label: str, tag: str) -> None:
    assert tag_label(label) == tag
    assert len(f"w -X- _ B-{tag_label(label)}".split()) == 4

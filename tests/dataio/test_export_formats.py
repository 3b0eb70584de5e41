"""Every export format's shape, on text classification, NER spans and image regions."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.db import connection

from labelkeep.dataio.exporting import text
from labelkeep.dataio.exporting.conll import tags, tokens
from labelkeep.dataio.exporting.source import stamp
from labelkeep.tasks.models import Annotation, Prediction
from tests.conftest import World
from tests.dataio.test_export_support import (
    IMAGE_CONFIG,
    KEYPOINT_CONFIG,
    NER_CONFIG,
    TEXT_CONFIG,
    add_tasks,
    annotate,
    archive,
    body,
    box,
    choice,
    export,
    exported_json,
    keypoint,
    make_project,
    polygon,
    span,
)


@pytest.fixture
def text_project(world: World) -> Any:
    project = make_project(world, TEXT_CONFIG)
    ids = add_tasks(project, world, [{"text": f"review {n}"} for n in range(3)])
    annotate(ids[0], choice("Positive"), world, lead_time=2.5)
    annotate(ids[1], choice("Negative"), world, was_cancelled=True)
    Prediction.objects.create(task_id=ids[0], project=project, result=choice("Negative"), score=0.5)
    return project, ids


def test_json_has_label_studio_task_shape(world: World, text_project: Any) -> None:
    project, ids = text_project
    tasks = exported_json(world.admin.client, project)
    assert [t["id"] for t in tasks] == ids[:2]  # the unannotated task is left out
    first = tasks[0]
    assert first["data"] == {"text": "review 0"}
    assert first["project"] == project.pk
    assert first["drafts"] == [] and first["meta"] == {}
    assert first["predictions"] == [Prediction.objects.get(task_id=ids[0]).pk]  # ids, as LS 1.23
    assert first["total_annotations"] == 1
    (annotation,) = first["annotations"]
    stored = Annotation.objects.get(task_id=ids[0])
    assert annotation["id"] == stored.pk
    assert annotation["result"] == choice("Positive")
    assert annotation["completed_by"] == world.member.user.pk
    assert annotation["was_cancelled"] is False and annotation["ground_truth"] is False
    assert annotation["lead_time"] == 2.5
    assert annotation["task"] == ids[0] and annotation["project"] == project.pk
    api = world.admin.client.get(f"/api/annotations/{stored.pk}/").json()
    assert annotation["created_at"] == api["created_at"]  # the API's timestamp format
    assert annotation["updated_at"] == api["updated_at"]
    skipped = tasks[1]["annotations"][0]
    assert skipped["was_cancelled"] is True  # skipped annotations stay in JSON


def test_json_min_is_flat_per_annotation(world: World, text_project: Any) -> None:
    project, ids = text_project
    rows = exported_json(
        world.admin.client, project, "?export_type=JSON_MIN&download_all_tasks=true"
    )
    by_task = {row["id"]: row for row in rows}
    assert set(by_task) == {ids[0], ids[2]}  # a skipped-only task gives no row
    row = by_task[ids[0]]
    assert row["text"] == "review 0"
    assert row["sentiment"] == "Positive"  # a single choice as a plain string
    assert row["annotator"] == world.member.user.pk
    assert row["annotation_id"] == Annotation.objects.get(task_id=ids[0]).pk
    assert row["lead_time"] == 2.5
    empty = by_task[ids[2]]
    assert "sentiment" not in empty and empty["annotation_id"] is None


def test_csv_columns_and_rows(world: World, text_project: Any) -> None:
    project, ids = text_project
    response = export(world.admin.client, project, "?exportType=CSV")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert list(rows[0]) == sorted(
        [
            "annotation_id",
            "annotator",
            "created_at",
            "id",
            "lead_time",
            "sentiment",
            "text",
            "updated_at",
        ]
    )
    (row,) = rows  # the task with only a skipped annotation gives no row
    assert row["sentiment"] == "Positive" and row["text"] == "review 0"
    assert row["id"] == str(ids[0]) and row["annotator"] == str(world.member.user.pk)


def test_data_keys_named_like_record_fields_keep_their_values(world: World) -> None:
    """A CSV imported with an `id` (or `annotator`, or a control's name) column keeps it
    in CSV and JSON_MIN exports as `_data_<key>`, beside the task's own `id`."""
    project = make_project(world, TEXT_CONFIG)
    (task,) = add_tasks(
        project,
        world,
        [{"text": "t", "id": "row-7", "annotator": "from the sheet", "sentiment": "raw"}],
    )
    annotate(task, choice("Positive"), world)
    response = export(world.admin.client, project, "?exportType=CSV")
    (row,) = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert row["id"] == str(task) and row["_data_id"] == "row-7"
    assert row["annotator"] == str(world.member.user.pk)
    assert row["_data_annotator"] == "from the sheet"
    assert row["sentiment"] == "Positive" and row["_data_sentiment"] == "raw"
    (record,) = exported_json(world.admin.client, project, "?exportType=JSON_MIN")
    assert record["id"] == task and record["_data_id"] == "row-7"
    assert record["_data_annotator"] == "from the sheet" and record["_data_sentiment"] == "raw"
    assert record["sentiment"] == "Positive" and record["text"] == "t"


def test_renamed_data_keys_never_take_another_keys_name(world: World) -> None:
    """Data that already has `_data_sentiment` keeps it, and its `sentiment` (a control's
    name) moves one prefix further, in CSV, TSV and JSON_MIN alike."""
    project = make_project(world, TEXT_CONFIG)
    data = {"text": "x", "sentiment": "raw", "_data_sentiment": "other"}
    (task,) = add_tasks(project, world, [data])
    annotate(task, choice("Positive"), world)
    for export_type, delimiter in (("CSV", ","), ("TSV", "\t")):
        response = export(world.admin.client, project, f"?exportType={export_type}")
        reader = csv.DictReader(io.StringIO(body(response).decode()), delimiter=delimiter)
        (row,) = list(reader)
        assert reader.fieldnames is not None and len(set(reader.fieldnames)) == 10
        assert row["sentiment"] == "Positive"
        assert row["_data_sentiment"] == "other" and row["_data__data_sentiment"] == "raw"
    (record,) = exported_json(world.admin.client, project, "?exportType=JSON_MIN")
    assert record["sentiment"] == "Positive"
    assert record["_data_sentiment"] == "other" and record["_data__data_sentiment"] == "raw"


def test_csv_renames_among_every_tasks_keys_json_min_among_its_own(world: World) -> None:
    project = make_project(world, TEXT_CONFIG)
    ids = add_tasks(
        project, world, [{"text": "a", "id": "row-1"}, {"text": "b", "_data_id": "kept"}]
    )
    for task in ids:
        annotate(task, choice("Positive"), world)
    response = export(world.admin.client, project, "?exportType=CSV")
    rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(body(response).decode()))}
    assert rows[ids[0]]["_data__data_id"] == "row-1" and rows[ids[0]]["_data_id"] == ""
    assert rows[ids[1]]["_data_id"] == "kept" and rows[ids[1]]["_data__data_id"] == ""
    records = exported_json(world.admin.client, project, "?exportType=JSON_MIN")
    by_task = {r["id"]: r for r in records}
    assert by_task[ids[0]]["_data_id"] == "row-1"  # its task has no `_data_id` of its own
    assert by_task[ids[1]]["_data_id"] == "kept"


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"text"}, {}),
        ({"text", "id"}, {"id": "_data__data_id"}),  # `_data_id` is a control's name
        ({"sentiment", "_data_sentiment"}, {"sentiment": "_data__data_sentiment"}),
        # A control named `_data_id`: both keys are renamed, in sorted order, never alike.
        ({"id", "_data_id"}, {"_data_id": "_data__data_id", "id": "_data__data__data_id"}),
        (
            {"id", "_data_id", "_data__data_id", "_data__data__data_id"},
            {"_data_id": "_data__data__data__data_id", "id": "_data__data__data__data__data_id"},
        ),
    ],
)
def test_renamings_give_distinct_free_names(keys: set[str], expected: dict[str, str]) -> None:
    reserved = text.reserved_names(["sentiment", "_data_id"])
    renamed = text.renamings(keys, reserved)
    assert renamed == expected
    names = [renamed.get(key, key) for key in keys]
    assert len(set(names)) == len(keys) and not any(n in reserved for n in renamed.values())
    assert text.renamings(sorted(keys, reverse=True), reserved) == expected  # any key order


def test_tsv_and_lists_as_json(world: World) -> None:
    project = make_project(world, NER_CONFIG)
    (task,) = add_tasks(project, world, [{"text": "Ada Lovelace lived in London", "extra": [1, 2]}])
    annotate(task, [span(0, 12, "Ada Lovelace", "PER"), span(22, 28, "London", "LOC")], world)
    response = export(world.admin.client, project, "?export_type=TSV")
    (row,) = list(csv.DictReader(io.StringIO(body(response).decode()), delimiter="\t"))
    assert json.loads(row["extra"]) == [1, 2]
    labels = json.loads(row["label"])
    assert [item["labels"] for item in labels] == [["PER"], ["LOC"]]
    assert labels[0]["start"] == 0 and labels[0]["text"] == "Ada Lovelace"


def test_csv_cells_never_run_as_formulas(world: World) -> None:
    project = make_project(world, TEXT_CONFIG)
    attacks = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    if connection.vendor == "sqlite":  # PostgreSQL's JSON cannot hold a NUL at all
        attacks.append("\x00=1+1")
    ids = add_tasks(project, world, [{"text": a, "=cmd": "fine"} for a in attacks])
    for task_id in ids:
        annotate(task_id, choice("Positive"), world)
    response = export(world.admin.client, project, "?export_type=CSV")
    rows = list(csv.DictReader(io.StringIO(body(response).decode(), newline="")))
    assert "'=cmd" in rows[0]  # header names too
    assert sorted(r["text"] for r in rows) == sorted("'" + a for a in attacks)
    assert all(r["'=cmd"] == "fine" for r in rows)


def test_conll_bio_tags(world: World) -> None:
    project = make_project(world, NER_CONFIG)
    (task,) = add_tasks(project, world, [{"text": "Ada Lovelace lived in London."}])
    annotate(task, [span(0, 12, "Ada Lovelace", "PER"), span(22, 28, "London", "LOC")], world)
    response = export(world.admin.client, project, "?export_type=CONLL2003")
    text = body(response).decode()
    assert text.splitlines() == [
        "-DOCSTART- -X- O",
        "Ada -X- _ B-PER",
        "Lovelace -X- _ I-PER",
        "lived -X- _ O",
        "in -X- _ O",
        "London -X- _ B-LOC",
        ". -X- _ O",
        "",
    ]


def test_conll_tokens_follow_treebank_conventions() -> None:
    words = tokens("I don't like U.S. cafés, it's 1,000 well-known ones.")
    assert [w for w, _, _ in words] == (
        [
            "I",
            "do",
            "n't",
            "like",
            "U.S",
            ".",
            "cafés",
            ",",
            "it",
            "'s",
            "1,000",
            "well-known",
            "ones",
            ".",
        ]
    )
    adjacent = tags(
        tokens("New York New York"),
        [
            {"start": 0, "end": 8, "labels": ["LOC"]},
            {"start": 9, "end": 17, "labels": ["LOC"]},
        ],
    )
    assert adjacent == ["B-LOC", "I-LOC", "B-LOC", "I-LOC"]


@pytest.fixture
def image_project(world: World) -> Any:
    project = make_project(world, IMAGE_CONFIG)
    ids = add_tasks(
        project,
        world,
        [{"image": "/data/upload/1/cat.jpg"}, {"image": "https://cdn.example/dog.png?x=1"}],
    )
    annotate(
        ids[0],
        [box(10, 20, 50, 40, "Cat"), polygon([[0, 0], [50, 0], [50, 50]], "Dog")],
        world,
    )
    annotate(ids[1], [box(0, 0, 100, 100, "Dog")], world)
    return project, ids


def test_coco(world: World, image_project: Any) -> None:
    project, _ = image_project
    with archive(export(world.admin.client, project, "?export_type=COCO")) as zipped:
        assert zipped.namelist() == ["result.json"]  # no images unless asked for
        coco = json.loads(zipped.read("result.json"))
    assert coco["categories"] == [{"id": 0, "name": "Cat"}, {"id": 1, "name": "Dog"}]
    assert coco["images"] == [
        {"width": 200, "height": 100, "id": 0, "file_name": "/data/upload/1/cat.jpg"},
        {"width": 200, "height": 100, "id": 1, "file_name": "https://cdn.example/dog.png?x=1"},
    ]
    rect, poly, whole = coco["annotations"]
    assert rect == {
        "id": 0,
        "image_id": 0,
        "category_id": 0,
        "segmentation": [],
        "bbox": [20.0, 20.0, 100.0, 40.0],
        "area": 4000.0,
        "ignore": 0,
        "iscrowd": 0,
    }
    assert poly["category_id"] == 1
    assert poly["segmentation"] == [[0.0, 0.0, 100.0, 0.0, 100.0, 50.0]]
    assert poly["bbox"] == [0.0, 0.0, 100.0, 50.0] and poly["area"] == 2500.0
    assert whole["image_id"] == 1 and whole["bbox"] == [0.0, 0.0, 200.0, 100.0]
    assert {"year", "version", "contributor", "date_created"} <= set(coco["info"])


def test_coco_rotated_box_is_enclosed(world: World) -> None:
    project = make_project(world, IMAGE_CONFIG)
    (task,) = add_tasks(project, world, [{"image": "/data/upload/1/a.jpg"}])
    annotate(task, [box(50, 50, 10, 20, "Cat", rotation=90)], world)
    with archive(export(world.admin.client, project, "?export_type=COCO")) as zipped:
        (rect,) = json.loads(zipped.read("result.json"))["annotations"]
    # A 20 by 20 px box turned a quarter clockwise about its top-left corner (100, 50).
    assert rect["bbox"] == pytest.approx([80.0, 50.0, 20.0, 20.0])


def test_yolo(world: World, image_project: Any) -> None:
    project, _ = image_project
    with archive(export(world.admin.client, project, "?export_type=YOLO")) as zipped:
        names = set(zipped.namelist())
        assert names == {"labels/cat.txt", "labels/dog.txt", "classes.txt", "notes.json"}
        assert zipped.read("classes.txt") == b"Cat\nDog\n"
        cat = zipped.read("labels/cat.txt").decode().splitlines()
        notes = json.loads(zipped.read("notes.json"))
    assert cat == ["0 0.35 0.4 0.5 0.4", "1 0 0 0.5 0 0.5 0.5"]
    assert notes["categories"] == [{"id": 0, "name": "Cat"}, {"id": 1, "name": "Dog"}]


def categorized_boxes(labels: str) -> str:
    return (
        '<View><Image name="image" value="$image"/>'
        f'<RectangleLabels name="box" toName="image">{labels}</RectangleLabels></View>'
    )


def yolo_classes(zipped: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """classes.txt's lines, and notes.json's categories, which must say the same."""
    lines = zipped.read("classes.txt").decode().splitlines()
    notes = json.loads(zipped.read("notes.json"))["categories"]
    assert notes == [{"id": n, "name": name} for n, name in enumerate(lines)]
    return lines, notes


def test_yolo_class_lines_are_class_ids_when_a_category_skips_some(world: World) -> None:
    config = categorized_boxes('<Label value="Cat" category="3"/><Label value="Dog"/>')
    project = make_project(world, config)
    (task,) = add_tasks(project, world, [{"image": "/data/upload/1/pets.jpg"}])
    annotate(task, [box(10, 20, 50, 40, "Cat"), box(0, 0, 10, 10, "Dog")], world)
    with archive(export(world.admin.client, project, "?export_type=YOLO")) as zipped:
        labels = zipped.read("labels/pets.txt").decode().splitlines()
        lines, _ = yolo_classes(zipped)
    assert [line.split()[0] for line in labels] == ["3", "0"]
    assert lines == ["Dog", "unused_1", "unused_2", "Cat"]
    assert lines[3] == "Cat" and lines[0] == "Dog"  # the label files' ids name their classes
    with archive(export(world.admin.client, project, "?export_type=COCO")) as zipped:
        coco = json.loads(zipped.read("result.json"))
    assert coco["categories"] == [{"id": 0, "name": "Dog"}, {"id": 3, "name": "Cat"}]
    assert sorted(a["category_id"] for a in coco["annotations"]) == [0, 3]


def test_yolo_placeholders_shared_ids_and_huge_categories(world: World) -> None:
    config = categorized_boxes(
        '<Label value="Kitten" category="3"/><Label value="Cat" category="3"/>'
        '<Label value="unused_2"/><Label value="Huge" category="100000"/>'
    )
    project = make_project(world, config)
    (task,) = add_tasks(project, world, [{"image": "/data/upload/1/pets.jpg"}])
    annotate(task, [box(10, 20, 50, 40, "Kitten"), box(0, 0, 10, 10, "Huge")], world)
    with archive(export(world.admin.client, project, "?export_type=YOLO")) as zipped:
        labels = zipped.read("labels/pets.txt").decode().splitlines()
        lines, _ = yolo_classes(zipped)
    # `Huge` and `unused_2` have no usable category: ids 0 and 1 by name. Id 2 is unused,
    # and its placeholder may not take the label's name; Cat and Kitten share id 3.
    assert lines == ["Huge", "unused_2", "_unused_2", "Cat / Kitten"]
    assert [line.split()[0] for line in labels] == ["3", "0"]
    with archive(export(world.admin.client, project, "?export_type=COCO")) as zipped:
        coco = json.loads(zipped.read("result.json"))
    # COCO: one category per id, so labels sharing an id share the entry too.
    # (COCO has no line per id, so `Huge` keeps its category there.)
    assert coco["categories"] == [
        {"id": 0, "name": "unused_2"},
        {"id": 3, "name": "Cat / Kitten"},
        {"id": 100000, "name": "Huge"},
    ]


def test_voc(world: World, image_project: Any) -> None:
    project, _ = image_project
    with archive(export(world.admin.client, project, "?export_type=VOC")) as zipped:
        assert set(zipped.namelist()) == {"Annotations/cat.xml", "Annotations/dog.xml"}
        xml = zipped.read("Annotations/cat.xml").decode()
    assert "<filename>cat.jpg</filename>" in xml
    assert "<width>200</width>" in xml and "<height>100</height>" in xml
    assert xml.count("<object>") == 1  # polygons are not boxes
    assert "<name>Cat</name>" in xml
    for tag, value in (("xmin", 20), ("ymin", 20), ("xmax", 120), ("ymax", 60)):
        assert f"<{tag}>{value}</{tag}>" in xml


def test_keypoints_in_coco_and_yolo(world: World) -> None:
    project = make_project(world, KEYPOINT_CONFIG)
    (task,) = add_tasks(project, world, [{"image": "/data/upload/1/person.jpg"}])
    annotate(
        task,
        [
            box(10, 10, 50, 80, "Person", id="r1"),
            keypoint(20, 30, "nose", "r1"),
            keypoint(25, 20, "eye", "r1"),
        ],
        world,
    )
    with archive(export(world.admin.client, project, "?export_type=COCO")) as zipped:
        coco = json.loads(zipped.read("result.json"))
    person = {"id": 0, "name": "Person"}
    skeleton = {"id": 1, "name": "default", "supercategory": "default"}
    assert coco["categories"] == [
        person,
        skeleton | {"keypoints": ["nose", "eye"], "skeleton": []},
    ]
    points = coco["annotations"][-1]
    assert points["keypoints"] == [40, 30, 2, 50, 20, 2]
    assert points["num_keypoints"] == 2 and points["bbox"] == [40, 20, 10, 10]
    with archive(export(world.admin.client, project, "?export_type=YOLO")) as zipped:
        (line,) = zipped.read("labels/person.txt").decode().splitlines()
    assert line == "0 0.35 0.5 0.5 0.8 0.2 0.3 2 0.25 0.2 2"


def test_ground_truth_wins_for_image_formats(world: World) -> None:
    project = make_project(world, IMAGE_CONFIG)
    (task,) = add_tasks(project, world, [{"image": "/data/upload/1/a.jpg"}])
    annotate(task, [box(0, 0, 10, 10, "Cat")], world, ground_truth=True)
    annotate(task, [box(0, 0, 10, 10, "Dog")], world)
    with archive(export(world.admin.client, project, "?export_type=YOLO")) as zipped:
        assert zipped.read("labels/a.txt").startswith(b"0 ")  # Cat, the ground truth


def test_same_image_name_twice_gets_distinct_files(world: World) -> None:
    project = make_project(world, IMAGE_CONFIG)
    ids = add_tasks(project, world, [{"image": "/data/upload/1/a.jpg"}, {"image": "/x/a.jpg"}])
    for task_id in ids:
        annotate(task_id, [box(0, 0, 10, 10, "Cat")], world)
    with archive(export(world.admin.client, project, "?export_type=YOLO")) as zipped:
        labels = sorted(n for n in zipped.namelist() if n.startswith("labels/"))
    assert labels == ["labels/a.txt", f"labels/a_{ids[1]}.txt"]


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        ("2026-01-02 03:04:05.123456", "2026-01-02T03:04:05.123456Z"),  # SQLite
        ("2026-01-02 03:04:05", "2026-01-02T03:04:05Z"),
        ("2026-01-02 03:04:05.5+00", "2026-01-02T03:04:05.500000Z"),  # PostgreSQL
        ("2026-01-02 03:04:05.123+00", "2026-01-02T03:04:05.123000Z"),
        ("2026-01-02 03:04:05+00", "2026-01-02T03:04:05Z"),
        ("2026-01-02 05:04:05.1+02", "2026-01-02T03:04:05.100000Z"),  # another offset
    ],
)
def test_timestamps_are_written_as_the_api_writes_them(stored: str, written: str) -> None:
    assert stamp(stored) == written


def _strict_json(text: bytes) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("export_type", ["COCO", "YOLO", "VOC"])
def test_unusable_geometry_is_left_out_without_breaking_the_export(
    world: World, export_type: str
) -> None:
    # Results are checked for names and labels only, so an annotator can store any numbers;
    # one such annotation must not cut every image export of the project short.
    project = make_project(world, IMAGE_CONFIG)
    bad_size = box(10, 10, 20, 20, "Dog") | {"original_width": 1e308}
    results = {
        "good": [box(10, 10, 20, 20, "Cat")],
        "huge": [box(1e308, 10, 1e308, 20, "Cat")],
        "bigint": [box(10**400, 10, 20, 20, "Cat")],
        "rotation": [box(10, 10, 20, 20, "Cat", rotation="abc")],
        "polygon": [polygon([[1e308, 0], [0, 0], [0, 1e308]], "Cat")],
        "size": [bad_size],
    }
    ids = add_tasks(project, world, [{"image": f"/data/upload/1/{n}.jpg"} for n in results])
    for task_id, result in zip(ids, results.values(), strict=True):
        annotate(task_id, result, world)
    with archive(export(world.admin.client, project, f"?export_type={export_type}")) as zipped:
        files = {name: zipped.read(name) for name in zipped.namelist()}
    if export_type == "COCO":
        coco = _strict_json(files["result.json"])
        # The size comes from the regions: unusable boxes give none, the polygon still does.
        assert [image["width"] for image in coco["images"]] == [200, None, None, None, 200, None]
        (only,) = coco["annotations"]
        assert only["image_id"] == 0 and only["bbox"] == [20.0, 10.0, 40.0, 20.0]
    elif export_type == "YOLO":
        lines = {n: files[f"labels/{n}.txt"].decode() for n in results}
        assert lines["good"] == "0 0.2 0.2 0.2 0.2\n"
        assert lines["size"] == "1 0.2 0.2 0.2 0.2\n"  # fractions need no image size
        assert not any(lines[n] for n in ("huge", "bigint", "rotation", "polygon"))
    else:
        assert [n for n in files if n.startswith("Annotations/")] == ["Annotations/good.xml"]


def test_label_attributes_that_are_not_numbers_are_ignored(world: World) -> None:
    config = KEYPOINT_CONFIG.replace('value="Person"', 'value="Person" category="²"')
    project = make_project(world, config.replace('model_index="1"', 'model_index="¹"'))
    (task,) = add_tasks(project, world, [{"image": "/data/upload/1/person.jpg"}])
    annotate(task, [box(10, 10, 50, 80, "Person", id="r1"), keypoint(20, 30, "eye", "r1")], world)
    with archive(export(world.admin.client, project, "?export_type=COCO")) as zipped:
        categories = json.loads(zipped.read("result.json"))["categories"]
    assert categories[0] == {"id": 0, "name": "Person"}
    assert categories[1]["keypoints"] == ["nose", "eye"]

"""YOLO: `labels/<image>.txt` per task (class and normalized box or polygon per line),
`classes.txt`, `notes.json`, and `images/` when resources are bundled; in a zip."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from labelkeep.dataio.exporting.bundle import ImageBundler
from labelkeep.dataio.exporting.context import ExportContext
from labelkeep.dataio.exporting.imaging import (
    Categories,
    Region,
    chosen_annotation,
    has_keypoints,
    image_key,
    keypoint_order,
    points_of,
    reference_of,
    regions,
)
from labelkeep.dataio.exporting.zipstream import ZipStream
from labelkeep.projects.labelconfig import CONTROL_CHARACTERS

# classes.txt needs a line for every id up to the largest, so a label's `category` is
# honoured only up to this id: one of 999,999,999 would ask for a file of gigabytes.
MAX_CLASS_ID = 99_999
PLACEHOLDER = "unused_{id}"


def _n(value: float) -> str:
    return format(value, ".8g")


def box_line(category: int, value: dict[str, Any]) -> str:
    """class x_center y_center width height, as fractions of the image."""
    x, y, w, h = (float(value[k]) / 100 for k in ("x", "y", "width", "height"))
    return " ".join([str(category), _n(x + w / 2), _n(y + h / 2), _n(w), _n(h)])


def polygon_line(category: int, value: dict[str, Any]) -> str | None:
    points = points_of(value)
    if not points:
        return None
    return " ".join([str(category), *(_n(c / 100) for point in points for c in point)])


def lines(found: list[Region], categories: Categories) -> list[str]:
    """One line per label of each box or polygon (a region with two labels gives two)."""
    out = []
    for region in found:
        for label in region.labels:
            category = categories.id_of(label)
            if region.shape == "rectangle":
                out.append(box_line(category, region.value))
            elif region.shape == "polygon" and (line := polygon_line(category, region.value)):
                out.append(line)
    return out


def pose_lines(found: list[Region], categories: Categories, order: list[str]) -> list[str]:
    """Pose format: each labeled box, then (x y visibility) for each keypoint inside it."""
    points: dict[Any, dict[str, Region]] = {}
    for region in found:
        if region.shape == "keypoint" and region.labels:
            points.setdefault(region.parent_id, {})[region.labels[0]] = region
    out = []
    for box in (r for r in found if r.shape == "rectangle" and r.labels):
        if box.labels[0] not in categories.ids:
            continue
        children = points.get(box.region_id, {}) if box.region_id is not None else {}
        triples = []
        for name in order:
            point = children.get(name)
            if point is None:
                triples += ["0", "0", "0"]
            else:
                triples += [_n(point.value["x"] / 100), _n(point.value["y"] / 100), "2"]
        out.append(" ".join([box_line(categories.ids[box.labels[0]], box.value), *triples]))
    return out


def _categories(ctx: ExportContext) -> tuple[Categories, list[str]]:
    if not has_keypoints(ctx.config):
        return Categories.of(ctx.config, largest=MAX_CLASS_ID), []
    boxes = [
        label
        for name, entry in ctx.config.parsed.items()
        if ctx.config.controls[name].type.lower() == "rectanglelabels"
        for label in entry["labels"]
    ]
    ordered = list(dict.fromkeys(boxes))
    return Categories({label: i for i, label in enumerate(ordered)}), keypoint_order(ctx.config)


def one_line(name: str) -> str:
    """A class name fit for classes.txt, where a class's id is its line number. Configs and
    results refuse labels with control characters, but results stored before that rule may
    hold one, and a line break would shift the id of every class after it."""
    return CONTROL_CHARACTERS.sub(" ", name)


def by_id(categories: Categories) -> list[dict[str, Any]]:
    """One class per id from 0 to the largest, in id order, for classes.txt, where line N
    names class N. A `category` attribute can skip ids; a skipped id gets a placeholder,
    `unused_<id>` (prefixed with `_` while a label has that name), so later lines keep their
    ids and trainers count a class no box uses. Labels sharing an id share its line, their
    names joined by ` / `."""
    names = {entry["id"]: entry["name"] for entry in categories.listed()}
    taken = {*categories.ids, *map(one_line, categories.ids)}
    listed = []
    for category in range(max(names, default=-1) + 1):
        if category in names:
            listed.append({"id": category, "name": names[category]})
            continue
        placeholder = PLACEHOLDER.format(id=category)
        while placeholder in taken:
            placeholder = "_" + placeholder
        listed.append({"id": category, "name": placeholder})
    return listed


def write_yolo(ctx: ExportContext) -> Iterator[bytes]:
    archive = ZipStream()
    bundler = ImageBundler(archive, ctx)
    categories, order = _categories(ctx)
    key = image_key(ctx.config)
    for task in ctx.source.tasks():
        placed = yield from bundler.place(task["id"], reference_of(task, key))
        found = regions(chosen_annotation(task), ctx.config)
        text = pose_lines(found, categories, order) if order else lines(found, categories)
        yield archive.add(f"labels/{placed.stem}.txt", "".join(f"{t}\n" for t in text).encode())
    listed = by_id(categories)
    if order:
        listed = [c | {"keypoints": order} for c in listed]
    yield archive.add("classes.txt", "".join(f"{one_line(c['name'])}\n" for c in listed).encode())
    notes = {"categories": listed, "info": {"version": "1.0", "contributor": "Labelkeep"}}
    yield archive.add("notes.json", json.dumps(notes, indent=2, ensure_ascii=False).encode())
    yield from bundler.finish()
    yield archive.finish()

"""Pascal VOC: `Annotations/<image>.xml` per annotated task (boxes in pixels), in a zip."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import escape

from labelkeep.dataio.exporting.bundle import ImageBundler, Placed
from labelkeep.dataio.exporting.context import ExportContext
from labelkeep.dataio.exporting.imaging import (
    Region,
    chosen_annotation,
    image_key,
    image_size,
    reference_of,
    regions,
)
from labelkeep.dataio.exporting.zipstream import ZipStream

_NOT_XML = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: Any) -> str:
    return escape(_NOT_XML.sub("", str(value)))


def _object(box: Region, width: int, height: int) -> str:
    value = box.value
    x, y = int(value["x"] / 100 * width), int(value["y"] / 100 * height)
    w, h = int(value["width"] / 100 * width), int(value["height"] / 100 * height)
    return (
        f"  <object>\n    <name>{_text(box.labels[0])}</name>\n    <pose>Unspecified</pose>\n"
        "    <truncated>0</truncated>\n    <difficult>0</difficult>\n"
        f"    <bndbox>\n      <xmin>{x}</xmin>\n      <ymin>{y}</ymin>\n"
        f"      <xmax>{x + w}</xmax>\n      <ymax>{y + h}</ymax>\n    </bndbox>\n  </object>\n"
    )


def document(placed: Placed, boxes: list[Region], size: tuple[int, int], annotator: Any) -> str:
    width, height = size
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<annotation>\n'
        f"  <folder>images</folder>\n  <filename>{_text(placed.stem + placed.suffix)}</filename>\n"
        f"  <source>\n    <database>Labelkeep</database>\n"
        f"    <annotator>{_text(annotator if annotator is not None else '')}</annotator>\n"
        "  </source>\n"
        f"  <size>\n    <width>{width}</width>\n    <height>{height}</height>\n"
        "    <depth>3</depth>\n  </size>\n  <segmented>0</segmented>\n"
        + "".join(_object(box, width, height) for box in boxes)
        + "</annotation>\n"
    )


def write_voc(ctx: ExportContext) -> Iterator[bytes]:
    archive = ZipStream()
    bundler = ImageBundler(archive, ctx)
    key = image_key(ctx.config)
    for task in ctx.source.tasks():
        placed = yield from bundler.place(task["id"], reference_of(task, key))
        annotation = chosen_annotation(task)
        found = regions(annotation, ctx.config)
        boxes = [r for r in found if r.shape == "rectangle" and r.labels]
        width, height = image_size(found)
        if not boxes or not width or not height:
            continue
        author = (annotation or {}).get("completed_by")
        if isinstance(author, dict):
            author = author.get("email")
        xml = document(placed, boxes, (round(width), round(height)), author)
        yield archive.add(f"Annotations/{placed.stem}.xml", xml.encode())
    yield from bundler.finish()
    yield archive.finish()

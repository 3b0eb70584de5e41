"""COCO: one `result.json` with images, categories and annotations (in pixels), in a zip."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from labelkeep.dataio.exporting.bundle import ImageBundler, JsonSpool
from labelkeep.dataio.exporting.context import ExportContext
from labelkeep.dataio.exporting.imaging import (
    GEOMETRY_CONTROLS,
    Categories,
    Region,
    bounded,
    chosen_annotation,
    has_keypoints,
    image_key,
    image_size,
    keypoint_order,
    points_of,
    reference_of,
    regions,
)
from labelkeep.dataio.exporting.zipstream import ZipStream


def rectangle_box(value: dict[str, Any], width: float, height: float) -> list[float]:
    """[x, y, w, h] in pixels of the axis-aligned box around a (rotated) rectangle.

    Label Studio rotates a rectangle clockwise by `rotation` degrees around its top-left
    corner; the rotation is applied in pixels so that non-square images stay right.
    """
    x, y = value["x"] * width / 100, value["y"] * height / 100
    w, h = value["width"] * width / 100, value["height"] * height / 100
    angle = math.radians(bounded(value.get("rotation")) or 0)
    if not angle:
        return [x, y, w, h]
    cos, sin = math.cos(angle), math.sin(angle)
    xs = [x + dx * cos - dy * sin for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]
    ys = [y + dx * sin + dy * cos for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def polygon_fields(
    points: list[tuple[float, float]], width: float, height: float
) -> dict[str, Any]:
    xs = [x * width / 100 for x, _ in points]
    ys = [y * height / 100 for _, y in points]
    # The shoelace formula
    twice = sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(xs)))
    return {
        "segmentation": [[c for pair in zip(xs, ys, strict=True) for c in pair]],
        "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
        "area": abs(twice) / 2,
    }


def _pixels(side: float | None) -> int | None:
    """An image side in whole pixels, as Label Studio writes it: results store
    original_width and original_height as integers, but nothing stops a float."""
    return max(1, round(side)) if side else None


class _Coco:
    def __init__(self, ctx: ExportContext) -> None:
        self.ctx = ctx
        kinds = GEOMETRY_CONTROLS - {"keypointlabels", "keypoint"}
        self.categories = Categories.of(ctx.config, kinds)
        self.order = keypoint_order(ctx.config) if has_keypoints(ctx.config) else []
        self.keypoint_category = max(self.categories.ids.values(), default=-1) + 1
        self.images, self.annotations = JsonSpool(), JsonSpool()

    def shapes(self, image_id: int, found: list[Region], size: tuple[float, float]) -> None:
        for region in found:
            if region.shape == "keypoint" or not region.labels:
                continue
            record = self._shape(region, *size)
            if record is not None:
                category = self.categories.id_of(region.labels[0])
                self._add(image_id, category, record | {"ignore": 0, "iscrowd": 0})
        points = [r for r in found if r.shape == "keypoint"]
        if points and self.order:
            self._add(image_id, self.keypoint_category, self._keypoints(points, *size))

    def _add(self, image_id: int, category: int, record: dict[str, Any]) -> None:
        head = {"id": self.annotations.count, "image_id": image_id, "category_id": category}
        self.annotations.add(head | record)

    @staticmethod
    def _shape(region: Region, width: float, height: float) -> dict[str, Any] | None:
        if region.shape == "rectangle":
            box = rectangle_box(region.value, width, height)
            return {"segmentation": [], "bbox": box, "area": box[2] * box[3]}
        points = points_of(region.value)
        return polygon_fields(points, width, height) if points else None

    def _keypoints(self, points: list[Region], width: float, height: float) -> dict[str, Any]:
        vector = [0] * (3 * len(self.order))
        for point in points:
            for label in point.labels:
                if label in self.order:
                    at = 3 * self.order.index(label)
                    vector[at] = round(point.value["x"] * width / 100)
                    vector[at + 1] = round(point.value["y"] * height / 100)
                    vector[at + 2] = 2
        seen = [i for i in range(len(self.order)) if vector[3 * i + 2]]
        xs, ys = [vector[3 * i] for i in seen], [vector[3 * i + 1] for i in seen]
        box = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)] if seen else [0, 0, 0, 0]
        return {"keypoints": vector, "num_keypoints": len(seen), "bbox": box, "iscrowd": 0}

    def listed_categories(self) -> list[dict[str, Any]]:
        listed = self.categories.listed()
        if self.order:
            listed.append(
                {
                    "id": self.keypoint_category,
                    "name": "default",
                    "supercategory": "default",
                    "keypoints": self.order,
                    "skeleton": [],
                }
            )
        return listed

    def document(self) -> tuple[list[Any], int]:
        """result.json as parts: the two spooled arrays between the small members."""
        now = datetime.now(tz=UTC)
        info = {"year": now.year, "version": "1.0", "description": "", "contributor": "Labelkeep"}
        info |= {"url": "", "date_created": now.isoformat()}
        middle = json.dumps(self.listed_categories(), ensure_ascii=False)
        images, images_size = self.images.parts(b'{"images": [', b"\n]")
        annotations, annotations_size = self.annotations.parts(
            f', "categories": {middle}, "annotations": ['.encode(),
            f'\n], "info": {json.dumps(info)}}}\n'.encode(),
        )
        return images + annotations, images_size + annotations_size


def write_coco(ctx: ExportContext) -> Iterator[bytes]:
    archive = ZipStream()
    bundler = ImageBundler(archive, ctx)
    coco = _Coco(ctx)
    key = image_key(ctx.config)
    for image_id, task in enumerate(ctx.source.tasks()):
        reference = reference_of(task, key)
        placed = yield from bundler.place(task["id"], reference)
        found = regions(chosen_annotation(task), ctx.config)
        width, height = (_pixels(side) for side in image_size(found))
        name = placed.member or (reference if isinstance(reference, str) else "")
        coco.images.add({"width": width, "height": height, "id": image_id, "file_name": name})
        if width and height:
            coco.shapes(image_id, found, (width, height))
    parts, size = coco.document()
    yield from archive.add_parts("result.json", parts, size)
    coco.images.close()
    coco.annotations.close()
    yield from bundler.finish()
    yield archive.finish()

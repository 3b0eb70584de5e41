"""The export formats, and which of them fit a labeling config (Label Studio's rules)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from labelkeep.dataio.exporting.coco import write_coco
from labelkeep.dataio.exporting.conll import write_conll
from labelkeep.dataio.exporting.context import ExportContext
from labelkeep.dataio.exporting.text import write_csv, write_json, write_json_min, write_tsv
from labelkeep.dataio.exporting.voc import write_voc
from labelkeep.dataio.exporting.yolo import write_yolo
from labelkeep.projects.labelconfig import LabelConfig

Writer = Callable[[ExportContext], Iterator[bytes]]


@dataclass(frozen=True)
class Format:
    name: str
    title: str
    description: str
    extension: str
    content_type: str
    write: Writer
    fits: Callable[[LabelConfig], bool]
    tags: tuple[str, ...] = ()
    bundles_images: bool = False  # the *_WITH_IMAGES names: images even without download_resources

    def describe(self, config: LabelConfig) -> dict[str, Any]:
        """The entry of `GET api/projects/{id}/export/formats` (Label Studio's keys)."""
        entry: dict[str, Any] = {"name": self.name, "title": self.title}
        entry["description"] = self.description
        if self.tags:
            entry["tags"] = list(self.tags)
        if not self.fits(config):
            entry["disabled"] = True
        return entry


def _kinds(config: LabelConfig) -> tuple[set[str], set[str]]:
    """(object tag types, control tag types) in lower case."""
    return (
        {tag.type.lower() for tag in config.objects.values()},
        {control.type.lower() for control in config.controls.values()},
    )


def _single_source(config: LabelConfig) -> bool:
    multi_image = any(
        "valueList" in item for entry in config.parsed.values() for item in entry["inputs"]
    )
    return len(config.data_keys) <= 1 and not multi_image


def _any(config: LabelConfig) -> bool:
    return True


def fits_conll(config: LabelConfig) -> bool:
    objects, controls = _kinds(config)
    return _single_source(config) and "text" in objects and "labels" in controls


def fits_voc(config: LabelConfig) -> bool:
    objects, controls = _kinds(config)
    boxes = "rectanglelabels" in controls or {"rectangle", "labels"} <= controls
    return _single_source(config) and "image" in objects and boxes


def fits_coco_yolo(config: LabelConfig) -> bool:
    objects, controls = _kinds(config)
    shapes = controls & {"rectanglelabels", "polygonlabels", "keypointlabels"} or (
        "labels" in controls and controls & {"rectangle", "polygon", "keypoint"}
    )
    # Keypoints are grouped under the boxes that hold them: without boxes there is no class.
    lone_keypoints = "keypointlabels" in controls and "rectanglelabels" not in controls
    return _single_source(config) and "image" in objects and bool(shapes) and not lone_keypoints


_IMAGE_TAGS = ("image segmentation", "object detection", "keypoints")
_ZIP = "application/zip"
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "JSON",
            "JSON",
            "Every task with its data, annotations and prediction ids, as one JSON array: "
            "Label Studio's own export format, which it imports back unchanged.",
            "json",
            "application/json",
            write_json,
            _any,
        ),
        Format(
            "JSON_MIN",
            "JSON-MIN",
            "One flat JSON object per annotation: the task data plus each control's value "
            "under the control's name.",
            "json",
            "application/json",
            write_json_min,
            _any,
        ),
        Format(
            "CSV",
            "CSV",
            "One row per annotation: task data columns, one column per control, and the "
            "annotation's id, author and times; comma-separated.",
            "csv",
            "text/csv; charset=utf-8",
            write_csv,
            _any,
        ),
        Format(
            "TSV",
            "TSV",
            "The CSV layout, tab-separated.",
            "tsv",
            "text/tab-separated-values; charset=utf-8",
            write_tsv,
            _any,
        ),
        Format(
            "CONLL2003",
            "CONLL2003",
            "Text spans as tokens tagged B-/I-<label> or O, the CoNLL-2003 named entity "
            "recognition layout.",
            "conll",
            "text/plain; charset=utf-8",
            write_conll,
            fits_conll,
            ("sequence labeling", "text tagging", "named entity recognition"),
        ),
        Format(
            "COCO",
            "COCO",
            "Boxes, polygons and keypoints in pixels with images and categories in one JSON "
            "file, for object detection and segmentation; a zip archive.",
            "zip",
            _ZIP,
            write_coco,
            fits_coco_yolo,
            _IMAGE_TAGS,
        ),
        Format(
            "COCO_WITH_IMAGES",
            "COCO with Images",
            "COCO format with the project's uploaded images included.",
            "zip",
            _ZIP,
            write_coco,
            fits_coco_yolo,
            _IMAGE_TAGS,
            bundles_images=True,
        ),
        Format(
            "VOC",
            "Pascal VOC XML",
            "One XML file of boxes in pixels per image, for object detection; a zip archive.",
            "zip",
            _ZIP,
            write_voc,
            fits_voc,
            ("image segmentation", "object detection"),
        ),
        Format(
            "YOLO",
            "YOLO",
            "One text file per image with a line per box or polygon (class, then coordinates "
            "as fractions of the image), plus classes.txt; a zip archive.",
            "zip",
            _ZIP,
            write_yolo,
            fits_coco_yolo,
            _IMAGE_TAGS,
        ),
        Format(
            "YOLO_WITH_IMAGES",
            "YOLO with Images",
            "YOLO format with the project's uploaded images included.",
            "zip",
            _ZIP,
            write_yolo,
            fits_coco_yolo,
            _IMAGE_TAGS,
            bundles_images=True,
        ),
    )
}


def get_format(name: str) -> Format | None:
    return FORMATS.get(name.strip().upper())


def listed(config: LabelConfig) -> list[dict[str, Any]]:
    """Every format, those that fit the config first (Label Studio's order)."""
    entries = [f.describe(config) for f in FORMATS.values()]
    return sorted(entries, key=lambda entry: bool(entry.get("disabled")))

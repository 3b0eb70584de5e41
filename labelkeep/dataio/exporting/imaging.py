"""What COCO, YOLO and VOC share: the chosen annotation's regions, categories, image names."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from labelkeep.dataio.exporting.resources import LOCAL_FILES_PREFIX
from labelkeep.projects.labelconfig import LabelConfig

LABEL_KEYS = ("rectanglelabels", "polygonlabels", "keypointlabels", "labels")
GEOMETRY_CONTROLS = frozenset(
    {"rectanglelabels", "polygonlabels", "keypointlabels", "labels"}
    | {"rectangle", "polygon", "keypoint"}
)
_UNSAFE = re.compile(r"[^\w.\- ]+")
# Results are checked for names and labels, not numbers. Coordinates (percent) and image
# sizes (pixels) beyond these bounds describe no image, and would overflow the arithmetic.
MAX_PERCENT = 1e6
MAX_PIXELS = 1e7


@dataclass(frozen=True)
class Region:
    """One labeled shape; coordinates in percent of the image, as results store them."""

    shape: str  # "rectangle", "polygon" or "keypoint"
    labels: list[str]
    value: dict[str, Any]
    width: float | None  # original image size in pixels, when the result carries it
    height: float | None
    region_id: Any = None
    parent_id: Any = None


def chosen_annotation(task: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The annotation an image format uses: the newest ground truth, else the newest one."""
    kept = [a for a in task.get("annotations") or () if not a.get("was_cancelled")]
    kept.sort(key=lambda a: (bool(a.get("ground_truth")), str(a.get("created_at") or "")))
    return kept[-1] if kept else None


def bounded(value: Any, limit: float = MAX_PERCENT) -> float | None:
    """`value` as a float when it is a finite number within ±`limit`, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and abs(value) > limit:
        return None  # before float(): an int of hundreds of digits overflows it
    number = float(value)
    return number if math.isfinite(number) and abs(number) <= limit else None


def points_of(value: Mapping[str, Any]) -> list[tuple[float, float]]:
    """A polygon's points in percent; empty unless all are [x, y] numbers and there are 3+."""
    raw = value.get("points")
    if not isinstance(raw, list) or len(raw) < 3:
        return []
    found = []
    for point in raw:
        if not isinstance(point, list) or len(point) < 2:
            return []
        x, y = bounded(point[0]), bounded(point[1])
        if x is None or y is None:
            return []
        found.append((x, y))
    return found


def _shape(value: Mapping[str, Any]) -> str | None:
    """The region's shape; None when a coordinate it needs is unusable."""
    if value.get("rotation") is not None and bounded(value["rotation"]) is None:
        return None
    if isinstance(value.get("points"), list):
        return "polygon"
    box = ("x", "y", "width", "height")
    if all(key in value for key in box):  # keypoints carry a width, never a height
        return "rectangle" if all(bounded(value[key]) is not None for key in box) else None
    if all(bounded(value.get(key)) is not None for key in ("x", "y")):
        return "keypoint"
    return None


def _labels(value: Mapping[str, Any]) -> list[str]:
    for key in LABEL_KEYS:
        found = value.get(key)
        if isinstance(found, list) and found:
            return [str(label) for label in found]
    return []


def regions(annotation: Mapping[str, Any] | None, config: LabelConfig) -> list[Region]:
    """The annotation's shapes made by the config's geometry controls."""
    geometry = {n for n, c in config.controls.items() if c.type.lower() in GEOMETRY_CONTROLS}
    found = []
    for result in (annotation or {}).get("result") or ():
        value = result.get("value") if isinstance(result, dict) else None
        if result.get("from_name") not in geometry or not isinstance(value, dict):
            continue
        shape = _shape(value)
        if shape:
            found.append(
                Region(
                    shape,
                    _labels(value),
                    value,
                    _number(result.get("original_width")),
                    _number(result.get("original_height")),
                    result.get("id"),
                    result.get("parentID"),
                )
            )
    return found


def _number(value: Any) -> float | None:
    size = bounded(value, MAX_PIXELS)
    return size if size is not None and size > 0 else None


def _index(value: Any) -> int | None:
    """A label attribute such as `category` or `model_index` as a number, if it is one."""
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def image_size(found: list[Region]) -> tuple[float | None, float | None]:
    for region in found:
        if region.width and region.height:
            return region.width, region.height
    return None, None


@dataclass
class Categories:
    """Label → category id: config labels sorted by name (or their `category`), then new ones."""

    ids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        config: LabelConfig,
        kinds: frozenset[str] = GEOMETRY_CONTROLS,
        largest: int | None = None,
    ) -> Categories:
        """The config's categories; a `category` above `largest` is ignored (the label is
        numbered as if it had none), for formats that need a line for every smaller id."""
        explicit: dict[str, int] = {}
        names: set[str] = set()
        for name, entry in config.parsed.items():
            if config.controls[name].type.lower() not in kinds:
                continue
            for label, attrs in entry.get("labels_attrs", {}).items():
                names.add(label)
                category = _index(attrs.get("category", ""))
                if category is not None and (largest is None or category <= largest):
                    explicit.setdefault(label, category)
        categories = cls(dict(explicit))
        for label in sorted(names - set(explicit)):
            categories.id_of(label)
        return categories

    def id_of(self, label: str) -> int:
        if label not in self.ids:
            used = set(self.ids.values())
            self.ids[label] = next(n for n in range(len(used) + 1) if n not in used)
        return self.ids[label]

    def listed(self) -> list[dict[str, Any]]:
        """One entry per id, in id order: labels sharing an id (by their `category`) share
        its entry, their names sorted and joined by ` / ` (COCO wants ids unique)."""
        names: dict[int, list[str]] = {}
        for label, category in sorted(self.ids.items()):
            names.setdefault(category, []).append(label)
        return [{"id": i, "name": " / ".join(names[i])} for i in sorted(names)]


def keypoint_order(config: LabelConfig) -> list[str]:
    """KeyPoint labels by their `model_index` (config order for labels without one)."""
    labels: dict[str, Mapping[str, Any]] = {}
    for name, entry in config.parsed.items():
        if config.controls[name].type.lower() == "keypointlabels":
            labels.update(entry.get("labels_attrs", {}))
    positions = {n: _index(a.get("model_index", "")) for n, a in labels.items()}
    indexed = sorted((at, n) for n, at in positions.items() if at is not None)
    ordered = list(dict.fromkeys(n for _, n in indexed))
    return ordered + [n for n in labels if n not in ordered]


def has_keypoints(config: LabelConfig) -> bool:
    return any(c.type.lower() == "keypointlabels" for c in config.controls.values())


def image_key(config: LabelConfig) -> str | None:
    for tag in config.objects.values():
        if tag.type.lower() == "image" and tag.data_keys:
            return tag.data_keys[0]
    return config.data_keys[0] if config.data_keys else None


def reference_of(task: Mapping[str, Any], key: str | None) -> Any:
    data = task.get("data")
    value = data.get(key) if isinstance(data, dict) and key else None
    if isinstance(value, list) and value:
        return value[0]
    return value


def file_name(reference: Any) -> str:
    """The last path segment a reference names (its `?d=` path for local-files URIs)."""
    if not isinstance(reference, str):
        return ""
    parts = urlsplit(reference)
    # Only the local-files endpoint names its file in `?d=`; any other URL's query
    # (`photo.jpg?id=5`, a signed URL's) says nothing of the file's name.
    local = not parts.scheme and parts.path.rstrip("/") == LOCAL_FILES_PREFIX
    path = parse_qs(parts.query).get("d", [""])[0] if local else unquote(parts.path)
    return PurePosixPath(path).name


def safe_name(name: str, fallback: str) -> tuple[str, str]:
    """(stem, suffix) fit for an archive member: no separators, no leading dots."""
    clean = _UNSAFE.sub("_", name).lstrip(". ")[:180]
    path = PurePosixPath(clean or fallback)
    suffix = path.suffix if len(path.suffix) <= 10 else ""
    return (path.stem if suffix else path.name) or fallback, suffix


class UniqueNames:
    """Archive names already used, in fixed memory: a Bloom filter.

    A false positive only renames a file that did not need it (`<stem>_<task id>`);
    memory stays 8 MiB however many tasks an export holds.
    """

    BITS = 1 << 26

    def __init__(self) -> None:
        self._bits = bytearray(self.BITS // 8)

    def _slots(self, name: str) -> Iterator[int]:
        digest = hashlib.blake2b(name.encode(), digest_size=12).digest()
        for start in (0, 4, 8):
            yield int.from_bytes(digest[start : start + 4], "little") % self.BITS

    def claim(self, stem: str, task_id: int) -> str:
        candidate, attempt = stem, 0
        while all(self._bits[s >> 3] & (1 << (s & 7)) for s in self._slots(candidate)):
            attempt += 1
            candidate = f"{stem}_{task_id}" + (f"_{attempt}" if attempt > 1 else "")
        for slot in self._slots(candidate):
            self._bits[slot >> 3] |= 1 << (slot & 7)
        return candidate

"""Label Studio's converter items: one per kept annotation of a task, its results by control.

A task without annotations gives one item with no outputs; skipped (cancelled)
annotations give none; the rest give one item each, newest first.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from labelkeep.projects.labelconfig import LabelConfig


@dataclass(frozen=True)
class Item:
    task_id: int
    data: dict[str, Any]
    annotation: Mapping[str, Any] = field(default_factory=dict)  # empty: the task has none
    outputs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def control_types(config: LabelConfig) -> dict[str, str]:
    """Control name → tag type (as written in the config), for controls that label objects."""
    return {name: entry["type"] for name, entry in config.parsed.items()}


def items(task: Mapping[str, Any], controls: Mapping[str, str]) -> Iterator[Item]:
    given = task.get("data")
    data: dict[str, Any] = given if isinstance(given, dict) else {}
    annotations = task.get("annotations") or []
    if not annotations:
        yield Item(task["id"], data)
        return
    kept = [a for a in annotations if not a.get("was_cancelled")]
    kept.sort(key=lambda a: str(a.get("created_at") or ""), reverse=True)
    for annotation in kept:
        yield Item(task["id"], data, annotation, outputs(annotation.get("result"), controls))


def outputs(result: Any, controls: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Each region's value (plus its control type and image size), grouped by control."""
    found: dict[str, list[dict[str, Any]]] = {}
    for region in result if isinstance(result, list) else ():
        if not isinstance(region, dict):
            continue
        name = region.get("from_name")
        if not isinstance(name, str) or name not in controls:
            continue
        if not isinstance(region.get("value"), dict):
            continue
        value = dict(region["value"], type=controls[name])
        for key in ("original_width", "original_height"):
            if key in region:
                value[key] = region[key]
        found.setdefault(name, []).append(value)
    return found


def prettify(values: list[dict[str, Any]]) -> Any:
    """A single choice or text as a plain string; anything else as the list of values."""
    pretty: list[Any] = []
    for value in values:
        kind = value.get("type")
        rest = {k: v for k, v in value.items() if k != "type"}
        if kind == "Choices" and len(rest.get("choices") or ()) == 1:
            pretty.append(rest["choices"][0])
        elif kind == "TextArea" and len(rest.get("text") or ()) == 1:
            pretty.append(rest["text"][0])
        else:
            pretty.append(rest)
    single = len(pretty) == 1 and values[0].get("type") in ("Choices", "TextArea")
    return pretty[0] if single else pretty


def annotator(item: Item, *, as_int: bool) -> Any:
    """Who made the annotation: the user id, or the email when the export expanded users."""
    author = item.annotation.get("completed_by")
    if isinstance(author, dict):
        return author.get("email")
    if author is None or as_int:
        return author
    return str(author)


def annotation_fields(item: Item) -> dict[str, Any]:
    return {
        "annotation_id": item.annotation.get("id"),
        "created_at": item.annotation.get("created_at"),
        "updated_at": item.annotation.get("updated_at"),
        "lead_time": item.annotation.get("lead_time"),
    }

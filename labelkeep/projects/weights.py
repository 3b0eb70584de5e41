"""A project's `control_weights`: how much each control tag, and each of its labels, counts
when annotations are compared (Label Studio's shape, docs/api-compatibility.md).

A project stores only the weights someone set; every control of its labeling config
reads as `{"type": <tag>, "overall": 1.0, "labels": {<label>: 1.0, …}}` unless set
otherwise, so the answer follows the config as it changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_WEIGHT = 1.0  # 0 leaves a control or label out of agreement; 1 counts it fully
MAX_LABELS = 1_000  # weights per control (a control with labels from the data has no list)
MAX_NAME = 200  # characters in a label's name
MAX_PROBLEMS = 20  # messages in one answer; the rest are counted
_KEYS = frozenset({"overall", "labels", "type"})


def _weight(value: Any, where: str, problems: list[str]) -> float | None:
    # Compared, never converted first: an integer of 400 digits is no float (NaN and
    # infinity fail the comparison too).
    number_like = isinstance(value, int | float) and not isinstance(value, bool)
    if not number_like or not 0 <= value <= MAX_WEIGHT:
        problems.append(f"{_shown(where)}: a number from 0 to {MAX_WEIGHT:g}.")
        return None
    return float(value)


def _shown(name: str) -> str:
    return name if len(name) <= MAX_NAME else f"{name[:MAX_NAME]}…"


def capped(problems: list[str]) -> list[str]:
    """At most MAX_PROBLEMS messages, and how many more there were."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], f"… and {len(problems) - MAX_PROBLEMS} more."]


def shape(data: Any) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The weights as sent, reduced to what is stored (`overall` and `labels` per control;
    `type` comes from the config), and what is wrong with their shape."""
    if not isinstance(data, Mapping):
        return {}, ["An object of control tag names, each with `overall` and `labels`."]
    kept: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for key, entry in data.items():
        name = _shown(key)
        if not isinstance(entry, Mapping):
            problems.append(f"{name}: an object with `overall` and `labels`.")
            continue
        if unknown := sorted(set(entry) - _KEYS):
            problems.append(f"{name}: unknown keys {', '.join(unknown)}.")
        if "type" in entry and not isinstance(entry["type"], str):
            problems.append(f"{name}.type: a string (the control's tag, from the config).")
        one: dict[str, Any] = {}
        if "overall" in entry:
            overall = _weight(entry["overall"], f"{name}.overall", problems)
            if overall is not None:
                one["overall"] = overall
        labels = entry.get("labels", {})
        if not isinstance(labels, Mapping):
            problems.append(f"{name}.labels: an object of label names and weights.")
        elif len(labels) > MAX_LABELS:
            problems.append(f"{name}.labels: at most {MAX_LABELS:,} labels.")
        elif long := [label for label in labels if len(label) > MAX_NAME]:
            problems.append(
                f"{name}.labels: names of at most {MAX_NAME} characters ({_shown(long[0])})."
            )
        else:
            weighed = {
                label: _weight(value, f"{name}.labels.{label}", problems)
                for label, value in labels.items()
            }
            if weighed:
                one["labels"] = weighed
        kept[key] = one
    return kept, capped(problems)


def _known_labels(control: Mapping[str, Any]) -> set[str] | None:
    """The labels a parsed control lists; None when they come with each task instead."""
    return None if control.get("dynamic_labels") else set(control.get("labels", []))


def against(weights: Mapping[str, Mapping[str, Any]], parsed: Mapping[str, Any]) -> list[str]:
    """What in `weights` names a control or label that the parsed config does not have."""
    problems = []
    for name, entry in weights.items():
        control = parsed.get(name)
        if not isinstance(control, Mapping):
            problems.append(f"{_shown(name)}: not a control tag of the labeling config.")
            continue
        known = _known_labels(control)
        if known is None:
            continue  # its labels come with each task
        if unknown := sorted(set(entry.get("labels", {})) - known):
            listed = ", ".join(_shown(label) for label in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            problems.append(f"{_shown(name)}: no such labels in the config: {listed}{more}.")
    return capped(problems)


def pruned(
    weights: Mapping[str, Mapping[str, Any]], parsed: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """The stored weights of the controls and labels the parsed config still has."""
    kept: dict[str, dict[str, Any]] = {}
    for name, entry in weights.items():
        control = parsed.get(name)
        if not isinstance(control, Mapping):
            continue
        one = dict(entry)
        known = _known_labels(control)
        if "labels" in entry and known is not None:
            one["labels"] = {k: v for k, v in entry["labels"].items() if k in known}
        kept[name] = one
    return kept


def effective(
    weights: Mapping[str, Mapping[str, Any]], parsed: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Every control of the parsed config with its weights: those set, else 1.0."""
    answer = {}
    for name, control in parsed.items():
        if not isinstance(control, Mapping):
            continue
        stored = weights.get(name, {})
        set_labels = stored.get("labels", {})
        labels = {label: float(set_labels.get(label, 1.0)) for label in control.get("labels", [])}
        if control.get("dynamic_labels"):
            labels.update({k: float(v) for k, v in set_labels.items()})
        answer[name] = {
            "type": control.get("type", ""),
            "overall": float(stored.get("overall", 1.0)),
            "labels": labels,
        }
    return answer

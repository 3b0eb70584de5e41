"""What a labeling config change would break: annotations it orphans, task data it lacks.

Pure functions over parsed configs and streams of stored data; the projects service reads
the data (through `usage`) inside the transaction that writes the new config.

Orphans. Every stored result was checked against the config it was saved under, and every
earlier change was checked like this one, so results fit the current config. A new config
can orphan only what it removes: `removal` lists that (controls, their types, labels,
toName objects, relation labels). When it removes nothing the annotations are not read at
all; otherwise only results whose JSON text mentions a removed name are read, and the scan
stops as soon as every removed thing has been found in use.

Data keys. Imports refuse tasks that lack a `$key` the config reads (`dataio.prepare`), so
the tasks already carry the keys the current config reads. A `$key` the new config adds must
be in the data of every sampled task: the project's oldest and newest `DATA_SAMPLE` tasks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from labelkeep.projects.labelconfig import (
    Conflict,
    ControlTag,
    LabelConfig,
    Usage,
    accepted_labels,
    labels_in_result,
    path_conflicts,
    taxonomy_paths,
    usage_conflicts,
)

DATA_SAMPLE = 100  # tasks from each end of the project
MAX_NEEDLES = 64  # beyond this, a prefilter of OR-ed LIKEs costs more than it saves
MAX_CONFLICTS = 50  # a page of problems is enough to act on
_SEEN_LIMIT = 100_000  # distinct usages remembered; dynamic labels could make more

Key = tuple[str, ...]  # as `labelconfig.Conflict.key`


@dataclass(frozen=True)
class Removal:
    """What results could use under the old config but not under the new one."""

    keys: frozenset[Key]
    open_ended: bool  # something accepted any label before, so `keys` cannot list it all
    needles: frozenset[str] | None  # every affected result's JSON text holds one; None: read all

    def __bool__(self) -> bool:
        return bool(self.keys) or self.open_ended


EVERYTHING = Removal(frozenset(), open_ended=True, needles=None)


class _Collect:
    """Keys and the names that find them, as a removal is worked out."""

    def __init__(self) -> None:
        self.keys: set[Key] = set()
        self.names: set[str] = set()
        self.open_ended = False
        # tools' (old objects, new objects) -> labels dropped: thousands of tools on the
        # same objects would otherwise each take the same difference of large sets
        self.dropped: dict[tuple[frozenset[str], frozenset[str]], frozenset[str]] = {}

    def add(self, key: Key, name: str) -> None:
        self.keys.add(key)
        self.names.add(name)


def removal(old: LabelConfig | None, new: LabelConfig) -> Removal:
    """What `new` no longer accepts that `old` did; `old` None (unreadable): assume anything."""
    if old is None:
        return EVERYTHING
    found = _Collect()
    for name, control in old.controls.items():
        kept = new.controls.get(name)
        if kept is None:
            found.add(("control", name), name)
            continue
        if kept.type.lower() != control.type.lower():
            found.add(("control", name), name)
        for target in set(control.to_name) - set(kept.to_name):
            found.add(("target", name, target), target)
        _removed_labels(found, old, control, new, kept)
        _moved_branches(found, control, kept)
    if old.relation_labels is not None and new.relation_labels is not None:
        for label in old.relation_labels - new.relation_labels:
            found.add(("relation", label), label)
    return Removal(frozenset(found.keys), found.open_ended, _needles(found.names))


def _removed_labels(
    found: _Collect, old: LabelConfig, control: ControlTag, new: LabelConfig, kept: ControlTag
) -> None:
    now = accepted_labels(new, kept)
    if now is None:
        return
    before = accepted_labels(old, control)
    if before is None:  # any label was accepted: which ones are in use is not known
        found.open_ended = True
        found.names.add(control.name)
        return
    if control.labeled:
        dropped = before - now
    else:
        pair = frozenset(control.to_name), frozenset(kept.to_name)
        if pair not in found.dropped:
            found.dropped[pair] = before - now
        dropped = found.dropped[pair]
    for label in dropped:
        found.add(("label", control.name, label), label)


def _moved_branches(found: _Collect, control: ControlTag, kept: ControlTag) -> None:
    """Taxonomy branches the old tree had that the new one does not, though it still lists
    their last node somewhere (moved, not removed). Walks both trees together, once per
    pair of branches, as far as the first node that moved."""
    old_tree, new_tree = control.tree, kept.tree
    if old_tree is None or new_tree is None or control.dynamic or kept.dynamic:
        return
    Branch = tuple[str, ...]
    walk: list[tuple[Branch, Branch, Branch]] = [((), (), ())]  # names so far, old, new
    visited: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    while walk:
        names, old_at, new_at = walk.pop()
        for name, old_step in old_tree.get(old_at, {}).items():
            new_step = new_tree.get(new_at, {}).get(name)
            if new_step is None:
                if kept.lists(name):
                    found.add(("path", control.name, *names, name), name)
                continue
            pair = ((*old_at, old_step), (*new_at, new_step))
            if pair not in visited:
                visited.add(pair)
                walk.append(((*names, name), *pair))


def _needles(names: set[str]) -> frozenset[str] | None:
    """Each name as it appears in stored JSON text: escaped as Python writes it (SQLite
    keeps that text) and with non-ASCII left as is (PostgreSQL prints jsonb that way).

    A name inside a <Repeater> (`labels_{{idx}}`) is stored with its index filled in
    (`labels_0`): it is looked for by the opening quote and what comes before the flag."""
    if len(names) > MAX_NEEDLES:
        return None
    needles = set()
    for name in names:
        stem, flag, _ = name.partition("{{")
        if flag and not stem:
            return None  # nothing fixed to look for: read every result
        for text in (json.dumps(stem), json.dumps(stem, ensure_ascii=False)):
            needles.add(text[:-1] if flag else text)  # without the closing quote
    return frozenset(needles)


def conflicts(new: LabelConfig, removed: Removal, results: Iterable[object]) -> list[str]:
    """Messages naming what the stored `results` use that `new` lacks (empty: nothing).

    Stops reading `results` once every removed thing has been found in use."""
    found: dict[Key, str] = {}
    seen: set[Usage | tuple[str, tuple[str, ...]]] = set()
    for result in results:
        for usage in labels_in_result(result):
            if usage not in seen:
                _note(found, usage_conflicts(new, usage))
                seen.add(usage)
        for from_name, path in taxonomy_paths(result):
            if (from_name, path) not in seen:
                _note(found, path_conflicts(new, from_name, path))
                seen.add((from_name, path))
        if len(seen) > _SEEN_LIMIT:
            seen.clear()
        if len(found) >= MAX_CONFLICTS or (not removed.open_ended and removed.keys.issubset(found)):
            break
    messages = [found[key] for key in sorted(found)]
    if len(messages) >= MAX_CONFLICTS:
        messages.append("…the scan stopped here; there may be more")
    return messages


def _note(found: dict[Key, str], new: list[Conflict]) -> None:
    for conflict in new:
        found.setdefault(conflict.key, conflict.message)


def added_keys(old: LabelConfig | None, new: LabelConfig) -> list[str]:
    """The task data keys `new` reads that `old` did not."""
    return [key for key in new.data_keys if old is None or key not in old.data_keys]


def missing_data(added: Sequence[str], tasks: Sequence[tuple[int, object]]) -> list[str]:
    """Messages naming the `added` keys that some of these (id, data) tasks lack."""
    missing: dict[str, int] = {}  # key -> the first task lacking it
    for task_id, data in tasks:
        for key in added:
            if key not in missing and not (isinstance(data, Mapping) and key in data):
                missing[key] = task_id
    if not missing:
        return []
    first = min(missing.values())
    has = next(data for task_id, data in tasks if task_id == first)
    keys = ", ".join(sorted(has)) if isinstance(has, Mapping) and has else "none"
    return [
        f"These fields are not present in the data: {', '.join(missing)}",
        f"The labeling config reads {', '.join('$' + k for k in missing)}, "
        f"but task {first} has only: {keys}",
    ]

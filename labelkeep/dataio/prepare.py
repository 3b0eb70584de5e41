"""Checking imported items and turning them into rows, before anything is written.

An item is `{"data": {...}, "annotations": [...], "predictions": [...], "meta": {...}}` or a
bare object, which is the task's data (Label Studio's rule). Every item is checked first;
one bad item refuses the whole import, with messages naming where it came from. The
common case, a bare object whose keys cover the config's `$keys`, costs a set comparison
and one `json.dumps`.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labelkeep.accounts.models import Membership, User
from labelkeep.api.fields import MAX_ID, Unstorable, storable_problem, storable_text
from labelkeep.dataio.formats import Parsed
from labelkeep.projects import labelconfig
from labelkeep.projects.models import Project
from labelkeep.projects.services import stored_config
from labelkeep.tasks.bulk import AnnotationRow, TaskRows
from labelkeep.tasks.models import region_count

MAX_MESSAGES = 20
MODEL_VERSION_LENGTH = 200
# What a control makes of a plain value in a pre-annotated field, by control type.
_PREANNOTATION_VALUES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "choices": lambda v: {"choices": v if isinstance(v, list) else [v]},
    "textarea": lambda v: {"text": v if isinstance(v, list) else [v]},
    "rating": lambda v: {"rating": v},
    "number": lambda v: {"number": v},
}


class Refused(Exception):
    """The import is refused; `messages` are fit to show the user (they quote no data)."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass
class Prepared(TaskRows):
    """Rows ready to insert (see labelkeep.tasks.bulk), plus the data keys seen."""

    data_columns: set[str] = field(default_factory=set)

    def part(self, start: int, stop: int) -> Prepared:
        """Tasks `start:stop` with their annotations and predictions, indexes rebased."""
        return Prepared(
            self.tasks[start:stop],
            [(i - start, *rest) for i, *rest in _between(self.annotations, start, stop)],
            [(i - start, *rest) for i, *rest in _between(self.predictions, start, stop)],
            self.data_columns,
        )


def _between(rows: Sequence[tuple[Any, ...]], start: int, stop: int) -> Sequence[Any]:
    keys = [row[0] for row in rows]
    return rows[bisect_left(keys, start) : bisect_left(keys, stop)]


class _Members:
    """The organization's members, read once and only if an annotation names an author."""

    def __init__(self, organization_id: int) -> None:
        self.organization_id = organization_id
        self._ids: set[int] | None = None
        self._emails: dict[str, int] = {}

    def _load(self) -> set[int]:
        if self._ids is None:
            rows = Membership.objects.filter(organization_id=self.organization_id).values_list(
                "user_id", "user__email"
            )
            self._ids = {user_id for user_id, _ in rows}
            self._emails = {email.lower(): user_id for user_id, email in rows if email}
        return self._ids

    def resolve(self, given: Any, importer: int) -> int:
        """The member an export's `completed_by` names; the importer for anyone else."""
        if isinstance(given, dict):
            email = given.get("email")
            if isinstance(email, str) and email:
                self._load()
                return self._emails.get(email.lower(), importer)
            given = given.get("id")
        if isinstance(given, int) and not isinstance(given, bool):
            return given if given in self._load() else importer
        return importer


class Checker:
    """Checks items against one project's labeling config and builds their rows."""

    def __init__(
        self, project: Project, *, actor: User, preannotated_from_fields: Sequence[str] = ()
    ) -> None:
        self.config = stored_config(project)
        self.required = frozenset(self.config.data_keys)
        self.overlap = project.maximum_annotations
        self.importer = actor.pk
        self.members = _Members(project.organization_id)
        self.preannotated = tuple(preannotated_from_fields)
        self._check_preannotated()
        self.messages: list[str] = []

    def _check_preannotated(self) -> None:
        unknown = [f for f in self.preannotated if f not in self.config.controls]
        if unknown:
            names = ", ".join(sorted(self.config.controls)) or "none"
            raise Refused(
                [
                    f"preannotated_from_fields: {', '.join(unknown)} is not a control of the "
                    f"labeling config (controls: {names})."
                ]
            )

    # --- Whole sources ---

    def prepare(self, sources: Iterable[Parsed]) -> Prepared:
        """Rows for every item of every source, or Refused listing the first problems."""
        out = Prepared()
        for source in sources:
            self._source(source, out)
        if self.messages:
            raise Refused(self.messages)
        if not out.tasks:
            raise Refused(["No tasks found: the import is empty."])
        return out

    def _source(self, source: Parsed, out: Prepared) -> None:
        # The loop below is the hot path of every import: keep per-item work minimal.
        required, columns, tasks = self.required, out.data_columns, out.tasks
        labeled_when_empty, only_data = self.overlap <= 0, source.only_data
        upload = source.upload_id
        for index, item in enumerate(source.items):
            if type(item) is dict and (only_data or "data" not in item) and not self.preannotated:
                if not item or (required and not required <= item.keys()):
                    self._refuse(source, index, self._data_problem(item))
                    continue
                text = self._text(item, source, index)
                if text is None:
                    continue
                columns.update(item)
                tasks.append((text, "{}", labeled_when_empty, 0, 0, 0, upload))
            else:
                self._full_item(source, index, item, out)
            if len(self.messages) >= MAX_MESSAGES:
                self.messages.append("…further problems were not checked.")
                raise Refused(self.messages)

    def _refuse(self, source: Parsed, index: int, problem: str) -> None:
        self.messages.append(f"{source.where(index)}: {problem}")

    def _data_problem(self, data: Mapping[str, Any]) -> str:
        if not data:
            return "the task data is empty."
        missing = sorted(self.required - data.keys())
        keys = ", ".join(f'"{k}"' for k in missing)
        variables = ", ".join(f"${k}" for k in missing)
        return f"the task data has no {keys}, which the labeling config reads ({variables})."

    def _text(self, value: Any, source: Parsed, index: int) -> str | None:
        """`value` as JSON text, or None (and a message) when a database could not store it."""
        try:
            return storable_text(value)
        except Unstorable as exc:
            self._refuse(source, index, str(exc))
            return None

    # --- One item with annotations, predictions or meta ---

    def _full_item(self, source: Parsed, index: int, item: Any, out: Prepared) -> None:
        parts = self._parts(source, index, item)
        if parts is None:
            return
        data, meta, annotations, predictions = parts
        if self.preannotated:
            data, extra = self._preannotations(source, index, data)
            predictions = [*predictions, *extra]
        if not data or (self.required and not self.required <= data.keys()):
            self._refuse(source, index, self._data_problem(data))
            return
        task = len(out.tasks)
        made = self._annotations(source, index, task, annotations)
        guesses = self._predictions(source, index, task, predictions)
        data_text = self._text(data, source, index)
        meta_text = self._text(meta, source, index) if meta else "{}"
        if made is None or guesses is None or data_text is None or meta_text is None:
            return
        done = sum(1 for row in made if not row[3])
        out.tasks.append(
            (
                data_text,
                meta_text,
                done >= self.overlap,
                done,
                len(made) - done,
                len(guesses),
                source.upload_id,
            )
        )
        out.annotations.extend(made)
        out.predictions.extend(guesses)
        out.data_columns.update(data)

    def _parts(
        self, source: Parsed, index: int, item: Any
    ) -> tuple[dict[str, Any], dict[str, Any], list[Any], list[Any]] | None:
        if not isinstance(item, dict):
            self._refuse(source, index, "each task must be a JSON object.")
            return None
        if source.only_data or "data" not in item:
            return dict(item), {}, [], []
        data, meta = item["data"], _given(item, "meta", {})
        annotations, predictions = _given(item, "annotations", []), _given(item, "predictions", [])
        for value, name, kind in (
            (data, "data", dict),
            (meta, "meta", dict),
            (annotations, "annotations", list),
            (predictions, "predictions", list),
        ):
            if not isinstance(value, kind):
                wanted = "an object" if kind is dict else "a list"
                self._refuse(source, index, f'"{name}" must be {wanted}.')
                return None
        return dict(data), meta, annotations, predictions

    def _preannotations(
        self, source: Parsed, index: int, data: dict[str, Any]
    ) -> tuple[dict[str, Any], list[Any]]:
        """Label Studio's preannotated_from_fields: each field becomes a prediction."""
        made = []
        for name in self.preannotated:
            if name not in data:
                self._refuse(source, index, f'the task data has no "{name}" to pre-annotate from.')
                continue
            value = data.pop(name)
            if value is None or value == "" or value == []:
                continue
            result = self._preannotation(name, value)
            if result is None:
                control = self.config.controls[name]
                self._refuse(
                    source,
                    index,
                    f'"{name}" cannot be turned into a prediction for {control.type} "{name}".',
                )
                continue
            made.append({"result": result})
        return data, made

    def _preannotation(self, name: str, value: Any) -> list[Any] | None:
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return value  # already a result, as older Label Studio versions expected
        control = self.config.controls[name]
        build = _PREANNOTATION_VALUES.get(control.type.lower())
        if build is None or not control.to_name or isinstance(value, dict):
            return None
        return [
            {
                "from_name": name,
                "to_name": control.to_name[0],
                "type": control.type.lower(),
                "value": build(value),
            }
        ]

    def _result(self, source: Parsed, index: int, what: str, result: Any) -> str | None:
        problems = labelconfig.validate_result(self.config, result)
        if problems:
            self._refuse(source, index, f"{what}: {problems[0]}")
            return None
        return self._text(result, source, index)

    def _annotations(
        self, source: Parsed, index: int, task: int, given: list[Any]
    ) -> list[AnnotationRow] | None:
        made: list[AnnotationRow] = []
        for number, raw in enumerate(given):
            what = f"annotation {number}"
            if not isinstance(raw, dict):
                self._refuse(source, index, f"{what} must be an object.")
                return None
            # As Label Studio imports them: ground truth unless the item says otherwise.
            flags = [raw.get("was_cancelled", False), raw.get("ground_truth", True)]
            lead_time = raw.get("lead_time")
            if not all(isinstance(flag, bool) for flag in flags) or not _number_or_none(lead_time):
                self._refuse(
                    source,
                    index,
                    f"{what}: was_cancelled and ground_truth must be true or false, "
                    "lead_time a number.",
                )
                return None
            given_result = raw.get("result", [])
            result = self._result(source, index, what, given_result)
            if result is None:
                return None
            author = self.members.resolve(raw.get("completed_by"), self.importer)
            time = float(lead_time) if lead_time is not None else None
            regions = region_count(given_result)
            made.append((task, result, author, flags[0], flags[1], time, regions, _id(raw)))
        return made

    def _predictions(
        self, source: Parsed, index: int, task: int, given: list[Any]
    ) -> list[tuple[int, str, float | None, str]] | None:
        made = []
        # Label Studio 1.23 exports prediction ids (integers) here: skip what is not a prediction.
        for number, raw in enumerate(r for r in given if isinstance(r, dict)):
            what = f"prediction {number}"
            score, version = raw.get("score"), raw.get("model_version") or ""
            if not _number_or_none(score) or not isinstance(version, str):
                self._refuse(source, index, f"{what}: score must be a number, model_version text.")
                return None
            if len(version) > MODEL_VERSION_LENGTH:
                self._refuse(source, index, f"{what}: model_version is over 200 characters.")
                return None
            if problem := storable_problem(version):
                self._refuse(
                    source, index, f"{what}: model_version {problem[:1].lower()}{problem[1:]}"
                )
                return None
            result = self._result(source, index, what, raw.get("result", []))
            if result is None:
                return None
            made.append((task, result, float(score) if score is not None else None, version))
        return made


def _id(item: dict[str, Any]) -> int | None:
    """The id an item had where it was exported from, kept as `import_id` (anything but a
    whole number in the range of ids is not one, and is ignored like the other fields)."""
    given = item.get("id")
    if type(given) is int and 0 < given <= MAX_ID:
        return given
    return None


def _given(item: dict[str, Any], key: str, empty: Any) -> Any:
    value = item.get(key)
    return empty if value is None else value


def _number_or_none(value: Any) -> bool:
    """None, or a number JSON can carry (1e400 reads as infinity: not one)."""
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False

"""Label Studio labeling configs: parse, validate, and check annotation results against them.

A config is XML that annotators' browsers render, so it is read without DTDs, entities or
external references, and scripts in any form are refused. `parse` returns a `LabelConfig`
whose `parsed` is Label Studio's `parsed_label_config`, or raises `ConfigError` listing every
problem found. `parse(config, strict=False)` reads a config already stored: it skips the
checks on option values added after configs could be saved (`CONTROL_CHARACTERS`), so that
tightening a rule never breaks a project; structure and safety are checked as ever.
`labels_in_result` and `usage_conflicts` keep a config change from orphaning existing
annotations (see `configchange`); `validate_result` checks one annotation's result before
it is stored.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType
from typing import Any, NamedTuple

from defusedxml import (  # type: ignore[import-untyped]
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)
from defusedxml.ElementTree import (  # type: ignore[import-untyped]
    DefusedXMLParser,
    ParseError,
)

MAX_CONFIG_BYTES = 1_000_000
MAX_DEPTH = 100  # real configs nest about ten deep; the limit keeps the tree walk recursive
MAX_MESSAGES = 50  # a page of problems is enough to act on

OBJECT_TAGS = frozenset(
    {"audio", "audioplus", "chat", "dialog", "hypertext", "image", "list", "paragraphs", "pdf"}
    | {"table", "text", "timeseries", "video"}
)
LABELED_TAGS = frozenset(
    {"choices", "taxonomy", "labels", "bitmasklabels", "brushlabels", "ellipselabels"}
    | {"hypertextlabels", "keypointlabels", "ocrlabels", "paragraphlabels", "polygonlabels"}
    | {"rectanglelabels", "timelinelabels", "timeserieslabels", "vectorlabels"}
    | {"videovectorlabels"}
)
CONTROL_TAGS = LABELED_TAGS | frozenset(
    {"bitmask", "brush", "datetime", "ellipse", "keypoint", "magicwand", "number", "pairwise"}
    | {"polygon", "ranker", "rating", "rectangle", "reactcode", "textarea", "vector"}
    | {"videorectangle", "videovector"}
)
LAYOUT_TAGS = frozenset(
    {"view", "header", "style", "filter", "collapse", "panel", "repeater", "markdown"}
    | {"shortcut", "channel", "multichannel", "bucket", "relations"}
)
# Option tag -> the controls it may sit in, and how to say so in an error.
_OPTION_OWNERS: dict[str, tuple[frozenset[str], str]] = {
    "choice": (frozenset({"choices", "taxonomy"}), "<Choices> or <Taxonomy>"),
    "label": (LABELED_TAGS - {"choices", "taxonomy"}, "a labels control such as <Labels>"),
    "relation": (frozenset({"relations"}), "<Relations>"),
}
_SELF_TARGETED = frozenset({"pairwise", "reactcode"})  # results may set to_name = from_name
_NO_TO_NAME = frozenset({"reactcode"})
_NO_VALUE = frozenset({"chat"})
_CONDITIONS = (("whenTagName", "tag"), ("whenLabelValue", "label"), ("whenChoiceValue", "choice"))

_VARIABLE = re.compile(r"\$([A-Za-z_]\w*)")
_LS_DYNAMIC = re.compile(r"\$[A-Za-z_]+")  # what Label Studio flags as dynamic_labels
_EVENT_ATTRIBUTE = re.compile(r"on[a-z]+", re.IGNORECASE)
_SAFE_ON_ATTRIBUTES = frozenset({"only"})  # DateTime only="date"
_SCRIPT_URL = re.compile(r"(?:java|vb)script:", re.IGNORECASE)
# Both run in linear time on hostile input; they are only tried on values containing "<".
_SCRIPT_TAG = re.compile(r"<\s*script", re.IGNORECASE)
_EVENT_HANDLER = re.compile(r"[\s/\"'`]on[a-z]+\s*=", re.IGNORECASE)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")  # browsers ignore these inside a URL scheme
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators. A label holding
# one (`value="Cat&#10;Zebra"`) breaks every line-based export: YOLO's classes.txt (one
# class per line, ids by position), CoNLL's one-token-per-line tags.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

NO_LABEL = ""
"""`Usage.label` of a result that carries no label (TextArea, Rating, a bare Rectangle…)."""


class ConfigError(ValueError):
    """The labeling config is refused; `messages` lists every problem found."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class ObjectTag:
    """A data source such as <Text> or <Image>; `data_keys` are the task data it reads."""

    name: str
    type: str
    value: str
    data_keys: tuple[str, ...]


@dataclass(frozen=True)
class ControlTag:
    """A tool that produces results, such as <Choices> or <RectangleLabels>."""

    name: str
    type: str
    to_name: tuple[str, ...]
    labels: tuple[str, ...]  # alias, else value, as results store them
    label_values: frozenset[str]  # the value of labels that also have an alias
    dynamic: bool  # options also come from task data, an API, or annotators
    # <Taxonomy>: each branch (the path to it, in result names) -> its options, by alias
    # and by value -> result name. None for other controls, or when not known.
    tree: Mapping[tuple[str, ...], Mapping[str, str]] | None = field(
        default=None, compare=False, hash=False
    )

    @property
    def labeled(self) -> bool:
        return self.type.lower() in LABELED_TAGS

    def lists(self, label: str) -> bool:
        """Whether the config names `label` itself, as an option's alias or value."""
        return label in self.labels or label in self.label_values

    def accepts(self, label: str) -> bool:
        return self.dynamic or self.lists(label)

    def leads_to(self, path: Sequence[str]) -> bool:
        """Whether a taxonomy result's path runs from the root through the config's tree,
        each node a child of the one before (always, when the tree is not known)."""
        if self.tree is None or self.dynamic:
            return True
        return bool(path) and self.leaves_tree_at(path) is None

    def leaves_tree_at(self, path: Sequence[str]) -> int | None:
        """The index of the first node of a taxonomy path that is not a child of the one
        before it (None: none is, or the tree is not known)."""
        if self.tree is None or self.dynamic:
            return None
        at: tuple[str, ...] = ()
        for index, node in enumerate(path):
            step = self.tree.get(at, {}).get(node)
            if step is None:
                return index
            at = (*at, step)
        return None


@dataclass(frozen=True)
class LabelConfig:
    """A parsed, valid labeling config."""

    objects: Mapping[str, ObjectTag]
    controls: Mapping[str, ControlTag]
    relation_labels: frozenset[str] | None  # None: not known, so not checked
    data_keys: tuple[str, ...]  # task data keys the objects read, in config order
    data_types: Mapping[str, str]  # data key -> type of the first object reading it
    parsed: dict[str, Any]  # Label Studio's parsed_label_config; treat as read-only
    # objects -> the labels a tool on them accepts; see `accepted_labels`
    tool_labels: dict[frozenset[str], frozenset[str] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @cached_property
    def options_on(self) -> Mapping[str, tuple[frozenset[str], bool]]:
        """Per object: the labels its labeled controls list, and whether any of them takes
        options from elsewhere too. Tools without options (VideoRectangle) take these; built
        once, so checking many tools or results costs no walk over every control each."""
        listed: dict[str, set[str]] = {}
        open_ended: set[str] = set()
        for control in self.controls.values():
            if not control.labeled:
                continue
            for target in control.to_name:
                listed.setdefault(target, set()).update(control.labels, control.label_values)
                if control.dynamic:
                    open_ended.add(target)
        return MappingProxyType(
            {target: (frozenset(labels), target in open_ended) for target, labels in listed.items()}
        )


class Usage(NamedTuple):
    """One way existing annotations use a config: a control on an object, with a label or not."""

    from_name: str
    to_name: str  # the object the result is on; "" for relations and malformed items
    type: str  # the result type, e.g. "choices"
    label: str  # NO_LABEL when the result carries none


class Conflict(NamedTuple):
    """Why a config would orphan a `Usage`; `key` says what the config no longer has.

    Keys: ("control", name) — gone, or no longer makes the result's type;
    ("target", control, object) — the object is not in the control's toName (any more);
    ("label", control, label); ("relation", label); ("path", control, *branch) — a
    taxonomy branch, as far as the first node that moved.
    """

    key: tuple[str, ...]
    message: str


# --- Reading the XML -------------------------------------------------------------------


@dataclass(slots=True)
class _Node:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list[_Node] = field(default_factory=list)
    kind: str = ""  # the tag in lower case, as Label Studio matches tags

    def __post_init__(self) -> None:
        self.kind = self.tag.lower()

    def opening(self) -> str:
        for key in ("name", "value"):
            if self.attrs.get(key):
                return f'<{self.tag} {key}="{_short(self.attrs[key])}">'
        return f"<{_short(self.tag)}>"

    def describe(self) -> str:
        return f"Line {self.line}: {self.opening()}"


class _Builder:
    """Parser target: builds the node tree and notes scripts as the text streams by."""

    def __init__(self) -> None:
        self.expat: Any = None  # the expat parser, for line numbers
        self.stack: list[_Node] = []
        self.root: _Node | None = None
        self.errors: list[str] = []
        self.text: list[str] = []

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self._check_text()
        node = _Node(tag, attrs, self.expat.CurrentLineNumber)
        if len(self.stack) >= MAX_DEPTH:
            raise ConfigError([f"{node.describe()} is nested more than {MAX_DEPTH} tags deep"])
        if self.stack:
            self.stack[-1].children.append(node)
        else:
            self.root = node
        self.stack.append(node)
        self.errors.extend(_script_problems(node))

    def end(self, tag: str) -> None:
        self._check_text()
        self.stack.pop()

    def data(self, text: str) -> None:
        self.text.append(text)

    def pi(self, target: str, text: str) -> None:
        line = self.expat.CurrentLineNumber
        self.errors.append(f"Line {line}: processing instructions (<?{target} …?>) are not allowed")

    def close(self) -> _Node | None:
        return self.root

    def _check_text(self) -> None:
        text, self.text = "".join(self.text), []
        if reason := _unsafe(text):
            line = self.expat.CurrentLineNumber
            self.errors.append(f"Line {line}: text content contains {reason}")


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unsafe(value: str, context: str = "css") -> str | None:
    """What makes a value run script in a browser, if anything does.

    Markup (a value with `<`) is checked as HTML: a <script>, an `on…=` anywhere (a
    quoted attribute may hold `<` or `>`, so where a tag ends is not guessed), or a script
    URL anywhere (an `href` in it). Otherwise where a script URL counts
    depends on the `context`: anywhere in CSS (`style`, text content), at the start of a
    value that may be a URL (`url`), and nowhere in plain text such as an option's label
    (`text`: "JavaScript: Node" is a fine label)."""
    if "<" not in value and ":" not in value and "&" not in value:
        return None  # the common case, kept cheap
    decoded = html.unescape(value)
    markup = "<" in decoded
    if markup and (_SCRIPT_TAG.search(decoded) or _EVENT_HANDLER.search(decoded)):
        return "a <script> or an event handler, which is not allowed"
    visible = _INVISIBLE.sub("", decoded)
    if markup or context == "css":
        found = _SCRIPT_URL.search(visible) is not None
    else:
        found = context == "url" and _SCRIPT_URL.match(visible) is not None
    return "a javascript: URL, which is not allowed" if found else None


# Attributes that hold text to show, never a URL; a label's own `value` is one too.
_TEXT_ATTRIBUTES = frozenset({"alias", "hint", "placeholder", "title", "hotkey"})
_TEXT_VALUE_TAGS = frozenset({"choice", "label", "relation", "header"})


def _attribute_context(node: _Node, key: str) -> str:
    name = key.lower()
    if name == "style":
        return "css"
    if name in _TEXT_ATTRIBUTES or (name == "value" and node.kind in _TEXT_VALUE_TAGS):
        return "text"
    return "url"


def _shown(value: str) -> str:
    """`value` with its control characters written as escapes (`\\n`, `\\x85`), for messages."""
    return CONTROL_CHARACTERS.sub(lambda found: repr(found.group())[1:-1], value)


def _script_problems(node: _Node) -> list[str]:
    if node.kind == "script":
        return [f"Line {node.line}: <{node.tag}> elements are not allowed"]
    problems = []
    for key, value in node.attrs.items():
        if _EVENT_ATTRIBUTE.fullmatch(key) and key.lower() not in _SAFE_ON_ATTRIBUTES:
            problems.append(f'{node.describe()}: event handler attribute "{key}" is not allowed')
        elif reason := _unsafe(value, _attribute_context(node, key)):
            problems.append(f'{node.describe()}: attribute "{key}" contains {reason}')
    return problems


def _read(config: str) -> tuple[_Node, list[str]]:
    """Parse the XML safely; refuse at once what cannot be read at all."""
    if not isinstance(config, str):
        raise ConfigError(["The labeling config must be a string"])
    try:
        size = len(config.encode("utf-8"))
    except UnicodeEncodeError:
        raise ConfigError(["The labeling config is not valid Unicode text"]) from None
    if size > MAX_CONFIG_BYTES:
        limit = MAX_CONFIG_BYTES
        raise ConfigError([f"The labeling config is {size:,} bytes; the limit is {limit:,}"])
    if not config.strip():
        raise ConfigError(["The labeling config is empty"])
    builder = _Builder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True)
    builder.expat = parser.parser
    try:
        parser.feed(config)
        root = parser.close()
    except DTDForbidden:
        raise ConfigError(["DOCTYPE declarations are not allowed in a labeling config"]) from None
    except EntitiesForbidden:
        raise ConfigError(["Entity declarations are not allowed in a labeling config"]) from None
    except ExternalReferenceForbidden:
        raise ConfigError(["External references are not allowed in a labeling config"]) from None
    except ParseError as error:
        raise ConfigError([f"The labeling config is not well-formed XML: {error}"]) from None
    return root, builder.errors


# --- Checking the tags -----------------------------------------------------------------


@dataclass
class _Draft:
    """A control (or <Relations>) and the options found inside it so far."""

    node: _Node
    index_flags: tuple[str, ...] = ()  # Repeater variables declared before it
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # key -> attributes
    paths: set[tuple[str, ...]] = field(default_factory=set)
    tree: dict[tuple[str, ...], dict[str, str]] = field(default_factory=dict)  # see ControlTag

    @property
    def to_name(self) -> list[str]:
        return [part.strip() for part in self.node.attrs.get("toName", "").split(",")]

    @property
    def dynamic(self) -> bool:
        attrs = self.node.attrs
        return (
            attrs.get("value", "").startswith("$")
            or bool(attrs.get("apiUrl"))
            or attrs.get("userLabels") == "true"
        )


class _Collector:
    """Walks the tree once, collecting tags and every problem with them."""

    def __init__(self, errors: list[str], *, strict: bool) -> None:
        self.errors = errors
        self.strict = strict
        self.names: dict[str, _Node] = {}
        self.objects: dict[str, _Node] = {}
        self.controls: dict[str, _Draft] = {}
        self.relations = _Draft(_Node("Relations", {}, 0))
        self.index_flags: list[str] = []

    def visit(self, node: _Node, owner: _Draft | None, path: tuple[str, ...]) -> None:
        kind = node.kind
        self._note_name(node)
        if flag := node.attrs.get("indexFlag"):
            self.index_flags.append(flag)
        if kind in OBJECT_TAGS:
            self._object(node)
        elif kind in CONTROL_TAGS:
            owner, path = self._control(node), ()
        elif kind in _OPTION_OWNERS:
            path = self._option(node, owner, path)
        elif kind == "relations":
            owner, path = self.relations, ()
        elif kind not in LAYOUT_TAGS and kind != "script":
            self.errors.append(f"{node.describe()} is not a labeling config tag")
        for child in node.children:
            self.visit(child, owner, path)

    def _note_name(self, node: _Node) -> None:
        name = node.attrs.get("name")
        if not name:
            return
        if name in self.names:
            first = self.names[name].line
            self.errors.append(f'{node.describe()}: name "{name}" is already used on line {first}')
        else:
            self.names[name] = node

    def _object(self, node: _Node) -> None:
        name = node.attrs.get("name")
        if not name:
            self.errors.append(f'{node.describe()} needs a "name" attribute')
        if not (node.attrs.get("value") or node.attrs.get("valueList")) and (
            node.kind not in _NO_VALUE
        ):
            self.errors.append(
                f'{node.describe()} needs a "value" attribute, such as value="$text"'
            )
        if name and name not in self.objects:
            self.objects[name] = node

    def _control(self, node: _Node) -> _Draft:
        draft = _Draft(node, tuple(self.index_flags))
        name = node.attrs.get("name")
        if not name:
            self.errors.append(f'{node.describe()} needs a "name" attribute')
        if not node.attrs.get("toName") and node.kind not in _NO_TO_NAME:
            self.errors.append(f'{node.describe()} needs a "toName" attribute')
        if name and name not in self.controls:
            self.controls[name] = draft
        return draft

    def _option(self, node: _Node, owner: _Draft | None, path: tuple[str, ...]) -> tuple[str, ...]:
        kinds, where = _OPTION_OWNERS[node.kind]
        key = node.attrs.get("alias") or node.attrs.get("value")
        if self.strict:
            self._check_characters(node)
        if owner is None or owner.node.kind not in kinds:
            self.errors.append(f"{node.describe()} must be inside {where}")
        elif not key:
            self.errors.append(f'{node.describe()} needs a "value" attribute')
        else:
            return self._add_option(node, owner, (*path, key))
        return path

    def _check_characters(self, node: _Node) -> None:
        for attribute in ("value", "alias"):
            text = node.attrs.get(attribute, "")
            if CONTROL_CHARACTERS.search(text):
                self.errors.append(
                    f'Line {node.line}: <{node.tag}> {attribute} "{_short(_shown(text))}" contains '
                    "a control character (a line break, tab or the like); labels must be one "
                    "line of text"
                )

    def _add_option(self, node: _Node, owner: _Draft, path: tuple[str, ...]) -> tuple[str, ...]:
        key = path[-1]
        # Taxonomy branches may repeat a name ("Other" under each); siblings may not.
        seen = path in owner.paths if owner.node.kind == "taxonomy" else key in owner.labels
        if seen:
            control = owner.node.opening()
            quoted = _short(key)
            self.errors.append(f'{node.describe()}: "{quoted}" is already an option of {control}')
        owner.paths.add(path)
        owner.labels[key] = dict(node.attrs)
        branch = owner.tree.setdefault(path[:-1], {})
        branch.setdefault(node.attrs.get("value") or key, key)
        branch[key] = key
        return path

    def finish(self, root: _Node) -> None:
        if root.kind != "view":
            self.errors.append(f"Line {root.line}: the root tag must be <View>, not <{root.tag}>")
        for draft in self.controls.values():
            self._check_links(draft)
            self._check_options(draft)

    def _check_links(self, draft: _Draft) -> None:
        node = draft.node
        if not node.attrs.get("toName"):
            return
        for target in draft.to_name:
            if target not in self.objects:
                self.errors.append(
                    f'{node.describe()}: toName "{_short(target)}" is not an object tag '
                    f"(objects: {self._object_names})"
                )
        if node.kind == "pairwise" and len(draft.to_name) != 2:
            self.errors.append(f'{node.describe()}: toName must name two objects, "left,right"')

    @cached_property
    def _object_names(self) -> str:  # for messages; read only once the walk is done
        names = sorted(self.objects)
        shown = ", ".join(_short(name) for name in names[:10])
        return (shown + (", …" if len(names) > 10 else "")) or "none"

    def _check_options(self, draft: _Draft) -> None:
        node = draft.node
        if node.kind in LABELED_TAGS and not draft.labels and not draft.dynamic:
            option = "<Choice>" if node.kind in ("choices", "taxonomy") else "<Label>"
            self.errors.append(
                f"{node.describe()} has no {option} options; add one, or load them from "
                'the task with value="$field"'
            )


# --- Building the result ---------------------------------------------------------------


def parse(config: str, *, strict: bool = True) -> LabelConfig:
    """Parse and validate a labeling config; raise `ConfigError` listing every problem.

    `strict=False` is for a config already stored, never for one sent in: it skips the
    checks on option values that were added after configs could be saved (docs/
    labeling-configs.md, "Configs stored before a rule"), and keeps every other check.
    """
    root, errors = _read(config)
    collector = _Collector(errors, strict=strict)
    collector.visit(root, None, ())
    collector.finish(root)
    if len(errors) > MAX_MESSAGES:
        more = len(errors) - MAX_MESSAGES + 1
        raise ConfigError([*errors[: MAX_MESSAGES - 1], f"…and {more} more problems"])
    if errors:
        raise ConfigError(errors)
    return _build(collector)


def _build(collector: _Collector) -> LabelConfig:
    objects = {name: _object_tag(node) for name, node in collector.objects.items()}
    data_types: dict[str, str] = {}
    for tag in objects.values():
        for key in tag.data_keys:
            data_types.setdefault(key, tag.type)
    relations = collector.relations
    return LabelConfig(
        objects=MappingProxyType(objects),
        controls=MappingProxyType({n: _control_tag(d) for n, d in collector.controls.items()}),
        relation_labels=frozenset(relations.labels) | _aliased_values(relations.labels),
        data_keys=tuple(data_types),
        data_types=MappingProxyType(data_types),
        parsed={
            name: _parsed_control(draft, collector.objects)
            for name, draft in collector.controls.items()
            if "toName" in draft.node.attrs  # as in Label Studio, which needs both
        },
    )


def _object_tag(node: _Node) -> ObjectTag:
    value = node.attrs.get("value") or node.attrs.get("valueList") or ""
    keys = tuple(dict.fromkeys(_VARIABLE.findall(value)))
    return ObjectTag(name=node.attrs["name"], type=node.tag, value=value, data_keys=keys)


def _control_tag(draft: _Draft) -> ControlTag:
    return ControlTag(
        name=draft.node.attrs["name"],
        type=draft.node.tag,
        to_name=tuple(draft.to_name) if "toName" in draft.node.attrs else (),
        labels=tuple(draft.labels),
        label_values=frozenset(_aliased_values(draft.labels)),
        dynamic=draft.dynamic,
        tree=MappingProxyType(draft.tree) if draft.node.kind == "taxonomy" else None,
    )


def _parsed_control(draft: _Draft, objects: Mapping[str, _Node]) -> dict[str, Any]:
    """One entry of Label Studio's parsed_label_config, keys in Label Studio's order."""
    attrs, to_name = draft.node.attrs, draft.to_name
    entry: dict[str, Any] = {"type": draft.node.tag, "to_name": to_name}
    regex = {flag: ".*" for flag in draft.index_flags if any(flag in n for n in to_name)}
    if regex:
        entry["regex"] = regex
    if conditionals := _conditionals(attrs):
        entry["conditionals"] = conditionals
    if _LS_DYNAMIC.fullmatch(attrs.get("value", "")) or attrs.get("apiUrl"):
        entry["dynamic_labels"] = True
    entry["inputs"] = [_parsed_input(objects[n]) for n in to_name if n in objects]
    entry["labels"] = list(draft.labels)
    entry["labels_attrs"] = draft.labels
    return entry


def _conditionals(attrs: Mapping[str, str]) -> dict[str, str]:
    if attrs.get("perRegion") != "true":
        return {}
    for key, kind in _CONDITIONS:
        if attrs.get(key):
            return {"type": kind, "name": attrs[key]}
    return {}


def _parsed_input(node: _Node) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": node.tag, "valueType": node.attrs.get("valueType")}
    if "value" in node.attrs:
        entry["value"] = node.attrs["value"].lstrip("$")
    elif "valueList" in node.attrs:
        entry["valueList"] = node.attrs["valueList"].lstrip("$")
    return entry


# --- Results against a config ----------------------------------------------------------

# result type -> value key holding its labels, where that is not the type itself
_LABEL_KEYS = {"videorectangle": "labels", "videovector": "labels", "videovectorlabels": "labels"}


def _label_key(result_type: str) -> str | None:
    if result_type in _LABEL_KEYS:
        return _LABEL_KEYS[result_type]
    if result_type.endswith("labels") or result_type in ("choices", "taxonomy"):
        return result_type
    return None


def _labels_in_value(result_type: str, value: Any) -> list[str] | None:
    """The labels a result value carries ([] for none); None when they are malformed."""
    key = _label_key(result_type)
    if key is None or not isinstance(value, dict) or key not in value:
        return []
    raw = value[key]
    if not isinstance(raw, list):
        return None
    if result_type == "taxonomy":  # a list of paths from the root, each node a label
        if not all(isinstance(path, list) for path in raw):
            return None
        raw = [node for path in raw for node in path]
    return raw if all(isinstance(label, str) for label in raw) else None


def labels_in_result(result: Any) -> set[Usage]:
    """Every (from_name, to_name, type, label) an annotation's result uses.

    A result without labels (TextArea, Rating, a bare Rectangle) yields `label=NO_LABEL`, so
    that removing its control is still noticed; a relation yields one `Usage` per relation
    label, with from_name and to_name "". Items without a from_name are skipped.
    """
    usage: set[Usage] = set()
    for item in result if isinstance(result, list) else ():
        if isinstance(item, dict):
            usage.update(_item_usage(item))
    return usage


def _item_usage(item: dict[str, Any]) -> set[Usage]:
    result_type = str(item.get("type", "")).lower()
    if result_type == "relation":
        labels = item.get("labels")
        found = labels if isinstance(labels, list) else []
        return {Usage("", "", "relation", label) for label in found if isinstance(label, str)}
    from_name, to_name = item.get("from_name"), item.get("to_name")
    if not isinstance(from_name, str):
        return set()
    to_name = to_name if isinstance(to_name, str) else ""
    labels = _labels_in_value(result_type, item.get("value")) or [NO_LABEL]
    return {Usage(from_name, to_name, result_type, label) for label in labels}


def usage_conflicts(config: LabelConfig, usage: Usage) -> list[Conflict]:
    """Why results that use `usage` would not fit `config` (empty: they would)."""
    from_name, to_name, result_type, label = usage
    if result_type == "relation":
        known = config.relation_labels
        if label == NO_LABEL or known is None or label in known:
            return []
        message = f"Relation label '{_shown(label)}' is used by existing annotations"
        return [Conflict(("relation", label), message)]
    control = control_named(config, from_name)
    if control is None:
        message = f"Control '{from_name}' is used by existing annotations"
        return [Conflict(("control", from_name), message)]
    if not _fits(control, result_type):
        message = (
            f"Control '{from_name}' has '{result_type}' results in existing annotations, "
            f"which a {control.type} control does not make"
        )
        return [Conflict(("control", from_name), message)]
    found = []
    # Malformed items without a to_name were refused on save; only legacy data lacks one.
    if to_name and not _targets(control, to_name, result_type):
        message = f"Object '{to_name}' of control '{from_name}' is used by existing annotations"
        found.append(Conflict(("target", from_name, to_name), message))
    if label != NO_LABEL and not _allows(config, control, label):
        message = (
            f"Label '{_shown(label)}' of control '{from_name}' is used by existing annotations"
        )
        found.append(Conflict(("label", from_name, label), message))
    return found


def taxonomy_paths(result: Any) -> set[tuple[str, tuple[str, ...]]]:
    """Every (from_name, path) of the taxonomy items in an annotation's result."""
    found: set[tuple[str, tuple[str, ...]]] = set()
    for item in result if isinstance(result, list) else ():
        if not isinstance(item, dict) or str(item.get("type", "")).lower() != "taxonomy":
            continue
        from_name, value = item.get("from_name"), item.get("value")
        paths = value.get("taxonomy") if isinstance(value, dict) else None
        if not isinstance(from_name, str) or not isinstance(paths, list):
            continue
        for path in paths:
            if isinstance(path, list) and all(isinstance(node, str) for node in path):
                found.add((from_name, tuple(path)))
    return found


def path_conflicts(config: LabelConfig, from_name: str, path: Sequence[str]) -> list[Conflict]:
    """Why a stored taxonomy path would not fit `config`: it leaves the control's tree at
    a node the control still lists elsewhere (one it lists nowhere is a label conflict)."""
    control = control_named(config, from_name)
    index = None if control is None else control.leaves_tree_at(path)
    if control is None or index is None or not control.lists(path[index]):
        return []
    branch = tuple(path[: index + 1])
    shown = _short(_shown(" / ".join(branch)))
    message = f"Taxonomy path '{shown}' of control '{from_name}' is used by existing annotations"
    return [Conflict(("path", from_name, *branch), message)]


_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")  # a <Repeater>'s indexFlag, such as {{idx}}


def control_named(config: LabelConfig, from_name: str) -> ControlTag | None:
    """The control a result's `from_name` names: by its name, or, inside a <Repeater>, by
    its name with the index flag filled in (`labels_0` for `labels_{{idx}}`); such a
    control is returned with that index filled into its name and `toName` too."""
    control = config.controls.get(from_name)
    if control is not None or not from_name:
        return control
    for name, template in config.controls.items():
        flags = _PLACEHOLDER.findall(name)
        if not flags:
            continue
        pattern = _template_pattern(name)
        found = re.fullmatch(pattern, from_name)
        if found is None:
            continue
        filled = dict(zip(flags, found.groups(), strict=False))

        def fill(text: str, filled: dict[str, str] = filled) -> str:
            return _PLACEHOLDER.sub(lambda m: filled.get(m.group(), m.group()), text)

        return replace(template, name=from_name, to_name=tuple(map(fill, template.to_name)))
    return None


def _template_pattern(name: str) -> str:
    parts, last = [], 0
    for found in _PLACEHOLDER.finditer(name):
        parts.append(re.escape(name[last : found.start()]))
        parts.append("(\\d+)")
        last = found.end()
    parts.append(re.escape(name[last:]))
    return "".join(parts)


def _targets(control: ControlTag, to_name: str, result_type: str) -> bool:
    if to_name in control.to_name:
        return True
    return to_name == control.name and result_type in _SELF_TARGETED


def _fits(control: ControlTag, result_type: str) -> bool:
    """Whether `control` makes results of `result_type`.

    Besides its own type, a tool used with a separate <Labels> makes labeled regions
    ("rectanglelabels") under either control's name.
    """
    own = control.type.lower()
    if result_type in (own, own + "labels"):
        return True
    return own == "labels" and result_type.endswith("labels")


def _allows(config: LabelConfig, control: ControlTag, label: str, *, listed: bool = False) -> bool:
    """Whether results of `control` may carry `label`; `listed`: only if the config names it
    (dynamic options do not count)."""
    if control.labeled:
        return control.lists(label) if listed else control.accepts(label)
    # Tools without options of their own (VideoRectangle) take labels from a labels
    # control on the same object.
    for target in control.to_name:
        labels, open_ended = config.options_on.get(target, (frozenset(), False))
        if label in labels or (open_ended and not listed):
            return True
    return False


def accepted_labels(config: LabelConfig, control: ControlTag) -> frozenset[str] | None:
    """Every label `control` accepts under `config`, as `_allows` decides; None: any label.

    A tool's labels are worked out once per toName: a config may hold thousands of tools."""
    if control.labeled:
        return None if control.dynamic else frozenset(control.labels) | control.label_values
    targets = frozenset(control.to_name)
    if targets not in config.tool_labels:
        found = [config.options_on.get(target, (frozenset(), False)) for target in targets]
        open_ended = any(open_ended for _, open_ended in found)
        labels = frozenset[str]().union(*(listed for listed, _ in found))
        config.tool_labels[targets] = None if open_ended else labels
    return config.tool_labels[targets]


def from_parsed(parsed: Mapping[str, Any]) -> LabelConfig:
    """The controls of a stored parsed_label_config, enough to check results against.

    That shape does not keep object names, data keys or relation labels, so those are
    empty or unknown; `parse` the config text when they matter.
    """
    controls = {
        name: ControlTag(
            name=name,
            type=str(entry.get("type", "")),
            to_name=tuple(entry.get("to_name") or ()),
            labels=tuple(entry.get("labels") or ()),
            label_values=frozenset(_aliased_values(entry.get("labels_attrs") or {})),
            dynamic=bool(entry.get("dynamic_labels")),
        )
        for name, entry in parsed.items()
        if isinstance(entry, Mapping)
    }
    empty: Mapping[str, Any] = MappingProxyType({})
    return LabelConfig(empty, MappingProxyType(controls), None, (), empty, dict(parsed))


def _aliased_values(labels_attrs: Mapping[str, Any]) -> set[str]:
    """The `value` of labels whose results store an alias instead."""
    values = (attrs.get("value") for attrs in labels_attrs.values() if isinstance(attrs, dict))
    return {value for value in values if isinstance(value, str) and value} - set(labels_attrs)


def validate_result(config: LabelConfig | Mapping[str, Any], result: Any) -> list[str]:
    """Problems with an annotation or prediction result under `config`; empty when valid.

    `config` is a `LabelConfig` or a stored parsed_label_config (see `from_parsed`). Checks
    names, types and labels; extra keys and value shapes beyond labels are left alone.
    """
    if not isinstance(config, LabelConfig):
        config = from_parsed(config)
    if not isinstance(result, list):
        return ["The result must be a list"]
    ids = {_region_id(item) for item in result} - {None}
    problems: list[str] = []
    for index, item in enumerate(result):
        problems.extend(f"Result {index}: {p}" for p in _item_problems(config, item, ids))
    return problems


def _region_id(item: Any) -> str | int | None:
    region_id = item.get("id") if isinstance(item, dict) else None
    return region_id if isinstance(region_id, str | int) else None


def _item_problems(config: LabelConfig, item: Any, ids: set[Any]) -> list[str]:
    if not isinstance(item, dict):
        return ["must be an object"]
    if str(item.get("type", "")).lower() == "relation":
        return _relation_problems(config, item, ids)
    missing = [key for key in ("from_name", "to_name", "type", "value") if key not in item]
    if missing:
        return [f"missing {', '.join(missing)}"]
    from_name, to_name, result_type = item["from_name"], item["to_name"], item["type"]
    if not all(isinstance(v, str) for v in (from_name, to_name, result_type)):
        return ["from_name, to_name and type must be strings"]
    control = control_named(config, from_name)
    if control is None:
        return [f"from_name '{_short(from_name)}' is not a control in the labeling config"]
    return _region_problems(config, control, item)


def _region_problems(config: LabelConfig, control: ControlTag, item: dict[str, Any]) -> list[str]:
    to_name, result_type, value = item["to_name"], item["type"].lower(), item["value"]
    problems = []
    if not _targets(control, to_name, result_type):
        problems.append(f"to_name '{_short(to_name)}' is not an object of control '{control.name}'")
    if not _fits(control, result_type):
        shown = _short(result_type)
        problems.append(f"type '{shown}' is not made by {control.type} '{control.name}'")
    if not isinstance(value, dict):
        return [*problems, "value must be an object"]
    labels = _labels_in_value(result_type, value)
    if labels is None:
        return [*problems, f"value.{_label_key(result_type)} must be a list of labels"]
    # A label with a control character must be one the config names: only a config stored
    # before such options were refused does. Options from task data, an API or annotators
    # are never trusted with one.
    unknown = [
        _label_problem(label, control)
        for label in labels
        if not _allows(config, control, label, listed=bool(CONTROL_CHARACTERS.search(label)))
    ]
    if result_type == "taxonomy" and not unknown:
        unknown = [
            f"taxonomy path {_short(' / '.join(path))!r} is not a branch of control "
            f"'{control.name}'"
            for path in value["taxonomy"]
            if not control.leads_to(path)
        ]
    return problems + unknown


def _label_problem(label: str, control: ControlTag) -> str:
    if CONTROL_CHARACTERS.search(label):
        return f"label '{_short(_shown(label))}' contains a control character"
    return f"label '{_short(label)}' is not an option of control '{control.name}'"


def _relation_problems(config: LabelConfig, item: dict[str, Any], ids: set[Any]) -> list[str]:
    problems = [
        f"relation {key} '{_short(str(item.get(key)))}' is not the id of a region in this result"
        for key in ("from_id", "to_id")
        if not isinstance(item.get(key), str | int) or item[key] not in ids
    ]
    labels, known = item.get("labels", []), config.relation_labels
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        return [*problems, "relation labels must be a list of strings"]
    return problems + [
        f"relation label '{_short(label)}' is not in the labeling config"
        for label in labels
        if known is not None and label not in known
    ]

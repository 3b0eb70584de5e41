"""CoNLL 2003: each annotated text as tokens tagged B-/I-<label> or O, one per line.

Tokens follow Penn Treebank conventions closely enough for NER training: words (with
inner hyphens, apostrophes, periods and digit groups) and each punctuation mark apart, and
negations split as "do" + "n't". A token takes the label of the span it overlaps; the first
token of a span is B-, the rest I-. Only the first <Labels> control's spans count. Whitespace
inside a label becomes "_" (`tag_label`), so every line keeps its four columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from labelkeep.dataio.exporting.context import ExportContext, buffered
from labelkeep.dataio.exporting.items import control_types, items
from labelkeep.projects.labelconfig import CONTROL_CHARACTERS

TOKEN = re.compile(
    r"\w+?(?=n't\b)|n't\b"  # don't → do n't
    r"|\w+(?='(?:s|S|ll|re|ve|m|d)\b)|'(?:s|S|ll|re|ve|m|d)\b"  # it's → it 's
    r"|\d+(?:[.,]\d+)+"  # 3.14, 1,000
    r"|\w+(?:[-'.]\w+)*"  # well-known, O'Neil, U.S
    r"|[^\w\s]"  # any other mark on its own
)
DOCSTART = "-DOCSTART- -X- O\n"


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(token, start, end) for each token; `end` is exclusive."""
    return [(m.group(), m.start(), m.end()) for m in TOKEN.finditer(text)]


def tags(words: Sequence[tuple[str, int, int]], spans: Sequence[dict[str, Any]]) -> list[str]:
    """B-/I-/O for each token, from spans with `start`, `end` (exclusive) and `labels`."""
    usable = sorted(
        (s for s in spans if isinstance(s.get("start"), int) and isinstance(s.get("end"), int)),
        key=lambda s: s["start"],
    )
    found: list[str] = []
    previous: dict[str, Any] | None = None
    first = 0  # spans before this one ended before the current token
    for _, start, end in words:
        while first < len(usable) and usable[first]["end"] <= start:
            first += 1
        span = _overlapping(usable, first, start, end)
        labels = span.get("labels") if span else None
        if not span or not isinstance(labels, list) or not labels:
            found.append("O")
            previous = None
            continue
        found.append(("I-" if span is previous else "B-") + tag_label(str(labels[0])))
        previous = span
    return found


def tag_label(label: str) -> str:
    """`label` fit for the tag column: each run of whitespace becomes one "_", the ends
    none (`New York Loc` → `New_York_Loc`).

    Readers split a line on whitespace, so a space would make the tag two columns, and a
    line break (in labels stored before configs refused them) would cut it off its token.
    Control characters count as whitespace; `str.split` finds the rest, as readers do.
    """
    return "_".join(CONTROL_CHARACTERS.sub(" ", label).split())


def _overlapping(
    spans: Sequence[dict[str, Any]], first: int, start: int, end: int
) -> dict[str, Any] | None:
    for span in islice(spans, first, None):
        if span["start"] >= end:
            return None  # sorted by start: no later span overlaps either
        if start < span["end"]:
            return span
    return None


def _labels_and_text(ctx: ExportContext) -> tuple[str | None, str | None]:
    """(the config's first <Labels> control, the data key of the text it labels)."""
    for control in ctx.config.controls.values():
        if control.type.lower() == "labels":
            for target in control.to_name:
                tag = ctx.config.objects.get(target)
                if tag is not None and tag.data_keys:
                    return control.name, tag.data_keys[0]
    return None, ctx.config.data_keys[0] if ctx.config.data_keys else None


def _lines(ctx: ExportContext) -> Iterator[str]:
    yield DOCSTART
    # The first control's spans, not whichever control's region a result lists first.
    labels, key = _labels_and_text(ctx)
    controls = control_types(ctx.config)
    for task in ctx.source.tasks():
        for item in items(task, controls):
            text = item.data.get(key) if key else None
            if not isinstance(text, str):
                continue
            words = tokens(text)
            spans = item.outputs.get(labels, []) if labels else []
            yield "".join(
                f"{word} -X- _ {tag}\n"
                for (word, _, _), tag in zip(words, tags(words, spans), strict=True)
            )
            yield "\n"


def write_conll(ctx: ExportContext) -> Iterator[bytes]:
    return buffered(_lines(ctx))

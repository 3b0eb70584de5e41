"""What a config change removes, and how little of the stored results it reads to say so."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from labelkeep.projects import configchange
from labelkeep.projects.labelconfig import parse

OLD = parse(
    '<View><Text name="text" value="$text"/>'
    '<Choices name="sentiment" toName="text"><Choice value="Pos"/><Choice value="Neg"/>'
    '<Choice value="Café" alias="cafe"/></Choices>'
    '<Labels name="ner" toName="text"><Label value="Person"/></Labels>'
    '<Relations><Relation value="knows"/></Relations></View>'
)


def _choice(label: str) -> list[dict[str, Any]]:
    return [
        {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [label]},
        }
    ]


def test_nothing_removed_means_nothing_to_read() -> None:
    same = configchange.removal(OLD, OLD)
    assert not same
    added = parse(
        '<View><Text name="text" value="$text"/><Text name="t2" value="$t2"/>'
        '<Choices name="sentiment" toName="text,t2"><Choice value="Pos"/><Choice value="Neg"/>'
        '<Choice value="Café" alias="cafe"/><Choice value="Meh"/></Choices>'
        '<Labels name="ner" toName="text"><Label value="Person"/></Labels>'
        '<Relations><Relation value="knows"/><Relation value="likes"/></Relations></View>'
    )
    assert not configchange.removal(OLD, added)


def test_removal_lists_each_kind() -> None:
    new = parse(
        '<View><Text name="body" value="$text"/>'
        '<Choices name="sentiment" toName="body"><Choice value="Pos"/></Choices>'
        "<Relations/></View>"
    )
    removed = configchange.removal(OLD, new)
    assert removed.keys == {
        ("control", "ner"),
        ("target", "sentiment", "text"),
        ("label", "sentiment", "Neg"),
        ("label", "sentiment", "cafe"),
        ("label", "sentiment", "Café"),
        ("relation", "knows"),
    }
    assert not removed.open_ended
    # Each name as Python's JSON writes it and as PostgreSQL prints jsonb.
    assert removed.needles is not None
    assert {'"Café"', '"Caf\\u00e9"', '"ner"', '"text"', '"knows"'} <= removed.needles


def test_dynamic_labels_made_static_are_open_ended() -> None:
    dynamic = parse(
        '<View><Text name="text" value="$text"/>'
        '<Choices name="sentiment" toName="text" value="$options"/></View>'
    )
    static = parse(
        '<View><Text name="text" value="$text"/>'
        '<Choices name="sentiment" toName="text"><Choice value="Pos"/></Choices></View>'
    )
    removed = configchange.removal(dynamic, static)
    assert removed.open_ended
    assert removed.needles == frozenset({'"sentiment"'})
    assert not configchange.removal(static, dynamic)


def test_an_unreadable_old_config_reads_everything() -> None:
    assert configchange.removal(None, OLD) == configchange.EVERYTHING


def test_scan_stops_once_everything_removed_is_found() -> None:
    new = parse(
        '<View><Text name="text" value="$text"/>'
        '<Choices name="sentiment" toName="text"><Choice value="Pos"/></Choices>'
        '<Labels name="ner" toName="text"><Label value="Person"/></Labels>'
        '<Relations><Relation value="knows"/></Relations></View>'
    )
    removed = configchange.removal(OLD, new)
    read: list[int] = []

    def results() -> Iterator[object]:
        for n in range(1000):
            read.append(n)
            yield _choice(["Pos", "Neg", "cafe"][n % 3] if n < 10 else "Pos")

    found = configchange.conflicts(new, removed, results())
    assert found == [
        "Label 'Neg' of control 'sentiment' is used by existing annotations",
        "Label 'cafe' of control 'sentiment' is used by existing annotations",
    ]
    # "Café" (the value behind the alias) is never stored, so the scan cannot stop early
    # here; a removal whose every label turns up does.
    assert len(read) == 1000
    only_neg = parse(
        '<View><Text name="text" value="$text"/>'
        '<Choices name="sentiment" toName="text"><Choice value="Pos"/>'
        '<Choice value="Café" alias="cafe"/></Choices>'
        '<Labels name="ner" toName="text"><Label value="Person"/></Labels>'
        '<Relations><Relation value="knows"/></Relations></View>'
    )
    read.clear()
    found = configchange.conflicts(only_neg, configchange.removal(OLD, only_neg), results())
    assert found == ["Label 'Neg' of control 'sentiment' is used by existing annotations"]
    assert len(read) == 2


def test_missing_data_names_keys_and_a_task() -> None:
    tasks = [(3, {"text": "a", "body": "b"}), (7, {"text": "c"}), (9, "not an object")]
    assert configchange.missing_data(["body"], tasks[:1]) == []
    assert configchange.missing_data(["body", "title"], tasks) == [
        "These fields are not present in the data: title, body",
        "The labeling config reads $title, $body, but task 3 has only: body, text",
    ]

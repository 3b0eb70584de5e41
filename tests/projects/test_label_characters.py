"""Labels are one line of text: a config (or a result) whose label holds a control
character is refused, since line-based exports (YOLO's classes.txt, CoNLL) would split it."""

from __future__ import annotations

from typing import Any

import pytest

from labelkeep.projects.labelconfig import ConfigError, parse, validate_result
from tests.conftest import World


def rectangles(*labels: str) -> str:
    options = "".join(labels)
    return (
        '<View><Image name="image" value="$image"/>'
        f'<RectangleLabels name="box" toName="image">{options}</RectangleLabels></View>'
    )


def refusal(config: str) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        parse(config)
    return refused.value.messages


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("Cat&#10;Zebra", r"Cat\nZebra"),
        ("Cat&#xA;", r"Cat\n"),
        ("a&#9;b", r"a\tb"),
        ("a&#13;b", r"a\rb"),
        ("a\u0085b", r"a\x85b"),  # NEL, a C1 control
        ("a\u009bb", r"a\x9bb"),  # CSI
        ("a\u2028b", r"a\u2028b"),  # Unicode line separator
        ("a\u2029b", r"a\u2029b"),
        ("a\u007fb", r"a\x7fb"),  # DEL
    ],
)
def test_a_label_with_a_control_character_is_refused_naming_it(written: str, shown: str) -> None:
    messages = refusal(rectangles(f'<Label value="Dog"/><Label value="{written}"/>'))
    assert len(messages) == 1
    assert f'value "{shown}" contains a control character' in messages[0]
    assert messages[0].startswith("Line 1: <Label>")


def test_the_audit_example_no_longer_makes_four_classes_of_three() -> None:
    messages = refusal(
        rectangles('<Label value="Cat&#10;Zebra"/>', '<Label value="Dog"/>', '<Label value="Owl"/>')
    )
    assert messages == [
        r'Line 1: <Label> value "Cat\nZebra" contains a control character (a line break, tab '
        "or the like); labels must be one line of text"
    ]


@pytest.mark.parametrize(
    "config",
    [
        '<View><Text name="text" value="$text"/>'
        '<Choices name="c" toName="text"><Choice value="Yes&#10;No"/></Choices></View>',
        '<View><Text name="text" value="$text"/>'
        '<Taxonomy name="t" toName="text"><Choice value="Animal">'
        '<Choice value="Big&#9;Cat"/></Choice></Taxonomy></View>',
        '<View><Text name="text" value="$text"/>'
        '<Labels name="l" toName="text"><Label value="PER" alias="P&#10;"/></Labels></View>',
        '<View><Text name="text" value="$text"/>'
        '<Labels name="l" toName="text"><Label value="PER"/></Labels>'
        '<Relations><Relation value="knows&#13;"/></Relations></View>',
    ],
    ids=["choice", "taxonomy", "alias", "relation"],
)
def test_every_kind_of_option_is_checked(config: str) -> None:
    (message,) = refusal(config)
    assert "contains a control character" in message


@pytest.mark.parametrize(
    "label",
    ["Two words", "Kätze", "猫", "Cat 🐈", "\u0915\u094d\u200d\u0937", "a\u200bb", "trailing "],
    ids=["space", "latin", "cjk", "emoji", "zwj", "zwsp", "trailing-space"],
)
def test_printable_labels_are_kept(label: str) -> None:
    config = parse(rectangles(f'<Label value="{label}"/>'))
    assert config.controls["box"].labels == (label,)


def test_a_literal_line_break_in_an_attribute_is_a_space_as_xml_reads_it() -> None:
    # XML turns a raw line break inside an attribute into a space; only &#10; keeps it.
    config = parse(rectangles('<Label value="Cat\nZebra"/>'))
    assert config.controls["box"].labels == ("Cat Zebra",)


def test_results_with_such_a_label_are_refused_even_for_dynamic_options() -> None:
    config = parse(
        '<View><Image name="image" value="$image"/>'
        '<RectangleLabels name="box" toName="image" value="$classes"/></View>'
    )
    region: dict[str, Any] = {
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "value": {"x": 1, "y": 1, "width": 5, "height": 5, "rectanglelabels": ["Cat\nZebra"]},
    }
    assert validate_result(config, [region]) == [
        r"Result 0: label 'Cat\nZebra' contains a control character"
    ]
    region["value"]["rectanglelabels"] = ["Cat Zebra"]
    assert validate_result(config, [region]) == []


def test_the_api_refuses_such_a_config(world: World) -> None:
    config = rectangles('<Label value="Cat&#10;Zebra"/>')
    created = world.admin.client.post(
        "/api/projects/", {"title": "Zoo", "label_config": config}, format="json"
    )
    assert created.status_code == 400
    (message,) = created.json()["validation_errors"]["label_config"]
    assert r'"Cat\nZebra" contains a control character' in message

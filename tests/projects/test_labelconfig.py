"""Labeling configs: Label Studio templates parse to Label Studio's shape; bad ones are refused."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import pytest
from label_studio_sdk._extensions.label_studio_tools.core.label_config import (
    parse_config as sdk_parse_config,
)

from labelkeep.projects.labelconfig import (
    MAX_CONFIG_BYTES,
    NO_LABEL,
    ConfigError,
    LabelConfig,
    Usage,
    labels_in_result,
    parse,
    usage_conflicts,
    validate_result,
)


def in_use_conflicts(new: LabelConfig, used: Iterable[tuple[str, str, str, str]]) -> list[str]:
    """The messages `usage_conflicts` gives for each usage, once each, in usage order."""
    found: dict[str, None] = {}
    for usage in sorted(set(used)):
        for conflict in usage_conflicts(new, Usage(*usage)):
            found[conflict.message] = None
    return list(found)


# Configs as Label Studio's templates write them: (config, data keys, {control: labels}).
TEMPLATES: dict[str, tuple[str, tuple[str, ...], dict[str, list[str]]]] = {
    "text_classification": (
        """<View>
  <Text name="text" value="$text"/>
  <View style="box-shadow: 2px 2px 5px #999; padding: 20px; margin-top: 2em;">
    <Header value="Choose text sentiment:"/>
    <Choices name="sentiment" toName="text" choice="single" showInLine="true">
      <Choice value="Positive"/>
      <Choice value="Negative"/>
      <Choice value="Neutral"/>
    </Choices>
  </View>
</View>""",
        ("text",),
        {"sentiment": ["Positive", "Negative", "Neutral"]},
    ),
    "ner": (
        """<View>
  <Labels name="label" toName="text">
    <Label value="PER" background="red"/>
    <Label value="ORG" background="darkorange"/>
    <Label value="LOC" background="orange"/>
    <Label value="MISC" background="green"/>
  </Labels>
  <Filter name="filter" toName="label" hotkey="shift+f" minlength="1"/>
  <Text name="text" value="$text" granularity="word"/>
</View>""",
        ("text",),
        {"label": ["PER", "ORG", "LOC", "MISC"]},
    ),
    "image_bbox": (
        """<View>
  <Image name="image" value="$image" zoom="true" zoomControl="true"/>
  <RectangleLabels name="label" toName="image">
    <Label value="Airplane" background="green"/>
    <Label value="Car" background="blue"/>
  </RectangleLabels>
</View>""",
        ("image",),
        {"label": ["Airplane", "Car"]},
    ),
    "polygon": (
        """<View>
  <Header value="Select label and click the image to start"/>
  <Image name="image" value="$image" zoom="true"/>
  <PolygonLabels name="label" toName="image" strokeWidth="3" pointSize="small" opacity="0.9">
    <Label value="Airplane" background="red"/>
    <Label value="Car" background="blue"/>
  </PolygonLabels>
</View>""",
        ("image",),
        {"label": ["Airplane", "Car"]},
    ),
    "keypoints": (
        """<View>
  <KeyPointLabels name="kp-1" toName="img-1">
    <Label value="Face" background="red"/>
    <Label value="Nose" background="green"/>
  </KeyPointLabels>
  <Image name="img-1" value="$img"/>
</View>""",
        ("img",),
        {"kp-1": ["Face", "Nose"]},
    ),
    "brush": (
        """<View>
  <Image name="image" value="$image" zoom="true"/>
  <BrushLabels name="tag" toName="image">
    <Label value="Airplane" background="rgba(255, 0, 0, 0.7)"/>
    <Label value="Car" background="rgba(0, 0, 255, 0.7)"/>
  </BrushLabels>
</View>""",
        ("image",),
        {"tag": ["Airplane", "Car"]},
    ),
    "ellipse_and_tools": (
        """<View>
  <Image name="image" value="$image"/>
  <EllipseLabels name="ellipse" toName="image"><Label value="Eye"/></EllipseLabels>
  <Rectangle name="rect" toName="image"/>
  <Polygon name="poly" toName="image"/>
  <KeyPoint name="kp" toName="image"/>
  <Brush name="brush" toName="image"/>
  <Labels name="tags" toName="image"><Label value="Cat"/><Label value="Dog"/></Labels>
</View>""",
        ("image",),
        {"ellipse": ["Eye"], "rect": [], "poly": [], "kp": [], "brush": [], "tags": ["Cat", "Dog"]},
    ),
    "audio_transcription": (
        """<View>
  <Labels name="labels" toName="audio">
    <Label value="Speaker 1"/>
    <Label value="Speaker 2"/>
  </Labels>
  <Audio name="audio" value="$audio" hotkey="ctrl+enter"/>
  <TextArea name="transcription" toName="audio" rows="2" editable="true"
            perRegion="true" required="true"/>
</View>""",
        ("audio",),
        {"labels": ["Speaker 1", "Speaker 2"], "transcription": []},
    ),
    "video_tracking": (
        """<View>
  <Labels name="videoLabels" toName="video" allowEmpty="true">
    <Label value="Man" background="blue"/>
    <Label value="Woman" background="red"/>
  </Labels>
  <Video name="video" value="$video" framerate="25.0"/>
  <VideoRectangle name="box" toName="video"/>
</View>""",
        ("video",),
        {"videoLabels": ["Man", "Woman"], "box": []},
    ),
    "time_series": (
        """<View>
  <Header value="Time Series classification" style="font-weight: normal"/>
  <TimeSeriesLabels name="label" toName="ts">
    <Label value="Run"/>
    <Label value="Walk"/>
  </TimeSeriesLabels>
  <TimeSeries name="ts" value="$csv" valueType="url" timeColumn="time">
    <Channel column="velocity"/>
    <Channel column="acceleration"/>
  </TimeSeries>
</View>""",
        ("csv",),
        {"label": ["Run", "Walk"]},
    ),
    "dialogue": (
        """<View>
  <ParagraphLabels name="ner" toName="prg">
    <Label value="Important Stuff"/>
    <Label value="Random talk"/>
  </ParagraphLabels>
  <Paragraphs name="prg" value="$dialogue" layout="dialogue" nameKey="author" textKey="text"/>
</View>""",
        ("dialogue",),
        {"ner": ["Important Stuff", "Random talk"]},
    ),
    "taxonomy": (
        """<View>
  <Text name="text" value="$text"/>
  <Taxonomy name="taxonomy" toName="text">
    <Choice value="Archaea"/>
    <Choice value="Bacteria"><Choice value="Other"/></Choice>
    <Choice value="Eukarya">
      <Choice value="Human"/>
      <Choice value="Opossum"/>
      <Choice value="Other"/>
    </Choice>
  </Taxonomy>
</View>""",
        ("text",),
        {"taxonomy": ["Archaea", "Bacteria", "Other", "Eukarya", "Human", "Opossum"]},
    ),
    "relations": (
        """<View>
  <Relations>
    <Relation value="org:founded_by"/>
    <Relation value="org:founded"/>
  </Relations>
  <Labels name="label" toName="text">
    <Label value="Organization" background="orange"/>
    <Label value="Person" background="green"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>""",
        ("text",),
        {"label": ["Organization", "Person"]},
    ),
    "pairwise": (
        """<View>
  <Header value="Select one of two items"/>
  <Pairwise name="pw" toName="text1,text2"/>
  <Text name="text1" value="$text1"/>
  <Text name="text2" value="$text2"/>
</View>""",
        ("text1", "text2"),
        {"pw": []},
    ),
    "rating_number_datetime": (
        """<View>
  <Text name="text" value="$text"/>
  <Rating name="rating" toName="text" maxRating="10" icon="star" size="medium"/>
  <Number name="num" toName="text" min="0" max="100"/>
  <DateTime name="date" toName="text" only="date"/>
</View>""",
        ("text",),
        {"rating": [], "num": [], "date": []},
    ),
    "hypertext": (
        """<View>
  <HyperTextLabels name="ner" toName="text">
    <Label value="Person" background="green"/>
    <Label value="Organization" background="blue"/>
  </HyperTextLabels>
  <HyperText name="text" value="$html" inline="true"/>
</View>""",
        ("html",),
        {"ner": ["Person", "Organization"]},
    ),
    "table_with_style": (
        """<View>
  <Style>.hl { background: #ffe; } .hl > h2 { color: red; }</Style>
  <View className="hl">
    <Table name="table" value="$item"/>
    <Choices name="quality" toName="table"><Choice value="Good"/><Choice value="Bad"/></Choices>
  </View>
</View>""",
        ("item",),
        {"quality": ["Good", "Bad"]},
    ),
    "conditional_and_dynamic": (
        """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="Car"/><Label value="Person"/>
  </RectangleLabels>
  <Choices name="color" toName="image" perRegion="true" whenLabelValue="Car">
    <Choice value="Red"/><Choice value="Blue"/>
  </Choices>
  <Choices name="options" toName="image" value="$options"/>
</View>""",
        ("image",),
        {"label": ["Car", "Person"], "color": ["Red", "Blue"], "options": []},
    ),
    "repeater_pages": (
        """<View>
  <Repeater on="$images" indexFlag="{{idx}}" mode="pagination">
    <Image name="page_{{idx}}" value="$images[{{idx}}].url"/>
    <RectangleLabels name="labels_{{idx}}" toName="page_{{idx}}">
      <Label value="Header"/><Label value="Body"/>
    </RectangleLabels>
  </Repeater>
</View>""",
        ("images",),
        {"labels_{{idx}}": ["Header", "Body"]},
    ),
    "ranker_and_list": (
        """<View>
  <List name="results" value="$items" title="Search results"/>
  <Ranker name="rank" toName="results">
    <Bucket name="relevant" title="Relevant"/>
    <Bucket name="irrelevant" title="Not relevant"/>
  </Ranker>
</View>""",
        ("items",),
        {"rank": []},
    ),
    "aliases_and_multi_image": (
        """<?xml version="1.0" encoding="UTF-8"?>
<View>
  <!-- comments are fine -->
  <Image name="gallery" valueList="$images"/>
  <Text name="caption" value="Caption: $caption ($lang)"/>
  <Choices name="brand" toName="gallery,caption" choice="multiple">
    <Choice value="Brand" alias="B"/>
    <Choice value="Product" alias="P" hint="A thing"/>
  </Choices>
</View>""",
        ("images", "caption", "lang"),
        {"brand": ["B", "P"]},
    ),
    "empty_default": ("<View></View>", (), {}),
}


def _label_studio(name: str) -> Any:
    """Label Studio's own parsed_label_config (bytes: lxml refuses str with a declaration)."""
    parse_config: Any = sdk_parse_config  # the SDK is untyped
    return parse_config(TEMPLATES[name][0].encode())


def _config(name: str) -> LabelConfig:
    return parse(TEMPLATES[name][0])


def _errors(config: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(config)
    assert str(caught.value) == "\n".join(caught.value.messages)
    return caught.value.messages


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_parses_to_its_controls_and_data_keys(name: str) -> None:
    text, data_keys, controls = TEMPLATES[name]
    config = parse(text)
    assert config.data_keys == data_keys
    assert {n: list(c.labels) for n, c in config.controls.items()} == controls


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_parsed_label_config_matches_label_studio(name: str) -> None:
    assert _config(name).parsed == _label_studio(name)


def test_exact_parsed_shape() -> None:
    config = _config("aliases_and_multi_image")
    assert config.parsed == {
        "brand": {
            "type": "Choices",
            "to_name": ["gallery", "caption"],
            "inputs": [
                {"type": "Image", "valueType": None, "valueList": "images"},
                {"type": "Text", "valueType": None, "value": "Caption: $caption ($lang)"},
            ],
            "labels": ["B", "P"],
            "labels_attrs": {
                "B": {"value": "Brand", "alias": "B"},
                "P": {"value": "Product", "alias": "P", "hint": "A thing"},
            },
        }
    }
    assert dict(config.data_types) == {"images": "Image", "caption": "Text", "lang": "Text"}
    assert config.objects["caption"].data_keys == ("caption", "lang")
    brand = config.controls["brand"]
    assert brand.to_name == ("gallery", "caption")
    assert brand.accepts("B") and brand.accepts("Brand") and not brand.accepts("Other")


def test_conditionals_dynamic_labels_and_repeater_regex() -> None:
    parsed = _config("conditional_and_dynamic").parsed
    assert parsed["color"]["conditionals"] == {"type": "label", "name": "Car"}
    assert parsed["options"]["dynamic_labels"] is True
    assert "dynamic_labels" not in parsed["color"]
    assert parsed["options"]["labels"] == [] and _config("conditional_and_dynamic").controls[
        "options"
    ].accepts("anything from the task")
    assert _config("repeater_pages").parsed["labels_{{idx}}"]["regex"] == {"{{idx}}": ".*"}


def test_time_series_and_paragraph_inputs() -> None:
    assert _config("time_series").parsed["label"]["inputs"] == [
        {"type": "TimeSeries", "valueType": "url", "value": "csv"}
    ]
    assert _config("relations").relation_labels == frozenset({"org:founded_by", "org:founded"})
    assert "pw" in _config("pairwise").parsed
    assert _config("pairwise").parsed["pw"]["to_name"] == ["text1", "text2"]


def test_toname_list_tolerates_spaces() -> None:
    config = parse(
        '<View><Text name="a" value="$a"/><Text name="b" value="$b"/>'
        '<Pairwise name="pw" toName="a, b"/></View>'
    )
    assert config.controls["pw"].to_name == ("a", "b")


# --- Refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ('<View><Text value="$text"/></View>', 'Line 1: <Text value="$text"> needs a "name"'),
        ('<View><Image name="img"/></View>', '<Image name="img"> needs a "value" attribute'),
        (
            '<View><Text name="t" value="$t"/><Choices toName="t"><Choice value="A"/></Choices>'
            "</View>",
            '<Choices> needs a "name" attribute',
        ),
        (
            '<View><Text name="t" value="$t"/><Choices name="c"><Choice value="A"/></Choices>'
            "</View>",
            '<Choices name="c"> needs a "toName" attribute',
        ),
        (
            '<View><Text name="t" value="$t"/>\n<Choices name="t" toName="t">'
            '<Choice value="A"/></Choices></View>',
            'Line 2: <Choices name="t">: name "t" is already used on line 1',
        ),
        (
            '<View><Text name="text" value="$t"/><Choices name="c" toName="txt">'
            '<Choice value="A"/></Choices></View>',
            '<Choices name="c">: toName "txt" is not an object tag (objects: text)',
        ),
        (
            '<View><Text name="t" value="$t"/><Choices name="c" toName="t"/></View>',
            '<Choices name="c"> has no <Choice> options; add one, or load them from the task '
            'with value="$field"',
        ),
        (
            '<View><Image name="i" value="$i"/><RectangleLabels name="r" toName="i">'
            "</RectangleLabels></View>",
            '<RectangleLabels name="r"> has no <Label> options',
        ),
        (
            '<View><Text name="t" value="$t"/><Labels name="l" toName="t">\n'
            '<Label value="Neg"/>\n<Label value="Neg"/></Labels></View>',
            'Line 3: <Label value="Neg">: "Neg" is already an option of <Labels name="l">',
        ),
        (
            '<View><Text name="t" value="$t"/><Choices name="c" toName="t">'
            '<Choice value="Negative" alias="N"/><Choice value="Neutral" alias="N"/>'
            "</Choices></View>",
            '"N" is already an option of <Choices name="c">',
        ),
        (
            '<View><Text name="t" value="$t"/><Taxonomy name="tx" toName="t">'
            '<Choice value="A"><Choice value="B"/><Choice value="B"/></Choice>'
            "</Taxonomy></View>",
            '<Choice value="B">: "B" is already an option of <Taxonomy name="tx">',
        ),
        (
            '<View><Text name="t" value="$t"/><Choices name="c" toName="t">'
            '<Choice value=""/><Choice value="A"/></Choices></View>',
            '<Choice> needs a "value" attribute',
        ),
        (
            '<View><Text name="t" value="$t"/><Choices name="c" toName="t">'
            '<Label value="A"/></Choices></View>',
            '<Label value="A"> must be inside a labels control such as <Labels>',
        ),
        ('<View><Choice value="A"/></View>', "must be inside <Choices> or <Taxonomy>"),
        ('<View><Relation value="A"/></View>', "must be inside <Relations>"),
        (
            '<View><Text name="a" value="$a"/><Pairwise name="pw" toName="a"/></View>',
            '<Pairwise name="pw">: toName must name two objects',
        ),
        ("<Doc><Text name='t' value='$t'/></Doc>", "the root tag must be <View>, not <Doc>"),
        ("<View><Choises name='c' toName='t'/></View>", '<Choises name="c"> is not a labeling'),
        ("<View><Text name='t' value='$t'></View>", "not well-formed XML: mismatched tag: line 1"),
        ("<View/><View/>", "not well-formed XML: junk after document element"),
        ("   ", "The labeling config is empty"),
    ],
)
def test_invalid_config_is_refused_with_a_clear_message(config: str, expected: str) -> None:
    assert any(expected in message for message in _errors(config)), _errors(config)


def test_every_problem_is_listed_not_just_the_first() -> None:
    messages = _errors(
        "<View>\n"
        '  <Text name="text"/>\n'
        '  <Choices name="sentiment" toName="txt"/>\n'
        '  <Labels name="sentiment" toName="text"><Label value="A"/><Label value="A"/></Labels>\n'
        "</View>"
    )
    assert messages == [
        'Line 2: <Text name="text"> needs a "value" attribute, such as value="$text"',
        'Line 4: <Labels name="sentiment">: name "sentiment" is already used on line 3',
        'Line 4: <Label value="A">: "A" is already an option of <Labels name="sentiment">',
        'Line 3: <Choices name="sentiment">: toName "txt" is not an object tag (objects: text)',
        'Line 3: <Choices name="sentiment"> has no <Choice> options; add one, or load them '
        'from the task with value="$field"',
    ]


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<View><Header value="&lol3;"/></View>"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE View [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<View><Header value="&xxe;"/></View>"""


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (BILLION_LAUGHS, "DOCTYPE declarations are not allowed in a labeling config"),
        (XXE, "DOCTYPE declarations are not allowed in a labeling config"),
        ("<!DOCTYPE View><View/>", "DOCTYPE declarations are not allowed"),
        ('<View><Header value="&xxe;"/></View>', "not well-formed XML: undefined entity"),
        ('<?xml-stylesheet href="x.xsl"?><View/>', "processing instructions"),
    ],
)
def test_dtds_entities_and_external_references_are_refused(config: str, expected: str) -> None:
    assert _errors(config) == [expected] or any(expected in m for m in _errors(config))


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("<View><script>alert(1)</script></View>", "Line 1: <script> elements are not allowed"),
        ("<View><SCRIPT/></View>", "<SCRIPT> elements are not allowed"),
        (
            '<View><Image name="i" value="$i" onerror="alert(1)"/></View>',
            '<Image name="i">: event handler attribute "onerror" is not allowed',
        ),
        (
            '<View><View onClick="steal()"/></View>',
            'event handler attribute "onClick" is not allowed',
        ),
        (
            '<View><Image name="i" value="javascript:alert(1)"/></View>',
            'attribute "value" contains a javascript: URL',
        ),
        (
            '<View><Header value="x" style="background: url(&#x6A;ava&#9;script:alert(1))"/>'
            "</View>",
            'attribute "style" contains a javascript: URL',
        ),
        (
            '<View><Text name="t" value="$t"/><Labels name="l" toName="t">'
            '<Label value="A" html="&lt;img src=x onerror=alert(1)&gt;"/></Labels></View>',
            'attribute "html" contains a <script> or an event handler',
        ),
        (
            '<View><Label value="A" html="&amp;lt;script&amp;gt;"/></View>',
            'attribute "html" contains a <script>',
        ),
        (
            "<View><Style>.a { background: url('javascript:alert(1)') }</Style></View>",
            "text content contains a javascript: URL",
        ),
        (
            "<View><Markdown><![CDATA[<script>alert(1)</script>]]></Markdown></View>",
            "text content contains a <script>",
        ),
    ],
)
def test_scripts_are_refused_in_any_form(config: str, expected: str) -> None:
    assert any(expected in message for message in _errors(config)), _errors(config)


@pytest.mark.parametrize(
    "config",
    [
        '<View><Text name="t" value="$t"/><Choices name="c" toName="t">'
        '<Choice value="JavaScript: Node"/><Choice value="Go" alias="javascript:go"/>'
        "</Choices></View>",
        '<View><Header value="Label JavaScript: code"/><Text name="t" value="$t"/></View>',
        '<View><Text name="t" value="$t"/><Choices name="c" toName="t">'
        '<Choice value="A" hint="one = 1, two = 2"/></Choices></View>',
    ],
    ids=["label-and-alias", "header", "on-in-plain-text"],
)
def test_text_that_only_mentions_a_scheme_or_on_is_accepted(config: str) -> None:
    assert parse(config).data_keys == ("t",)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            '<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="A" '
            "html=\"&lt;a href='JavaScript:alert(1)'&gt;A&lt;/a&gt;\"/></Choices></View>",
            'attribute "html" contains a javascript: URL',
        ),
        (
            '<View><Header value="&lt;b class=x onclick=steal()&gt;Hi&lt;/b&gt;"/></View>',
            'attribute "value" contains a <script> or an event handler',
        ),
        (
            '<View><Header value="Hi" style="color: red; background: url(javascript:x)"/></View>',
            'attribute "style" contains a javascript: URL',
        ),
        (
            '<View><Image name="i" value="  &#10;JaVaScRiPt:alert(1)"/></View>',
            'attribute "value" contains a javascript: URL',
        ),
    ],
    ids=["link-in-option-html", "handler-in-header-markup", "style", "image-url"],
)
def test_scripts_in_markup_urls_and_css_are_still_refused(config: str, expected: str) -> None:
    assert any(expected in message for message in _errors(config)), _errors(config)


@pytest.mark.parametrize(
    "markup",
    [
        "&lt;img title=&quot;&gt;&quot; src=x onerror=alert(1)&gt;",  # `>` in a quoted value
        "&lt;img alt=&quot;&lt;&quot; onerror=alert(1) src=x&gt;",  # `<` in a quoted value
        "&lt;img alt=&apos;&gt;&apos; src=x onerror=alert(1)&gt;",
        "&lt;b&gt; one = 1",  # maybe only text, but where a tag ends is not guessed
    ],
)
def test_any_handler_in_markup_is_refused(markup: str) -> None:
    for config in (
        f'<View><Text name="t" value="$t"/><Choices name="c" toName="t">'
        f'<Choice value="A" html="{markup}"/></Choices></View>',
        f'<View><Header value="{markup}"/></View>',
    ):
        assert any("or an event handler" in m for m in _errors(config)), config


def test_event_handlers_hidden_in_html_values_are_refused() -> None:
    html = "&lt;svg/onload=alert(1)&gt;"
    messages = _errors(f'<View><Header value="{html}"/></View>')
    assert messages == [
        'Line 1: <Header value="<svg/onload=alert(1)>">: attribute "value" contains a <script> '
        "or an event handler, which is not allowed"
    ]


def test_hostile_values_are_checked_in_linear_time() -> None:
    started = time.perf_counter()
    for value in ("&lt;" * 200_000, "&lt; on" * 100_000, "&lt;a on" + " " * 500_000):
        parse(f'<View><Header value="{value}"/></View>')
    assert time.perf_counter() - started < 2


def test_only_and_on_are_not_event_handlers() -> None:
    config = parse(
        '<View><Text name="t" value="$t"/><DateTime name="d" toName="t" only="date"/>'
        '<Repeater on="$pages" indexFlag="{{i}}"/></View>'
    )
    assert list(config.controls) == ["d"]


def test_oversized_config_is_refused_before_parsing() -> None:
    config = "<View>" + " " * MAX_CONFIG_BYTES + "</View>"
    assert _errors(config) == [
        f"The labeling config is {len(config):,} bytes; the limit is {MAX_CONFIG_BYTES:,}"
    ]


def test_deep_nesting_is_refused() -> None:
    messages = _errors("<View>" * 150 + "</View>" * 150)
    assert messages == ["Line 1: <View> is nested more than 100 tags deep"]


def test_parsing_a_typical_config_takes_well_under_a_millisecond() -> None:
    text = TEMPLATES["conditional_and_dynamic"][0]
    batches = []
    for _ in range(5):  # the best batch, so a busy machine does not fail the test
        started = time.perf_counter()
        for _ in range(20):
            parse(text)
        batches.append((time.perf_counter() - started) / 20)
    assert min(batches) < 0.001


# --- Results ---------------------------------------------------------------------------


def _region(from_name: str, to_name: str, kind: str, value: dict[str, Any], **extra: Any) -> Any:
    return {"from_name": from_name, "to_name": to_name, "type": kind, "value": value, **extra}


NER_RESULT = [
    _region("label", "text", "labels", {"start": 0, "end": 5, "labels": ["Person"]}, id="r1"),
    _region(
        "label", "text", "labels", {"start": 9, "end": 12, "labels": ["Organization"]}, id="r2"
    ),
    {"from_id": "r1", "to_id": "r2", "type": "relation", "labels": ["org:founded"]},
]


def test_labels_in_result() -> None:
    result = [
        *NER_RESULT,
        _region("sentiment", "text", "choices", {"choices": ["Positive", "Neutral"]}),
        _region("box", "video", "videorectangle", {"sequence": [], "labels": ["Man"]}),
        _region("taxonomy", "text", "taxonomy", {"taxonomy": [["Eukarya", "Human"], ["Archaea"]]}),
        _region("transcription", "audio", "textarea", {"text": ["hello"]}),
        _region("image_label", "image", "rectanglelabels", {"x": 1, "rectanglelabels": ["Car"]}),
        "not a region",
        {"type": "choices", "value": {"choices": ["no from_name"]}},
        _region("broken", "text", "choices", {"choices": "not a list"}),
    ]
    assert labels_in_result(result) == {
        ("label", "text", "labels", "Person"),
        ("label", "text", "labels", "Organization"),
        ("", "", "relation", "org:founded"),
        ("sentiment", "text", "choices", "Positive"),
        ("sentiment", "text", "choices", "Neutral"),
        ("box", "video", "videorectangle", "Man"),
        ("taxonomy", "text", "taxonomy", "Eukarya"),
        ("taxonomy", "text", "taxonomy", "Human"),
        ("taxonomy", "text", "taxonomy", "Archaea"),
        ("transcription", "audio", "textarea", NO_LABEL),
        ("image_label", "image", "rectanglelabels", "Car"),
        ("broken", "text", "choices", NO_LABEL),
    }
    assert labels_in_result(None) == set()


def test_in_use_conflicts_names_what_would_be_orphaned() -> None:
    used = [
        ("sentiment", "text", "choices", "Positive"),
        ("sentiment", "text", "choices", "Negative"),
        ("sentiment", "text", "choices", "Negative"),
        ("topic", "text", "choices", "Sports"),
        ("notes", "text", "textarea", NO_LABEL),
    ]
    new = parse(
        '<View><Text name="text" value="$text"/>'
        '<Choices name="sentiment" toName="text"><Choice value="Positive"/></Choices></View>'
    )
    assert in_use_conflicts(new, used) == [
        "Control 'notes' is used by existing annotations",
        "Label 'Negative' of control 'sentiment' is used by existing annotations",
        "Control 'topic' is used by existing annotations",
    ]


def test_in_use_conflicts_allow_safe_changes() -> None:
    old = _config("text_classification")
    used = labels_in_result(
        [_region("sentiment", "text", "choices", {"choices": ["Positive", "Neutral"]})]
    )
    assert in_use_conflicts(old, used) == []
    renamed_by_alias = parse(
        '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
        '<Choice value="Positive" alias="Positive"/><Choice value="Neutral" alias="Meh"/>'
        "<Choice value='New'/></Choices></View>"
    )
    assert in_use_conflicts(renamed_by_alias, used) == []
    dynamic = parse(
        '<View><Text name="text" value="$text"/>'
        '<Choices name="sentiment" toName="text" value="$options"/></View>'
    )
    assert in_use_conflicts(dynamic, used) == []


def test_in_use_conflicts_types_relations_and_video() -> None:
    used = [
        ("sentiment", "text", "choices", "Positive"),
        ("", "", "relation", "org:founded_by"),
        ("box", "video", "videorectangle", "Man"),
        ("box", "video", "videorectangle", "Child"),
        ("box", "image", "videorectangle", "Man"),
    ]
    new = parse(
        '<View><Text name="text" value="$text"/><Video name="video" value="$video"/>'
        '<Labels name="sentiment" toName="text"><Label value="Positive"/></Labels>'
        '<Relations><Relation value="org:founded"/></Relations>'
        '<Labels name="people" toName="video"><Label value="Man"/></Labels>'
        '<VideoRectangle name="box" toName="video"/></View>'
    )
    assert in_use_conflicts(new, used) == [
        "Relation label 'org:founded_by' is used by existing annotations",
        "Object 'image' of control 'box' is used by existing annotations",
        "Label 'Child' of control 'box' is used by existing annotations",
        "Control 'sentiment' has 'choices' results in existing annotations, "
        "which a Labels control does not make",
    ]
    assert in_use_conflicts(new, [Usage("box", "video", "videorectangle", "Man")]) == []


def test_valid_results_pass() -> None:
    assert validate_result(_config("relations"), NER_RESULT) == []
    image = _config("ellipse_and_tools")
    merged = _region("tags", "image", "rectanglelabels", {"x": 1, "rectanglelabels": ["Cat"]})
    plain = _region("rect", "image", "rectangle", {"x": 1, "y": 2, "width": 3, "height": 4})
    assert validate_result(image, [merged, plain]) == []
    taxonomy = _region("taxonomy", "text", "taxonomy", {"taxonomy": [["Eukarya", "Other"]]})
    assert validate_result(_config("taxonomy"), [taxonomy]) == []
    pairwise = _region("pw", "pw", "pairwise", {"selected": "left"}, extra_key=1)
    assert validate_result(_config("pairwise"), [pairwise]) == []
    video = _region("box", "video", "videorectangle", {"sequence": [], "labels": ["Woman"]})
    assert validate_result(_config("video_tracking"), [video]) == []


def test_invalid_results_are_explained() -> None:
    config = _config("relations")
    result = [
        _region("label", "text", "labels", {"labels": ["Person", "Alien"]}, id="a"),
        _region("nope", "text", "labels", {"labels": ["Person"]}),
        _region("label", "image", "choices", {"choices": ["Person"]}),
        _region("label", "text", "labels", {"labels": "Person"}),
        {"from_name": "label", "type": "labels"},
        {"from_id": "a", "to_id": "zz", "type": "relation", "labels": ["org:owns"]},
        42,
    ]
    assert validate_result(config, result) == [
        "Result 0: label 'Alien' is not an option of control 'label'",
        "Result 1: from_name 'nope' is not a control in the labeling config",
        "Result 2: to_name 'image' is not an object of control 'label'",
        "Result 2: type 'choices' is not made by Labels 'label'",
        "Result 3: value.labels must be a list of labels",
        "Result 4: missing to_name, value",
        "Result 5: relation to_id 'zz' is not the id of a region in this result",
        "Result 5: relation label 'org:owns' is not in the labeling config",
        "Result 6: must be an object",
    ]
    assert validate_result(config, {"not": "a list"}) == ["The result must be a list"]


def test_validate_result_accepts_a_stored_parsed_label_config() -> None:
    config = _config("relations")
    stored = _label_studio("relations")
    bad = [_region("label", "text", "labels", {"labels": ["Alien"]})]
    assert validate_result(stored, bad) == validate_result(config, bad)
    assert validate_result(stored, NER_RESULT) == []
    # parsed_label_config does not keep relation labels, so they are not checked then.
    unknown_relation = [*NER_RESULT[:2], {**NER_RESULT[2], "labels": ["org:owns"]}]
    assert validate_result(stored, unknown_relation) == []
    aliased = _label_studio("aliases_and_multi_image")
    good = [_region("brand", "caption", "choices", {"choices": ["B", "Product"]})]
    assert validate_result(aliased, good) == []


def test_hostile_results_are_reported_not_crashed_on() -> None:
    config = _config("relations")
    result = [
        _region("label", "text", "labels", {"labels": ["Person"]}, id=["not", "hashable"]),
        {"type": "relation", "from_id": {"a": 1}, "to_id": None, "labels": "x"},
        _region("label", "text", "labels", {"labels": [{"not": "a string"}]}),
    ]
    assert validate_result(config, result) == [
        "Result 1: relation from_id '{'a': 1}' is not the id of a region in this result",
        "Result 1: relation to_id 'None' is not the id of a region in this result",
        "Result 1: relation labels must be a list of strings",
        "Result 2: value.labels must be a list of labels",
    ]


def test_a_long_list_of_problems_is_cut_short() -> None:
    controls = "".join(f'<Choices name="c{i}" toName="x"/>' for i in range(30))
    messages = _errors(f'<View><Text name="t" value="$t"/>{controls}</View>')
    assert len(messages) == 50
    assert messages[-1] == "…and 11 more problems"


@pytest.mark.parametrize(
    ("paths", "problem"),
    [
        ([["Archaea"], ["Eukarya", "Human"], ["Bacteria", "Other"]], None),
        ([["Eukarya"]], None),  # a branch itself may be chosen
        ([["Human"]], "taxonomy path 'Human' is not a branch"),  # not from the root
        ([["Bacteria", "Human"]], "'Bacteria / Human' is not a branch"),  # another's child
        ([["Archaea", "Other"]], "'Archaea / Other' is not a branch"),  # a leaf has none
        ([["Eukarya", "Human", "Other"]], "'Eukarya / Human / Other' is not a branch"),
        ([[]], "taxonomy path '' is not a branch"),
        ([["Nothing"]], "label 'Nothing' is not an option"),  # said once, as before
    ],
)
def test_taxonomy_results_are_paths_through_the_tree(
    paths: list[list[str]], problem: str | None
) -> None:
    region = _region("taxonomy", "text", "taxonomy", {"taxonomy": paths})
    problems = validate_result(_config("taxonomy"), [region])
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0], problems


def test_taxonomy_paths_take_aliases_and_values() -> None:
    config = parse(
        '<View><Text name="t" value="$t"/><Taxonomy name="tx" toName="t">'
        '<Choice value="Animals" alias="A"><Choice value="Cats" alias="C"/></Choice>'
        "</Taxonomy></View>"
    )
    for path in (["A", "C"], ["Animals", "Cats"], ["A", "Cats"]):
        region = _region("tx", "t", "taxonomy", {"taxonomy": [path]})
        assert validate_result(config, [region]) == [], path
    wrong = _region("tx", "t", "taxonomy", {"taxonomy": [["C"]]})
    assert validate_result(config, [wrong]) != []


def test_taxonomy_with_options_from_an_api_is_not_checked_as_a_tree() -> None:
    config = parse(
        '<View><Text name="t" value="$t"/>'
        '<Taxonomy name="tx" toName="t" apiUrl="https://example.com/tree"/></View>'
    )
    region = _region("tx", "t", "taxonomy", {"taxonomy": [["Any", "Path"]]})
    assert validate_result(config, [region]) == []

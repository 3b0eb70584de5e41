"""Labeling configs at scale and the result shapes of newer tags (a review's findings)."""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

from labelkeep.projects import configchange, services
from labelkeep.projects.labelconfig import Usage, labels_in_result, parse, validate_result
from tests.conftest import World


def _tools(count: int, labels: str) -> str:
    """An image with `count` rectangle tools that take their labels from one <Labels>."""
    rectangles = "".join(f'<Rectangle name="r{k}" toName="image"/>' for k in range(count))
    return (
        f'<View><Image name="image" value="$image"/>{rectangles}'
        f'<Labels name="kind" toName="image">{labels}</Labels></View>'
    )


def test_a_change_to_a_config_with_thousands_of_tools_is_worked_out_at_once() -> None:
    # Each tool's labels were gathered by walking every control: 20,000 tools took a
    # minute of CPU, in the transaction holding the project's row (and on each validate/).
    old = parse(_tools(20_000, '<Label value="Cat"/><Label value="Dog"/>'))
    new = parse(_tools(20_000, '<Label value="Dog"/>'))
    started = time.perf_counter()
    removed = configchange.removal(old, new)
    assert time.perf_counter() - started < 1
    assert ("label", "kind", "Cat") in removed.keys
    assert ("label", "r19999", "Cat") in removed.keys
    assert ("label", "r0", "Dog") not in removed.keys
    assert len(removed.keys) == 20_001
    assert removed.needles == frozenset({'"Cat"'})


def test_tools_on_objects_in_any_order_share_their_labels() -> None:
    config = (
        '<View><Image name="a" value="$a"/><Image name="b" value="$b"/>'
        '<Rectangle name="ab" toName="a,b"/><Rectangle name="ba" toName="b,a"/>'
        '<Rectangle name="solo" toName="b"/>'
        '<Labels name="on_a" toName="a">{}</Labels><Labels name="on_b" toName="b">'
        '<Label value="Dog"/></Labels></View>'
    )
    old = parse(config.format('<Label value="Cat"/>'))
    new = parse(config.format('<Label value="Cow"/>'))
    removed = configchange.removal(old, new)
    assert {key for key in removed.keys if key[0] == "label"} == {
        ("label", "on_a", "Cat"),
        ("label", "ab", "Cat"),
        ("label", "ba", "Cat"),
    }
    used = Usage("ba", "b", "rectanglelabels", "Cat")
    assert configchange.conflicts(new, removed, [[_box("ba", "b", "Cat")]]) == [
        "Label 'Cat' of control 'ba' is used by existing annotations"
    ]
    assert used in labels_in_result([_box("ba", "b", "Cat")])
    assert validate_result(new, [_box("ba", "b", "Cow"), _box("solo", "b", "Dog")]) == []
    assert validate_result(new, [_box("solo", "b", "Cow")]) == [
        "Result 0: label 'Cow' is not an option of control 'solo'"
    ]


def _box(from_name: str, to_name: str, label: str, region: str = "r") -> dict[str, Any]:
    return {
        "id": region,
        "from_name": from_name,
        "to_name": to_name,
        "type": "rectanglelabels",
        "value": {"x": 1, "y": 2, "width": 3, "height": 4, "rectanglelabels": [label]},
    }


def test_results_of_tools_are_checked_without_a_walk_over_every_control() -> None:
    # 2,000 labeled boxes against 20,000 controls took half a minute of an annotator's request.
    config = parse(_tools(20_000, '<Label value="Cat"/>'))
    result = [_box(f"r{k}", "image", "Cat", region=str(k)) for k in range(2_000)]
    started = time.perf_counter()
    assert validate_result(config, result) == []
    assert time.perf_counter() - started < 1
    assert validate_result(config, [_box("r7", "image", "Dog")]) == [
        "Result 0: label 'Dog' is not an option of control 'r7'"
    ]


VIDEO_VECTORS = """<View>
  <Video name="video" value="$video"/>
  <VideoVectorLabels name="lanes" toName="video">
    <Label value="Road"/>{extra}
  </VideoVectorLabels>
</View>"""


def _lane(label: str) -> dict[str, Any]:
    """A VideoVectorLabels region as Label Studio saves it: its labels under `labels`."""
    vertices = [{"id": "a", "x": 10, "y": 20}, {"id": "b", "x": 30, "y": 40}]
    return {
        "id": "lane1",
        "from_name": "lanes",
        "to_name": "video",
        "type": "videovectorlabels",
        "value": {
            "framesCount": 100,
            "duration": 4,
            "sequence": [{"frame": 1, "enabled": True, "closed": False, "vertices": vertices}],
            "labels": [label],
        },
    }


def test_video_vector_labels_are_checked() -> None:
    config = parse(VIDEO_VECTORS.format(extra=""))
    assert validate_result(config, [_lane("Road")]) == []
    assert validate_result(config, [_lane("Sky")]) == [
        "Result 0: label 'Sky' is not an option of control 'lanes'"
    ]
    assert labels_in_result([_lane("Road")]) == {
        Usage("lanes", "video", "videovectorlabels", "Road")
    }


def test_removing_a_video_vector_label_in_use_is_refused(world: World) -> None:
    client = world.admin.client
    with_curb = VIDEO_VECTORS.format(extra='<Label value="Curb"/>')
    project = client.post(
        "/api/projects/", {"title": "Lanes", "label_config": with_curb}, format="json"
    ).json()
    task = client.post(
        "/api/tasks/", {"project": project["id"], "data": {"video": "/v.mp4"}}, format="json"
    ).json()
    url = f"/api/tasks/{task['id']}/annotations/"
    assert client.post(url, {"result": [_lane("Sky")]}, format="json").status_code == 400
    saved = client.post(url, {"result": [_lane("Curb")]}, format="json")
    assert saved.status_code == 201, saved.content

    without_curb = VIDEO_VECTORS.format(extra="")
    for method, path in (
        (client.post, f"/api/projects/{project['id']}/validate/"),
        (client.patch, f"/api/projects/{project['id']}/"),
    ):
        refused = method(path, {"label_config": without_curb}, format="json")
        assert refused.status_code == 400, refused.content
        assert refused.json()["validation_errors"]["label_config"] == [
            "Label 'Curb' of control 'lanes' is used by existing annotations"
        ]
    kept = client.patch(
        f"/api/projects/{project['id']}/",
        {"label_config": VIDEO_VECTORS.format(extra='<Label value="Curb"/><Label value="X"/>')},
        format="json",
    )
    assert kept.status_code == 200, kept.content


def _large_config(seed: int) -> str:
    attributes = " ".join(f'a{k}="{seed}"' for k in range(30))
    labels = "".join(f'<Label value="L{k}" {attributes}/>' for k in range(250))
    return f'<View><Image name="i" value="$i"/><Labels name="l" toName="i">{labels}</Labels></View>'


def test_large_configs_sent_in_turn_do_not_pile_up_in_memory() -> None:
    # Parsed configs are cached by their text. A config holds about six times its size once
    # parsed, and the cache kept 256 of them: 256 configs of 1 MB, one validate/ call each,
    # stayed in every server process (gigabytes). Now only a few large ones stay.
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        sizes = []
        for seed in range(32):
            config = _large_config(seed)
            sizes.append(len(config))
            assert services.parsed_config(config)["l"]["labels"][-1] == "L249"
            del config
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert retained < 8 * 8 * max(sizes), (retained, max(sizes))
    assert min(sizes) > 16_384  # large, as far as the cache is concerned

"""`control_weights`: every control of the labeling config with its weights (1.0 unless
set), checked against the config on every write, following the config as it changes."""

from __future__ import annotations

from typing import Any

import pytest

from labelkeep.audit.models import AuditEvent
from labelkeep.projects.models import Project
from tests.conftest import World

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text">
    <Choice value="Positive"/><Choice value="Negative"/>
  </Choices>
  <Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
  <TextArea name="note" toName="text"/>
</View>"""

DEFAULTS = {
    "sentiment": {"type": "Choices", "overall": 1.0, "labels": {"Positive": 1.0, "Negative": 1.0}},
    "ner": {"type": "Labels", "overall": 1.0, "labels": {"PER": 1.0, "ORG": 1.0}},
    "note": {"type": "TextArea", "overall": 1.0, "labels": {}},
}


def create(world: World, **fields: Any) -> Any:
    return world.admin.client.post(
        "/api/projects/", {"title": "W", "label_config": CONFIG, **fields}, format="json"
    )


def patch(world: World, project: int, **fields: Any) -> Any:
    return world.admin.client.patch(f"/api/projects/{project}/", fields, format="json")


def test_every_control_weighs_one_unless_set(world: World) -> None:
    made = create(world)
    assert made.status_code == 201, made.content
    assert made.json()["control_weights"] == DEFAULTS
    again = world.admin.client.get(f"/api/projects/{made.json()['id']}/").json()
    assert again["control_weights"] == DEFAULTS
    listed = world.admin.client.get("/api/projects/").json()["results"]
    assert listed[0]["control_weights"] == DEFAULTS


def test_weights_set_on_create_and_patch_are_kept(world: World) -> None:
    made = create(
        world, control_weights={"sentiment": {"overall": 0.25, "labels": {"Negative": 0.5}}}
    )
    assert made.status_code == 201, made.content
    body = made.json()["control_weights"]
    assert body["sentiment"] == {
        "type": "Choices",
        "overall": 0.25,
        "labels": {"Positive": 1.0, "Negative": 0.5},
    }
    assert body["ner"] == DEFAULTS["ner"]
    # A PATCH sets the weights anew: what it leaves out weighs 1.0 again.
    changed = patch(
        world, made.json()["id"], control_weights={"ner": {"overall": 0, "labels": {"ORG": 0.75}}}
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()["control_weights"]
    assert body["ner"] == {"type": "Labels", "overall": 0.0, "labels": {"PER": 1.0, "ORG": 0.75}}
    assert body["sentiment"] == DEFAULTS["sentiment"]
    # Sending back what was read (with `type`) is accepted and changes nothing.
    same = patch(world, made.json()["id"], control_weights=body)
    assert same.status_code == 200, same.content
    assert same.json()["control_weights"] == body


@pytest.mark.parametrize(
    ("weights", "needle"),
    [
        ("heavy", "An object of control tag names"),
        ([1, 2], "An object of control tag names"),
        ({"sentiment": 2}, "sentiment: an object"),
        ({"sentiment": {"overall": "2"}}, "sentiment.overall: a number"),
        ({"sentiment": {"overall": True}}, "sentiment.overall: a number"),
        ({"sentiment": {"overall": -1}}, "sentiment.overall: a number"),
        ({"sentiment": {"overall": 1.5}}, "sentiment.overall: a number from 0 to 1"),
        ({"sentiment": {"overall": 1e300}}, "sentiment.overall: a number"),
        ({"sentiment": {"labels": ["Positive"]}}, "sentiment.labels: an object"),
        ({"sentiment": {"labels": {"Positive": None}}}, "sentiment.labels.Positive: a number"),
        ({"sentiment": {"weight": 1}}, "sentiment: unknown keys weight"),
        ({"sentiment": {"type": 5}}, "sentiment.type: a string"),
        ({"nosuch": {"overall": 1}}, "nosuch: not a control tag"),
        ({"text": {"overall": 1}}, "text: not a control tag"),
        ({"sentiment": {"labels": {"Neutral": 1}}}, "no such labels in the config: Neutral"),
        ({"</script>": {"overall": 1}}, "not a control tag"),
    ],
)
def test_bad_weights_are_a_400_and_change_nothing(world: World, weights: Any, needle: str) -> None:
    made = create(world, control_weights={"note": {"overall": 0.4}}).json()
    refused = patch(world, made["id"], control_weights=weights, title="Changed")
    assert refused.status_code == 400, refused.content
    errors = refused.json()["validation_errors"]["control_weights"]
    assert any(needle in message for message in errors), errors
    project = Project.objects.get(pk=made["id"])
    assert project.title == "W"
    assert project.control_weights == {"note": {"overall": 0.4}}
    assert create(world, control_weights=weights).status_code == 400


def test_weights_follow_a_changed_config(world: World) -> None:
    made = create(
        world,
        control_weights={"ner": {"labels": {"ORG": 0.2, "PER": 0.3}}, "note": {"overall": 0.5}},
    ).json()
    smaller = CONFIG.replace('<Label value="PER"/>', "").replace(
        '<TextArea name="note" toName="text"/>', ""
    )
    changed = patch(world, made["id"], label_config=smaller)
    assert changed.status_code == 200, changed.content
    assert changed.json()["control_weights"] == {
        "sentiment": DEFAULTS["sentiment"],
        "ner": {"type": "Labels", "overall": 1.0, "labels": {"ORG": 0.2}},
    }
    # The removed control's and label's weights are gone, not waiting to come back.
    assert Project.objects.get(pk=made["id"]).control_weights == {"ner": {"labels": {"ORG": 0.2}}}
    restored = patch(world, made["id"], label_config=CONFIG)
    assert restored.json()["control_weights"]["note"] == DEFAULTS["note"]


def test_weights_and_a_new_config_in_one_patch_are_checked_together(world: World) -> None:
    made = create(world).json()
    extra = CONFIG.replace(
        '<Choice value="Negative"/>', '<Choice value="Negative"/><Choice value="Neutral"/>'
    )
    changed = patch(
        world,
        made["id"],
        label_config=extra,
        control_weights={"sentiment": {"labels": {"Neutral": 0.1}}},
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["control_weights"]["sentiment"]["labels"]["Neutral"] == 0.1
    refused = patch(
        world,
        made["id"],
        label_config=CONFIG,
        control_weights={"sentiment": {"labels": {"Neutral": 1}}},
    )
    assert refused.status_code == 400
    assert "control_weights" in refused.json()["validation_errors"]


def test_only_managers_set_weights(world: World) -> None:
    made = create(world).json()
    world.admin.client.post(
        f"/api/projects/{made['id']}/members/", {"user": world.member.user.pk}, format="json"
    )
    refused = world.member.client.patch(
        f"/api/projects/{made['id']}/",
        {"control_weights": {"note": {"overall": 0.5}}},
        format="json",
    )
    assert refused.status_code == 403
    assert Project.objects.get(pk=made["id"]).control_weights == {}


DYNAMIC = CONFIG.replace(
    "</View>", '<Choices name="options" toName="text" value="$options"/></View>'
)


def test_a_control_with_labels_from_the_data_takes_any_label_within_limits(
    world: World,
) -> None:
    made = world.admin.client.post(
        "/api/projects/",
        {
            "title": "D",
            "label_config": DYNAMIC,
            "control_weights": {"options": {"labels": {"from-a-task": 0.5}}},
        },
        format="json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["control_weights"]["options"]["labels"] == {"from-a-task": 0.5}
    pk = made.json()["id"]
    too_many = {f"l{n}": 1 for n in range(1001)}
    refused = patch(world, pk, control_weights={"options": {"labels": too_many}})
    assert refused.status_code == 400
    assert "at most 1,000 labels" in str(refused.json()["validation_errors"])
    long_name = patch(world, pk, control_weights={"options": {"labels": {"x" * 201: 1}}})
    assert long_name.status_code == 400
    assert "at most 200 characters" in str(long_name.json()["validation_errors"])


def test_a_number_too_big_for_a_float_is_a_400(world: World) -> None:
    made = create(world).json()
    raw = '{"control_weights": {"note": {"overall": 1' + "0" * 400 + "}}}"
    refused = world.admin.client.patch(
        f"/api/projects/{made['id']}/", raw, content_type="application/json"
    )
    assert refused.status_code == 400, refused.content
    assert "note.overall: a number from 0 to 1" in str(refused.json()["validation_errors"])


def test_many_problems_are_summed_up(world: World) -> None:
    made = create(world).json()
    refused = patch(world, made["id"], control_weights={f"c{n}": {} for n in range(500)})
    assert refused.status_code == 400
    errors = refused.json()["validation_errors"]["control_weights"]
    assert len(errors) == 21 and errors[-1] == "… and 480 more."
    labels = patch(
        world,
        made["id"],
        control_weights={"sentiment": {"labels": {f"L{n}": 1 for n in range(50)}}},
    )
    message = labels.json()["validation_errors"]["control_weights"][0]
    assert message.endswith("and 40 more.") and len(message) < 200


def test_a_config_change_that_drops_weights_is_audited_with_them(world: World) -> None:
    made = create(world, control_weights={"note": {"overall": 0.5}}).json()
    smaller = CONFIG.replace('<TextArea name="note" toName="text"/>', "")
    assert patch(world, made["id"], label_config=smaller).status_code == 200
    event = AuditEvent.objects.filter(action="project.update").latest("id")
    assert event.details["fields"] == ["control_weights", "label_config"]
    assert patch(world, made["id"], title="Renamed").status_code == 200
    event = AuditEvent.objects.filter(action="project.update").latest("id")
    assert event.details["fields"] == ["title"]

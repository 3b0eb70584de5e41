"""Regression tests from the review of the annotation bookkeeping: each docstring tells
the fault it caught, since fixed."""

from __future__ import annotations

from typing import Any

import pytest

from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from tests.conftest import TEST_ORIGIN, World
from tests.dataio.test_import_support import post_json

# A span label with a per-region comment: Label Studio writes one region as two result
# items that share the region's id (one per control).
PER_REGION = """
<View>
  <Labels name="label" toName="text">
    <Label value="PER"/>
    <Label value="LOC"/>
  </Labels>
  <Text name="text" value="$text"/>
  <TextArea name="comment" toName="text" perRegion="true"/>
</View>
"""


def one_region_two_items(region: str) -> list[dict[str, Any]]:
    span = {"start": 0, "end": 5, "text": "Alice"}
    return [
        {
            "id": region,
            "from_name": "label",
            "to_name": "text",
            "type": "labels",
            "value": {**span, "labels": ["PER"]},
        },
        {
            "id": region,
            "from_name": "comment",
            "to_name": "text",
            "type": "textarea",
            "value": {**span, "text": ["a person"]},
        },
    ]


@pytest.fixture
def per_region(world: World) -> Project:
    made = projects.create_project(
        world.org,
        {"title": "Spans", "label_config": PER_REGION},
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    projects.add_members(made, [world.member.user], actor=world.admin.user, origin=TEST_ORIGIN)
    return made


def test_result_count_counts_regions_not_result_items(world: World, per_region: Project) -> None:
    """docs/api-compatibility.md: `result_count` is "the number of regions in `result`".
    Label Studio (tasks/models.py, Annotation.save) counts distinct region ids:
    `len({r.get('id') for r in result})`. Labelkeep counts result items, so one region
    with a per-region comment counts 2 (and so does the import and the migration)."""
    made = world.admin.client.post(
        "/api/tasks/", {"project": per_region.pk, "data": {"text": "Alice"}}, format="json"
    )
    assert made.status_code == 201, made.content
    answer = world.admin.client.post(
        f"/api/tasks/{made.json()['id']}/annotations/",
        {"result": one_region_two_items("r1")},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["result_count"] == 1  # fails: 2

    body = [{"data": {"text": "Bob"}, "annotations": [{"result": one_region_two_items("r2")}]}]
    imported = post_json(world.admin.client, per_region, body)
    assert imported.status_code == 201, imported.content
    listed = world.admin.client.get(f"/api/tasks/?project={per_region.pk}&fields=all").json()
    counts = sorted(a["result_count"] for t in listed["tasks"] for a in t["annotations"])
    assert counts == [1, 1]

"""A text-classification project in Org A with the member on it, and a few tasks."""

from __future__ import annotations

from typing import Any

import pytest

from labelkeep.projects import services as projects
from labelkeep.projects.models import Project
from labelkeep.tasks import services as tasks
from tests.conftest import TEST_ORIGIN, World

CONFIG = """
<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
    <Choice value="Neutral"/>
  </Choices>
</View>
"""


def choice(label: str) -> list[dict[str, Any]]:
    return [
        {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [label]},
        }
    ]


@pytest.fixture
def project(world: World) -> Project:
    made = projects.create_project(
        world.org,
        {"title": "Reviews", "label_config": CONFIG},
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    projects.add_members(made, [world.member.user], actor=world.admin.user, origin=TEST_ORIGIN)
    return made


@pytest.fixture
def task_ids(project: Project, world: World) -> list[int]:
    created = tasks.create_tasks(
        project,
        [tasks.NewTask(data={"text": f"review {n}"}) for n in range(5)],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    return created.task_ids

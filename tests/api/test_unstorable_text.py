"""Text a database cannot hold or compare — a NUL (PostgreSQL refuses it in text and
jsonb), a lone surrogate (`"\\ud800"` in JSON; not Unicode), search text past what SQLite's
LIKE takes — gets a 400 (or the page's own refusal), never a 500, and stores nothing.
CI runs this file on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, RequestFactory

from labelkeep.audit.models import AuditEvent
from labelkeep.audit.services import Origin, record
from labelkeep.tasks.models import Prediction, Task
from tests.conftest import World
from tests.dataio.test_import_support import make_project, post_json
from tests.tasks.conftest import choice

NUL, SURROGATE = "a\x00b", "\ud800"


@pytest.mark.parametrize("name", ["title", "search"])
@pytest.mark.parametrize("value", ["a%00b", "x" * 201])
def test_project_search_text(world: World, name: str, value: str) -> None:
    response = world.member.client.get(f"/api/projects/?{name}={value}")
    assert response.status_code == 400
    assert name in response.json()["validation_errors"]
    assert world.member.client.get(f"/api/projects/?{name}={'x' * 200}").status_code == 200


def test_member_search_text(world: World) -> None:
    url = f"/api/organizations/{world.org.pk}/memberships"
    refused = world.admin.client.get(f"{url}?search=a%00b")
    assert refused.status_code == 400
    assert "search" in refused.json()["validation_errors"]
    found = world.admin.client.get(f"{url}?search=member")
    assert found.status_code == 200


@pytest.mark.parametrize("query", ["?token=%00", "?token=abc%00", f"?token={'t' * 65}"])
def test_invite_tokens_that_name_nothing(db: Any, query: str) -> None:
    client = Client()
    assert client.get(f"/user/signup/{query}", secure=True).status_code == 404


@pytest.mark.parametrize("version", [NUL, SURROGATE])
def test_an_import_refuses_a_model_version_it_cannot_store(world: World, version: str) -> None:
    project = make_project(world)
    item = {"data": {"text": "x"}, "predictions": [{"result": choice("Positive")}]}
    item["predictions"][0]["model_version"] = version  # type: ignore[index]
    response = post_json(world.admin.client, project, [item])
    assert response.status_code == 400, response.content
    assert "model_version" in response.json()["detail"]
    assert not Task.objects.filter(project=project).exists()
    assert not Prediction.objects.filter(task__project=project).exists()


@pytest.mark.parametrize("field", ["from_name", "to_name", "type"])
def test_a_refusal_quoting_a_lone_surrogate_is_sent(world: World, field: str) -> None:
    project = make_project(world)
    result = choice("Positive")
    result[0][field] = SURROGATE
    response = post_json(
        world.admin.client, project, [{"data": {"text": "x"}, "annotations": [{"result": result}]}]
    )
    assert response.status_code == 400
    assert response.json()["validation_errors"]["tasks"]  # the message, escaped: \ud800
    assert not Task.objects.filter(project=project).exists()


def test_an_import_url_with_a_lone_surrogate_is_refused(world: World) -> None:
    project = make_project(world)
    response = post_json(world.admin.client, project, {"url": f"https://example.com/{SURROGATE}"})
    assert response.status_code == 400
    assert "not valid Unicode" in str(response.json())


def test_a_nul_in_the_user_agent_is_dropped(world: World) -> None:
    request = RequestFactory().get("/", HTTP_USER_AGENT="evil\x00agent")
    event = record("logout", actor=world.member.user, origin=Origin.of(request))
    assert AuditEvent.objects.get(pk=event.pk).user_agent == "evilagent"

"""The real label-studio-sdk importing tasks, as users' scripts do, in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from label_studio_sdk.client import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from labelkeep.jobs.services import execute
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Prediction, Task
from tests.conftest import World
from tests.dataio.test_import_support import choice, make_project, use_uploads_root
from tests.sdk.conftest import BASE_URL, Wire, in_process_client


@pytest.fixture
def project(world: World) -> Project:
    return make_project(world)


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    return use_uploads_root(settings, tmp_path)


@pytest.fixture
def ls(world: World) -> Iterator[LabelStudio]:
    """The admin's SDK client; afterwards, no redirect, retried status or non-JSON error."""
    wire = Wire()
    http = in_process_client(wire)
    client = LabelStudio(  # type: ignore[no-untyped-call]
        base_url=BASE_URL, api_key=world.admin.key, httpx_client=http
    )
    yield client
    http.close()
    assert wire.responses
    assert wire.problems() == []


def requests(*tasks: Any) -> Any:
    """Tasks as scripts pass them: plain dicts (the SDK types them as its request model)."""
    return list(tasks)


def test_import_tasks_with_task_ids(ls: LabelStudio, project: Project, root: Path) -> None:
    answer = ls.projects.import_tasks(
        project.pk,
        request=requests(
            {"text": "bare"},
            {
                "data": {"text": "full"},
                "annotations": [{"result": choice("Positive")}],
                "predictions": [{"result": choice("Negative"), "score": 0.9}],
            },
        ),
        return_task_ids=True,
    )
    made = list(Task.objects.filter(project=project).order_by("id"))
    assert answer.task_count == 2
    assert answer.task_ids == [t.pk for t in made]  # type: ignore[attr-defined]
    assert answer.annotation_count == 1
    assert answer.predictions_count == 1
    assert answer.import_ is None  # finished: nothing to poll
    assert Annotation.objects.get().task == made[1]
    assert Prediction.objects.get().score == 0.9
    listed: Any = ls.tasks.list(project=project.pk)
    assert [t.data for t in listed] == [{"text": "bare"}, {"text": "full"}]


def test_preannotated_fields_as_the_sdk_sends_them(
    ls: LabelStudio, project: Project, root: Path
) -> None:
    answer = ls.projects.import_tasks(
        project.pk,
        request=requests({"text": "t", "sentiment": "Neutral"}),
        preannotated_from_fields=["sentiment"],  # sent as a repeated query parameter
    )
    assert answer.predictions_count == 1
    assert Prediction.objects.get().result[0]["value"] == {"choices": ["Neutral"]}


def test_refusal_reaches_the_script_as_an_api_error(
    ls: LabelStudio, project: Project, root: Path
) -> None:
    with pytest.raises(ApiError) as caught:
        ls.projects.import_tasks(project.pk, request=requests({"txt": "typo"}))
    assert caught.value.status_code == 400
    assert isinstance(caught.value.body, dict)
    assert 'has no "text"' in caught.value.body["detail"]
    assert not Task.objects.exists()


def test_queued_import_is_polled_with_create_many_status(
    ls: LabelStudio, project: Project, root: Path, settings: Any
) -> None:
    settings.IMPORT_SYNC_MAX_TASKS = 2
    answer = ls.projects.import_tasks(
        project.pk, request=requests(*({"text": str(n)} for n in range(5))), return_task_ids=True
    )
    assert answer.import_ is not None and answer.task_count is None
    waiting = ls.tasks.create_many_status(project.pk, answer.import_)
    assert waiting.status == "created"
    execute(answer.model_extra["job"])  # type: ignore[index]
    done = ls.tasks.create_many_status(project.pk, answer.import_)
    assert done.status == "completed"
    assert done.task_count == 5
    assert done.task_ids == list(
        Task.objects.filter(project=project).order_by("id").values_list("pk", flat=True)
    )

"""The plain output functions give exactly what the documented serializers give."""

from __future__ import annotations

import datetime as dt

import pytest

from labelkeep.projects.models import Project
from labelkeep.tasks import services
from labelkeep.tasks.models import Annotation, Prediction, Task
from labelkeep.tasks.serializers import (
    COMPUTED_FIELDS,
    AnnotationCreateSerializer,
    AnnotationSerializer,
    PredictionSerializer,
    TaskDetailSerializer,
    TaskSerializer,
    annotation_json,
    instant,
    prediction_json,
    task_fields_json,
    task_json,
)
from tests.conftest import TEST_ORIGIN, World
from tests.tasks.conftest import choice

pytestmark = pytest.mark.django_db


def test_task_annotation_and_prediction_json_match_the_serializers(
    project: Project, task_ids: list[int], world: World
) -> None:
    task = Task.objects.get(pk=task_ids[0])
    services.create_annotation(
        task,
        {"result": choice("Positive"), "lead_time": 2.5, "ground_truth": True},
        actor=world.admin.user,
        completed_by=world.member.user,
        origin=TEST_ORIGIN,
    )
    services.create_annotation(
        task,
        {"result": [], "was_cancelled": True},
        actor=world.admin.user,
        completed_by=world.admin.user,
        origin=TEST_ORIGIN,
    )
    services.create_predictions(
        project,
        [(task, {"result": choice("Negative"), "score": 0.25})],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    services.create_predictions(
        project,
        [(task, {"result": choice("Neutral")})],
        actor=world.admin.user,
        origin=TEST_ORIGIN,
    )
    services.update_task(
        task, {"meta": {"a": [1, "</script>"]}}, actor=world.admin.user, origin=TEST_ORIGIN
    )
    for fresh in (Task.objects.get(pk=pk) for pk in task_ids):
        assert task_fields_json(fresh) == dict(TaskSerializer(fresh).data)
    task = Task.objects.get(pk=task.pk)
    assert task_fields_json(task)["updated_by"] == [{"user_id": world.admin.user.pk}]
    annotations = list(Annotation.objects.filter(task=task).order_by("id"))
    predictions = list(Prediction.objects.filter(task=task).order_by("id"))
    assert len(annotations) == 2 and len(predictions) == 2
    for annotation in annotations:
        assert annotation_json(annotation) == dict(AnnotationSerializer(annotation).data)
    for prediction in predictions:
        assert prediction_json(prediction) == dict(PredictionSerializer(prediction).data)
    full = task_json(task, full=True, annotations=annotations, predictions=predictions)
    assert full["annotations"] == [dict(AnnotationSerializer(a).data) for a in annotations]
    assert full["predictions"] == [dict(PredictionSerializer(p).data) for p in predictions]
    assert full["drafts"] == []
    # Label Studio's computed columns: the skip is newer but does not finish the task.
    assert full["completed_at"] == dict(AnnotationSerializer(annotations[0]).data)["created_at"]
    assert full["ground_truth"] is True
    assert full["predictions_score"] == 0.25
    described = TaskDetailSerializer(task).data
    assert {name: described[name] for name in COMPUTED_FIELDS} == {
        name: full[name] for name in COMPUTED_FIELDS
    }


def test_instants_are_written_as_drf_writes_them() -> None:
    utc = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    assert instant(utc) == "2026-01-02T03:04:05.678901Z"
    elsewhere = utc.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))
    assert instant(elsewhere) == "2026-01-02T03:04:05.678901Z"
    assert instant(None) is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"result": choice("Positive")},
        {"result": [], "was_cancelled": True, "lead_time": 3},
        {"result": [], "ground_truth": "true", "completed_by": 5, "lead_time": None},
        {"result": [], "lead_time": -1},
        {"result": [], "lead_time": "soon"},
        {"completed_by": 0},
        {"completed_by": "x"},
        {"was_cancelled": "maybe"},
        {"ground_truth": [1]},
        {"result": "</script>", "id": 99, "task": 1, "project": 2, "created_at": "x"},
    ],
)
def test_annotation_create_input_reads_as_the_serializer_does(body: dict[str, object]) -> None:
    plain, model = AnnotationCreateSerializer(data=body), AnnotationSerializer(data=body)
    assert plain.is_valid() == model.is_valid()
    assert dict(plain.errors) == dict(model.errors)
    if not model.errors:
        assert dict(plain.validated_data) == dict(model.validated_data)

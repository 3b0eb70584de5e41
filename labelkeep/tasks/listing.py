"""The task list: Label Studio's `{tasks, total, total_annotations, total_predictions}`."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from rest_framework import exceptions
from rest_framework.request import Request

from labelkeep.accounts.models import User
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Prediction, Task
from labelkeep.tasks.serializers import AnnotationSerializer, PredictionSerializer, TaskSerializer

ORDERING = {
    "id": ("id",),
    "-id": ("-id",),
    "created_at": ("created_at", "id"),
    "-created_at": ("-created_at", "-id"),
    "updated_at": ("updated_at", "id"),
    "-updated_at": ("-updated_at", "-id"),
    "total_annotations": ("total_annotations", "id"),
    "-total_annotations": ("-total_annotations", "-id"),
}
MAX_PAGE_SIZE = 1000


def _int(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise exceptions.ValidationError({name: "A whole number from 1."})
    return min(int(raw), maximum) if maximum else int(raw)


def _ordered(tasks: QuerySet[Task], request: Request) -> QuerySet[Task]:
    ordering = request.query_params.get("ordering", "id")
    if ordering not in ORDERING:
        raise exceptions.ValidationError({"ordering": f"Not one of: {sorted(ORDERING)}"})
    return tasks.order_by(*ORDERING[ordering])


def task_page(project: Project, request: Request, *, own_only: bool, user: User) -> dict[str, Any]:
    """One page of a project's tasks; with `fields=all` their annotations and predictions."""
    page = _int(request, "page", 1)
    size = _int(request, "page_size", 100, MAX_PAGE_SIZE)
    tasks = _ordered(Task.objects.filter(project=project), request)
    full = request.query_params.get("fields") == "all"
    if full:
        annotations = Annotation.objects.order_by("id")
        if own_only:
            annotations = annotations.filter(completed_by=user)
        tasks = tasks.prefetch_related(
            Prefetch("annotations", queryset=annotations),
            Prefetch("predictions", queryset=Prediction.objects.order_by("id")),
        )
    rows = list(tasks[(page - 1) * size : page * size])
    return {
        "tasks": [_task(t, full) for t in rows],
        "total": project.task_number,
        "total_annotations": project.total_annotations_number,
        "total_predictions": project.total_predictions_number,
    }


def _task(task: Task, full: bool) -> dict[str, Any]:
    data = dict(TaskSerializer(task).data)
    if full:
        data["annotations"] = AnnotationSerializer(task.annotations.all(), many=True).data
        data["predictions"] = PredictionSerializer(task.predictions.all(), many=True).data
        data["drafts"] = []
    return data

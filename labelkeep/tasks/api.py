"""Label Studio-compatible task, annotation and prediction endpoints."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.accounts.apibase import MemberAPIView
from labelkeep.accounts.models import User
from labelkeep.accounts.roles import Perm, has_perm
from labelkeep.projects.access import get_project_for
from labelkeep.projects.models import Project
from labelkeep.tasks import access, services
from labelkeep.tasks.listing import task_page
from labelkeep.tasks.models import Annotation, Prediction, Task
from labelkeep.tasks.serializers import (
    AnnotationSerializer,
    IdListSerializer,
    PredictionSerializer,
    SelectedItemsSerializer,
    TaskWriteSerializer,
    task_json,
)
from labelkeep.tasks.stream import next_task


def _refused(exc: services.TaskError, field: str = "result") -> exceptions.ValidationError:
    return exceptions.ValidationError({field: exc.messages})


class TaskScopedView(MemberAPIView):
    """Helpers shared by the task endpoints."""

    def project(self, pk: int) -> Project:
        return get_project_for(self.actor, self.role, pk)

    def task(self, pk: int) -> Task:
        return access.get_task_for(self.actor, self.role, pk)

    def own_annotations_only(self) -> bool:
        return not has_perm(self.role, Perm.ANNOTATIONS_REVIEW)

    def task_body(self, task: Task) -> dict[str, Any]:
        annotations = Annotation.objects.filter(task=task).order_by("id")
        if self.own_annotations_only():
            annotations = annotations.filter(completed_by=self.actor)
        return task_json(task, full=True, annotations=list(annotations))


class TasksView(TaskScopedView):
    """Lists a project's tasks (`{tasks, total, …}`); creates one task."""

    required_perms: ClassVar = {"POST": Perm.TASKS_IMPORT_EXPORT}

    def get(self, request: Request) -> Response:
        raw = request.query_params.get("project", "")
        if not raw.isdigit():
            raise exceptions.ValidationError({"project": "Give the project id: ?project=<id>."})
        project = self.project(int(raw))
        return Response(
            task_page(project, request, own_only=self.own_annotations_only(), user=self.actor)
        )

    def post(self, request: Request) -> Response:
        form = TaskWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        values = form.validated_data
        if "project" not in values or "data" not in values:
            raise exceptions.ValidationError({"detail": "Both `project` and `data` are required."})
        project = self.project(values["project"])
        created = services.create_tasks(
            project,
            [services.NewTask(data=values["data"], meta=values.get("meta", {}))],
            actor=self.actor,
            origin=self.origin,
        )
        task = Task.objects.get(pk=created.task_ids[0])
        return Response(task_json(task, full=True), status=status.HTTP_201_CREATED)


class TaskDetailView(TaskScopedView):
    """Reads, changes or deletes one task."""

    required_perms: ClassVar = {"PATCH": Perm.PROJECTS_MANAGE, "DELETE": Perm.PROJECTS_MANAGE}

    def get(self, request: Request, pk: int) -> Response:
        return Response(self.task_body(self.task(pk)))

    def patch(self, request: Request, pk: int) -> Response:
        task = self.task(pk)
        form = TaskWriteSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        values = {k: v for k, v in form.validated_data.items() if k in ("data", "meta", "overlap")}
        services.update_task(task, values, actor=self.actor, origin=self.origin)
        return Response(self.task_body(task))

    def delete(self, request: Request, pk: int) -> Response:
        task = self.task(pk)
        services.delete_tasks(task.project, [task.pk], actor=self.actor, origin=self.origin)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectTasksView(TaskScopedView):
    """A project's tasks: list (as `api/tasks/?project=`) or delete them all."""

    required_perms: ClassVar = {"DELETE": Perm.PROJECTS_MANAGE}

    def get(self, request: Request, pk: int) -> Response:
        project = self.project(pk)
        return Response(
            task_page(project, request, own_only=self.own_annotations_only(), user=self.actor)
        )

    def delete(self, request: Request, pk: int) -> Response:
        services.delete_tasks(self.project(pk), None, actor=self.actor, origin=self.origin)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DataManagerActionView(TaskScopedView):
    """`POST api/dm/actions?id=delete_tasks&project=<id>`: bulk task deletion."""

    required_perms: ClassVar = {"POST": Perm.PROJECTS_MANAGE}

    def post(self, request: Request) -> Response:
        action, raw = request.query_params.get("id"), request.query_params.get("project", "")
        if action != "delete_tasks":
            raise exceptions.ValidationError({"id": "Supported actions: delete_tasks."})
        if not raw.isdigit():
            raise exceptions.ValidationError({"project": "Give the project id: ?project=<id>."})
        project = self.project(int(raw))
        form = SelectedItemsSerializer(data=request.data.get("selectedItems", request.data))
        form.is_valid(raise_exception=True)
        chosen = form.validated_data
        ids: list[int] | None
        if chosen["all"]:
            excluded = set(chosen.get("excluded", []))
            ids = (
                None
                if not excluded
                else [
                    pk
                    for pk in Task.objects.filter(project=project).values_list("pk", flat=True)
                    if pk not in excluded
                ]
            )
        else:
            ids = chosen.get("included", [])
        count = services.delete_tasks(project, ids, actor=self.actor, origin=self.origin)
        return Response({"detail": f"Deleted {count} tasks.", "processed_items": count})


def _completed_by(view: TaskScopedView, given: int | None, project: Project) -> User:
    if given is None or given == view.actor.pk:
        return view.actor
    if not has_perm(view.role, Perm.PROJECTS_MANAGE):
        raise exceptions.PermissionDenied("Only managers record annotations for someone else.")
    user = User.objects.filter(
        pk=given, memberships__organization_id=project.organization_id
    ).first()
    if user is None:
        raise exceptions.ValidationError({"completed_by": "Not a member of this organization."})
    return user


class TaskAnnotationsView(TaskScopedView):
    """Lists a task's annotations (annotators: their own); creates one."""

    required_perms: ClassVar = {"POST": Perm.ANNOTATIONS_CREATE}

    def get(self, request: Request, pk: int) -> Response:
        task = self.task(pk)
        annotations = access.visible_annotations(self.actor, self.role).filter(task=task)
        ordering = request.query_params.get("ordering", "id")
        if ordering not in ("id", "-id", "created_at", "-created_at", "updated_at", "-updated_at"):
            raise exceptions.ValidationError({"ordering": "Use id, created_at or updated_at."})
        return Response(AnnotationSerializer(annotations.order_by(ordering), many=True).data)

    def post(self, request: Request, pk: int) -> Response:
        task = self.task(pk)
        form = AnnotationSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        values = dict(form.validated_data)
        author = _completed_by(self, values.pop("completed_by_id", None), task.project)
        try:
            annotation = services.create_annotation(
                task, values, actor=self.actor, completed_by=author, origin=self.origin
            )
        except services.TaskError as exc:
            raise _refused(exc) from None
        return Response(AnnotationSerializer(annotation).data, status=status.HTTP_201_CREATED)


class AnnotationDetailView(TaskScopedView):
    """Reads, changes or deletes one annotation (authors and managers change it)."""

    def _annotation(self, pk: int, *, changing: bool) -> Annotation:
        annotation = access.get_annotation_for(self.actor, self.role, pk)
        if changing and not access.may_change_annotation(self.actor, self.role, annotation):
            raise exceptions.PermissionDenied("Only the author or a manager changes an annotation.")
        return annotation

    def get(self, request: Request, pk: int) -> Response:
        return Response(AnnotationSerializer(self._annotation(pk, changing=False)).data)

    def patch(self, request: Request, pk: int) -> Response:
        annotation = self._annotation(pk, changing=True)
        form = AnnotationSerializer(annotation, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        values = {k: v for k, v in form.validated_data.items() if k != "completed_by_id"}
        try:
            services.update_annotation(annotation, values, actor=self.actor, origin=self.origin)
        except services.TaskError as exc:
            raise _refused(exc) from None
        return Response(AnnotationSerializer(annotation).data)

    def delete(self, request: Request, pk: int) -> Response:
        annotation = self._annotation(pk, changing=True)
        services.delete_annotations([annotation], actor=self.actor, origin=self.origin)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnotationsBulkDeleteView(TaskScopedView):
    """`POST api/annotations/bulk-delete/ {ids, project?}` → `{deleted_count}` (the SDK's
    `annotations.delete_bulk`): deletes annotations the caller may change, all or none;
    with `project`, every id must belong to that project."""

    def post(self, request: Request) -> Response:
        form = IdListSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        wanted = set(form.validated_data["ids"])
        annotations = access.visible_annotations(self.actor, self.role).filter(pk__in=wanted)
        if "project" in form.validated_data:
            annotations = annotations.filter(project_id=form.validated_data["project"])
        found = list(annotations.select_related("task", "project"))
        if len(found) != len(wanted):
            raise exceptions.NotFound("Some annotations were not found.")
        if not all(access.may_change_annotation(self.actor, self.role, a) for a in found):
            raise exceptions.PermissionDenied("Only the author or a manager deletes an annotation.")
        count = services.delete_annotations(found, actor=self.actor, origin=self.origin)
        return Response({"deleted_count": count})


def _prediction_filters(view: TaskScopedView, request: Request) -> QuerySet[Prediction]:
    predictions = access.visible_predictions(view.actor, view.role)
    for name, lookup in (
        ("task", "task_id"),
        ("project", "project_id"),
        ("task__project", "project_id"),
    ):
        raw = request.query_params.get(name)
        if raw is None:
            continue
        if not raw.isdigit():
            raise exceptions.ValidationError({name: "An id."})
        predictions = predictions.filter(**{lookup: int(raw)})
    return predictions.order_by("id")


class PredictionsView(TaskScopedView):
    """Lists predictions (by task or project); creates one (managers and above)."""

    required_perms: ClassVar = {"POST": Perm.PROJECTS_MANAGE}

    def get(self, request: Request) -> Response:
        return Response(PredictionSerializer(_prediction_filters(self, request), many=True).data)

    def post(self, request: Request) -> Response:
        form = PredictionSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        values = dict(form.validated_data)
        task = self.task(values.pop("task_id"))
        try:
            made = services.create_predictions(
                task.project, [(task, values)], actor=self.actor, origin=self.origin
            )
        except services.TaskError as exc:
            raise _refused(exc) from None
        return Response(PredictionSerializer(made[0]).data, status=status.HTTP_201_CREATED)


class PredictionDetailView(TaskScopedView):
    """Reads, changes or deletes one prediction."""

    required_perms: ClassVar = {"PATCH": Perm.PROJECTS_MANAGE, "DELETE": Perm.PROJECTS_MANAGE}

    def get(self, request: Request, pk: int) -> Response:
        return Response(
            PredictionSerializer(access.get_prediction_for(self.actor, self.role, pk)).data
        )

    def patch(self, request: Request, pk: int) -> Response:
        prediction = access.get_prediction_for(self.actor, self.role, pk)
        form = PredictionSerializer(prediction, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        values = {k: v for k, v in form.validated_data.items() if k != "task_id"}
        try:
            services.update_prediction(prediction, values, actor=self.actor, origin=self.origin)
        except services.TaskError as exc:
            raise _refused(exc) from None
        return Response(PredictionSerializer(prediction).data)

    def delete(self, request: Request, pk: int) -> Response:
        prediction = access.get_prediction_for(self.actor, self.role, pk)
        services.delete_prediction(prediction, actor=self.actor, origin=self.origin)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImportPredictionsView(TaskScopedView):
    """`POST api/projects/{id}/import/predictions`: `[{task, result, score, model_version}]`."""

    required_perms: ClassVar = {"POST": Perm.PROJECTS_MANAGE}

    def post(self, request: Request, pk: int) -> Response:
        project = self.project(pk)
        if not isinstance(request.data, list):
            raise exceptions.ValidationError({"detail": "Send a JSON array of predictions."})
        form = PredictionSerializer(data=request.data, many=True)
        form.is_valid(raise_exception=True)
        rows = [dict(row) for row in form.validated_data]
        task_ids = {row["task_id"] for row in rows}
        tasks = {t.pk: t for t in Task.objects.filter(project=project, pk__in=task_ids)}
        if len(tasks) != len(task_ids):
            raise exceptions.ValidationError({"task": "Some tasks are not in this project."})
        pairs = [(tasks[row.pop("task_id")], row) for row in rows]
        try:
            services.create_predictions(project, pairs, actor=self.actor, origin=self.origin)
        except services.TaskError as exc:
            raise _refused(exc) from None
        return Response({"created": len(pairs)}, status=status.HTTP_201_CREATED)


class NextTaskView(TaskScopedView):
    """`GET api/projects/{id}/next`: the caller's next task, locked for them for a while."""

    required_perms: ClassVar = {"GET": Perm.ANNOTATIONS_CREATE}

    def get(self, request: Request, pk: int) -> Response:
        task = next_task(self.project(pk), self.actor)
        if task is None:
            raise exceptions.NotFound("No more tasks to label in this project for you.")
        return Response(self.task_body(task))

"""Label Studio-compatible task, annotation and prediction endpoints."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.accounts.apibase import MemberAPIView
from labelkeep.accounts.models import Membership, User
from labelkeep.accounts.roles import Perm, Role, has_perm
from labelkeep.api.fields import Unstorable, parse_id, storable_text
from labelkeep.api.schema import MEMBER_ERRORS, responses
from labelkeep.api.streaming import json_array
from labelkeep.projects.access import get_project_for
from labelkeep.projects.models import Project
from labelkeep.projects.serializers import CreatedBySerializer
from labelkeep.tasks import access, actions, deletion, drafts, filters, services
from labelkeep.tasks.filters import ORDERABLE
from labelkeep.tasks.listing import MAX_PAGE_SIZE, task_page
from labelkeep.tasks.models import Annotation, Prediction, SavedView, Task
from labelkeep.tasks.saved_views import get_view_for, read_query
from labelkeep.tasks.serializers import (
    BULK_ANNOTATION_LIMIT,
    PREDICTION_COLUMNS,
    AnnotationBulkCreateSerializer,
    AnnotationCreateSerializer,
    AnnotationSerializer,
    DraftIdSerializer,
    IdListSerializer,
    ListedTaskSerializer,
    PredictionSerializer,
    SelectedItemsSerializer,
    TaskDetailSerializer,
    TaskWriteSerializer,
    annotation_json,
    prediction_json,
    prediction_row_json,
    task_json,
)
from labelkeep.tasks.stream import has_next_task, next_task


def _check_view_project(view: SavedView | None, project: Project) -> None:
    if view is not None and view.project_id != project.pk:
        raise exceptions.ValidationError({"view": "The view belongs to another project."})


def _refused(exc: services.TaskError, field: str = "result") -> exceptions.ValidationError:
    return exceptions.ValidationError({exc.field or field: exc.messages})


class TaskScopedView(MemberAPIView):
    """Helpers shared by the task endpoints."""

    def project(self, pk: int) -> Project:
        return get_project_for(self.actor, self.role, pk)

    def task(self, pk: int) -> Task:
        return access.get_task_for(self.actor, self.role, pk)

    def saved_view(self, request: Request) -> SavedView | None:
        """The saved view named by `?view=` (or the body's `view`), if any."""
        raw = request.query_params.get("view")
        if not raw and isinstance(request.data, dict) and request.data.get("view") is not None:
            raw = str(request.data["view"])
        if not raw:
            return None
        pk = parse_id(raw)
        if pk is None:
            raise exceptions.ValidationError({"view": "Give the view id: ?view=<id>."})
        return get_view_for(self.actor, self.role, pk)

    def own_annotations_only(self) -> bool:
        return not has_perm(self.role, Perm.ANNOTATIONS_REVIEW)

    def task_body(
        self, task: Task, *, predictions: bool = True, project: Project | None = None
    ) -> dict[str, Any]:
        """The task as its endpoints answer; `project` is the task's, when the task was
        loaded without it."""
        own = self.own_annotations_only()
        mine: dict[int, list[dict[str, Any]]] = {task.pk: []}
        drafted: set[int] = set()
        if (project or task.project).has_drafts:
            mine, drafted = drafts.page_drafts([task.pk], self.actor, everyone=not own)
        return task_json(
            task,
            full=True,
            annotations=access.annotations_of(task, author=self.actor if own else None),
            predictions=access.predictions_of(task) if predictions else [],
            drafts=mine[task.pk],
            drafted=task.pk in drafted,
        )


_NO_PROJECT = (404, "No such project, or the caller may not see it.")
_NO_TASK = (404, "No such task, or the caller may not see it.")
_NO_ANNOTATION = (404, "No such annotation, or the caller may not see it.")
_NO_PREDICTION = (404, "No such prediction, or the caller may not see it.")
_RESULT_400 = (
    400,
    "Invalid input, or a `result` that is not a list of regions the project's labeling "
    "config allows.",
)

_TASK_PAGE = inline_serializer(
    "TaskPage",
    {
        "tasks": ListedTaskSerializer(many=True),
        "total": serializers.IntegerField(
            help_text="Tasks matching the filters (without filters: the project's tasks)."
        ),
        "total_annotations": serializers.IntegerField(
            help_text="The project's annotations (not only the matching tasks')."
        ),
        "total_predictions": serializers.IntegerField(
            help_text="The project's predictions (not only the matching tasks')."
        ),
    },
)
_TASK_LIST_PARAMETERS = [
    OpenApiParameter("page", int, description="Page number, from 1; pages past the end are empty."),
    OpenApiParameter(
        "page_size",
        int,
        description=f"Tasks per page (default 100; larger values count as {MAX_PAGE_SIZE}).",
    ),
    OpenApiParameter(
        "fields",
        str,
        enum=["task_only", "all"],
        default="task_only",
        description="`all` adds each task's annotations (annotators: their own), "
        "predictions and drafts.",
    ),
    OpenApiParameter(
        "include",
        str,
        description="Return only these task fields (comma-separated; `id` always); with "
        "`fields=all` also `annotations`, `predictions`, `drafts`.",
    ),
    OpenApiParameter(
        "query",
        str,
        description="Label Studio's data-manager query, as JSON: `{filters, ordering, "
        'selectedItems}`, e.g. `{"filters": {"conjunction": "and", "items": [{"filter": '
        '"filter:tasks:data.lang", "operator": "equal", "type": "String", "value": "en"}]}}`. '
        "Filters: `filter:tasks:` + id, created_at, updated_at, is_labeled, annotators, "
        "total_annotations, cancelled_annotations, total_predictions or data.<key> "
        "(docs/api-compatibility.md).",
    ),
    OpenApiParameter(
        "ordering",
        str,
        default="id",
        description=f"One sort field: {', '.join(ORDERABLE)} or data.<key>, optionally "
        "prefixed `tasks:`; a leading `-` sorts descending; ties by id. "
        "`ordering` in `query` takes precedence.",
    ),
    OpenApiParameter(
        "only_annotated", bool, description="`true`: only tasks with a finished annotation."
    ),
    OpenApiParameter("is_labeled", bool, description="Keep tasks that are (or are not) labeled."),
    OpenApiParameter(
        "selectedItems",
        str,
        description='JSON: `{"all": false, "included": [ids]}` or '
        '`{"all": true, "excluded": [ids]}`.',
    ),
    OpenApiParameter("resolve_uri", bool, description="Accepted; task data is returned as stored."),
    OpenApiParameter(
        "view",
        int,
        description="A saved view (`api/dm/views/`): its filters, ordering and selection "
        "stand in for `query`.",
    ),
]
_TASK_LIST_400 = (
    400,
    "A malformed or unknown parameter, filter, operator or ordering; `view` together with "
    "`query`, or a view of another project.",
)


def _project_param(request: Request) -> int:
    pk = parse_id(request.query_params.get("project"))
    if pk is None:
        raise exceptions.ValidationError({"project": "Give the project id: ?project=<id>."})
    return pk


class TasksView(TaskScopedView):
    """Lists a project's tasks (`{tasks, total, …}`); creates one task."""

    required_perms: ClassVar = {"POST": Perm.TASKS_IMPORT_EXPORT}

    @extend_schema(
        tags=["tasks"],
        summary="List a project's tasks",
        operation_id="tasks_list",
        parameters=[
            OpenApiParameter(
                "project",
                int,
                description="The project whose tasks to list (optional with `view`).",
            ),
            *_TASK_LIST_PARAMETERS,
        ],
        responses=responses(
            {200: _TASK_PAGE},
            (
                400,
                "No `project` (or `view`), a malformed or unknown parameter, filter, operator "
                "or ordering; `view` together with `query`, or a view of another project.",
            ),
            *MEMBER_ERRORS,
            (404, "No such project or view, or the caller may not see it."),
        ),
    )
    def get(self, request: Request) -> Response:
        view = self.saved_view(request)
        if view is None or request.query_params.get("project"):
            project = self.project(_project_param(request))
        else:
            project = self.project(view.project_id)
        _check_view_project(view, project)
        own_only = self.own_annotations_only()
        return Response(task_page(project, request, own_only=own_only, user=self.actor, view=view))

    @extend_schema(
        tags=["tasks"],
        summary="Create a task",
        request=inline_serializer(
            "TaskCreate",
            {
                "project": serializers.IntegerField(min_value=1),
                "data": serializers.DictField(
                    help_text="What to label: values for the config's `$variables`."
                ),
                "meta": serializers.DictField(required=False),
                "overlap": serializers.IntegerField(
                    required=False,
                    min_value=1,
                    max_value=1000,
                    help_text="Annotations the task needs (if not given, the project's "
                    "`maximum_annotations`, or one outside its `overlap_cohort_percentage`).",
                ),
                "is_labeled": serializers.BooleanField(
                    required=False, help_text="Mark the task done (or not) until it is recounted."
                ),
            },
        ),
        responses=responses({201: TaskDetailSerializer}, 400, *MEMBER_ERRORS, _NO_PROJECT, 413),
    )
    def post(self, request: Request) -> Response:
        form = TaskWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        values = form.validated_data
        if "project" not in values or "data" not in values:
            raise exceptions.ValidationError({"detail": "Both `project` and `data` are required."})
        project = self.project(values["project"])
        try:
            services.check_data(project, values["data"])
        except services.TaskError as exc:
            raise _refused(exc, "data") from None
        given = {name: values[name] for name in ("overlap", "is_labeled") if name in values}
        with transaction.atomic():  # all of it or nothing
            created = services.create_tasks(
                project,
                [services.NewTask(data=values["data"], meta=values.get("meta", {}))],
                actor=self.actor,
                origin=self.origin,
            )
            task = Task.objects.get(pk=created.task_ids[0])
            if given:  # as a PATCH right after would set them
                services.update_task(task, given, actor=self.actor, origin=self.origin)
                task = Task.objects.get(pk=task.pk)
        return Response(task_json(task, full=True), status=status.HTTP_201_CREATED)


class TaskDetailView(TaskScopedView):
    """Reads, changes or deletes one task."""

    required_perms: ClassVar = {"PATCH": Perm.PROJECTS_MANAGE, "DELETE": Perm.PROJECTS_MANAGE}

    @extend_schema(
        tags=["tasks"],
        summary="Read a task",
        responses=responses({200: TaskDetailSerializer}, *MEMBER_ERRORS, _NO_TASK),
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(self.task_body(self.task(pk)))

    @extend_schema(
        tags=["tasks"],
        summary="Change a task",
        request=inline_serializer(
            "TaskChange",
            {
                "data": serializers.DictField(required=False),
                "meta": serializers.DictField(required=False),
                "overlap": serializers.IntegerField(
                    required=False,
                    min_value=1,
                    max_value=1000,
                    help_text="How many annotations the task needs.",
                ),
                "is_labeled": serializers.BooleanField(
                    required=False,
                    help_text="Mark the task done (or not) until it is next recounted.",
                ),
            },
        ),
        responses=responses({200: TaskDetailSerializer}, 400, *MEMBER_ERRORS, _NO_TASK, 413),
    )
    def patch(self, request: Request, pk: int) -> Response:
        task = self.task(pk)
        form = TaskWriteSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        changeable = ("data", "meta", "overlap", "is_labeled")
        values = {k: v for k, v in form.validated_data.items() if k in changeable}
        try:
            services.update_task(task, values, actor=self.actor, origin=self.origin)
        except services.TaskError as exc:
            raise _refused(exc, "data") from None
        return Response(self.task_body(task))

    @extend_schema(
        tags=["tasks"],
        summary="Delete a task with its annotations and predictions",
        responses=responses({204: None}, *MEMBER_ERRORS, _NO_TASK),
    )
    def delete(self, request: Request, pk: int) -> Response:
        task = self.task(pk)
        if not services.delete_tasks(task.project, [task.pk], actor=self.actor, origin=self.origin):
            raise exceptions.NotFound("The task was deleted meanwhile.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectTasksView(TaskScopedView):
    """A project's tasks: list (as `api/tasks/?project=`) or delete them all."""

    required_perms: ClassVar = {"DELETE": Perm.PROJECTS_MANAGE}

    @extend_schema(
        tags=["tasks"],
        summary="List a project's tasks (by path)",
        operation_id="projects_tasks_list",
        parameters=_TASK_LIST_PARAMETERS,
        responses=responses({200: _TASK_PAGE}, _TASK_LIST_400, *MEMBER_ERRORS, _NO_PROJECT),
    )
    def get(self, request: Request, pk: int) -> Response:
        project = self.project(pk)
        view = self.saved_view(request)
        _check_view_project(view, project)
        own_only = self.own_annotations_only()
        return Response(task_page(project, request, own_only=own_only, user=self.actor, view=view))

    @extend_schema(
        tags=["tasks"],
        summary="Delete all of a project's tasks",
        responses=responses({204: None}, *MEMBER_ERRORS, _NO_PROJECT),
    )
    def delete(self, request: Request, pk: int) -> Response:
        services.delete_tasks(self.project(pk), None, actor=self.actor, origin=self.origin)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectAnnotatorsView(TaskScopedView):
    """Everyone who has annotated (or skipped) a task of the project."""

    required_perms: ClassVar = {"GET": Perm.ANNOTATIONS_REVIEW}

    @extend_schema(
        tags=["projects"],
        summary="List the project's annotators",
        operation_id="projects_annotators_list",
        responses=responses(
            {200: CreatedBySerializer(many=True)},
            *MEMBER_ERRORS,
            (403, "No valid membership, or an annotator (who may not list who else annotated)."),
            _NO_PROJECT,
        ),
    )
    def get(self, request: Request, pk: int) -> Response:
        ids = access.annotator_ids(self.project(pk))
        users = User.objects.filter(pk__in=ids).order_by("pk")
        return Response(CreatedBySerializer(users, many=True).data)


_ACTION_IDS = [action.id for action in actions.ACTIONS]
MODEL_VERSION_LENGTH = Prediction._meta.get_field("model_version").max_length or 0


class DataManagerActionView(TaskScopedView):
    """Lists the data manager's actions, or runs one on selected tasks of a project."""

    required_perms: ClassVar = {"GET": Perm.PROJECTS_MANAGE, "POST": Perm.PROJECTS_MANAGE}

    @extend_schema(
        tags=["tasks"],
        summary="List the data manager's actions",
        operation_id="dm_actions_list",
        parameters=[OpenApiParameter("project", int, required=True)],
        responses=responses(
            {
                200: inline_serializer(
                    "DataManagerActionInfo",
                    {
                        "id": serializers.ChoiceField(choices=_ACTION_IDS),
                        "title": serializers.CharField(),
                        "order": serializers.IntegerField(),
                        "permission": serializers.CharField(),
                        "experimental": serializers.BooleanField(),
                        "dialog": serializers.JSONField(
                            help_text="{title, text, type, form}: what to confirm, and the "
                            "choices the action takes (`annotator`, `model_version`)."
                        ),
                    },
                    many=True,
                )
            },
            (400, "No `project`."),
            *MEMBER_ERRORS,
            _NO_PROJECT,
        ),
    )
    def get(self, request: Request) -> Response:
        project = self.project(_project_param(request))
        return Response([action.listed(project) for action in actions.ACTIONS])

    @extend_schema(
        tags=["tasks"],
        summary="Run a data-manager action on selected tasks",
        parameters=[
            OpenApiParameter("id", str, required=True, enum=_ACTION_IDS, description="The action."),
            OpenApiParameter(
                "project", int, required=True, description="The project whose tasks to act on."
            ),
            OpenApiParameter(
                "view",
                int,
                description="A saved view of the project whose filters the selection applies "
                "to (instead of `filters`).",
            ),
        ],
        request=inline_serializer(
            "DataManagerAction",
            {
                "selectedItems": SelectedItemsSerializer(
                    help_text="The tasks to act on (also accepted as the whole body)."
                ),
                "filters": serializers.JSONField(
                    required=False,
                    help_text="The task list's filters ({conjunction, items}): the selection "
                    "applies to the tasks that match them.",
                ),
                "view": serializers.IntegerField(
                    required=False, help_text="As the `view` parameter."
                ),
                "annotator": serializers.IntegerField(
                    required=False,
                    help_text="delete_tasks_annotations: only this user's annotations.",
                ),
                "model_version": serializers.JSONField(
                    required=False,
                    help_text="predictions_to_annotations: only predictions of this model "
                    "version (a string, or a list of them).",
                ),
            },
        ),
        responses=responses(
            {
                200: inline_serializer(
                    "DataManagerActionResult",
                    {
                        "detail": serializers.CharField(),
                        "processed_items": serializers.IntegerField(
                            help_text="How many tasks, annotations or predictions were "
                            "deleted, or annotations created."
                        ),
                    },
                )
            },
            (
                400,
                "An unsupported action, no `project`, an invalid selection or choice, "
                "or `view` with `filters` or of another project.",
            ),
            *MEMBER_ERRORS,
            _NO_PROJECT,
            413,
        ),
    )
    def post(self, request: Request) -> Response:
        action = request.query_params.get("id", "")
        if action not in actions.BY_ID:
            raise exceptions.ValidationError(
                {"id": f"Supported actions: {', '.join(_ACTION_IDS)}."}
            )
        project = self.project(_project_param(request))
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"detail": "Send a JSON object: {selectedItems}."})
        chosen = self._selection(request, project)
        if action == "delete_tasks":
            count = services.delete_tasks(
                project,
                chosen.ids,
                excluded=chosen.excluded,
                matching=chosen.matching,
                actor=self.actor,
                origin=self.origin,
            )
            return Response({"detail": f"Deleted {count} tasks", "processed_items": count})
        if action == "delete_tasks_annotations":
            annotator = _optional_id(request.data.get("annotator"), "annotator")
            count = actions.delete_annotations(
                chosen, annotator, actor=self.actor, origin=self.origin
            )
            return Response({"detail": f"Deleted {count} annotations", "processed_items": count})
        if action == "delete_tasks_predictions":
            count = actions.delete_predictions(chosen, actor=self.actor, origin=self.origin)
            return Response({"detail": f"Deleted {count} predictions", "processed_items": count})
        versions = _model_versions(request.data.get("model_version"))
        try:
            done = actions.predictions_to_annotations(
                chosen, versions, actor=self.actor, origin=self.origin
            )
        except services.TaskError as exc:
            raise _refused(exc, "detail") from None
        detail = f"Created {done.created} annotations"
        if done.refused:
            detail += (
                f"; {done.refused} predictions were left: the labeling config no longer "
                "allows their results"
            )
        return Response({"detail": detail, "processed_items": done.created})

    def _selection(self, request: Request, project: Project) -> actions.Selection:
        """`selectedItems` (or the whole body), narrowed by `filters` or a saved view."""
        form = SelectedItemsSerializer(data=request.data.get("selectedItems", request.data))
        form.is_valid(raise_exception=True)
        chosen = form.validated_data
        ids = None if chosen["all"] else chosen.get("included", [])
        excluded = set(chosen.get("excluded", [])) if chosen["all"] else set()
        # Label Studio's rule: with filters, the selection applies to the filtered tasks.
        # A saved view lends its filters; the selection is always the caller's own.
        scope = filters.Scope(project=project, user=self.actor, own_only=False)
        view = self.saved_view(request)
        _check_view_project(view, project)
        if view is None:
            matching = filters.conditions(request.data.get("filters"), scope)
        elif request.data.get("filters") is not None:
            raise exceptions.ValidationError({"view": "Give `view` or `filters`, not both."})
        else:
            matching = read_query(view.data, scope, "view").condition
        return actions.Selection(project, ids, excluded, matching)


def _optional_id(given: Any, name: str) -> int | None:
    if given is None or given == "":
        return None
    pk = parse_id(str(given)) if not isinstance(given, bool) else None
    if pk is None:
        raise exceptions.ValidationError({name: "Give a user id."})
    return pk


def _model_versions(given: Any) -> list[str] | None:
    """`model_version`: one name or a list of them (None: predictions of any version)."""
    if given is None:
        return None
    names = given if isinstance(given, list) else [given]
    fit = all(isinstance(n, str) and len(n) <= MODEL_VERSION_LENGTH for n in names)
    if not names or len(names) > 100 or not fit:
        raise exceptions.ValidationError(
            {
                "model_version": f"Give a model version (at most {MODEL_VERSION_LENGTH} "
                "characters), or a list of at most 100 of them."
            }
        )
    for name in names:
        try:
            storable_text(name)
        except Unstorable as exc:
            raise exceptions.ValidationError({"model_version": f"The name {exc}"}) from None
    return names


def _completed_by(view: TaskScopedView, given: int | None, project: Project) -> User:
    if given is None or given == view.actor.pk:
        return view.actor
    if not has_perm(view.role, Perm.PROJECTS_MANAGE):
        raise exceptions.PermissionDenied("Only managers record annotations for someone else.")
    membership = (
        Membership.objects.filter(user_id=given, organization_id=project.organization_id)
        .select_related("user")
        .first()
    )
    if membership is None or membership.role == Role.DEACTIVATED:
        raise exceptions.ValidationError(
            {"completed_by": "Not an active member of this organization."}
        )
    if (
        not has_perm(membership.role, Perm.PROJECTS_VIEW_ALL)
        and not project.members.filter(user_id=given).exists()
    ):
        # Their annotation would sit in a project they cannot open.
        raise exceptions.ValidationError({"completed_by": "Not a member of this project."})
    return membership.user


def _draft_id(request: Request) -> dict[str, Any]:
    """`draft_id`, if the body gives one (a dict body: others are refused elsewhere)."""
    if not isinstance(request.data, dict) or request.data.get("draft_id") is None:
        return {}
    form = DraftIdSerializer(data={"draft_id": request.data["draft_id"]})
    form.is_valid(raise_exception=True)
    return dict(form.validated_data)


_ANNOTATION_ORDERINGS = ("id", "-id", "created_at", "-created_at", "updated_at", "-updated_at")


class TaskAnnotationsView(TaskScopedView):
    """Lists a task's annotations (annotators: their own); creates one."""

    required_perms: ClassVar = {"POST": Perm.ANNOTATIONS_CREATE}

    @extend_schema(
        tags=["annotations"],
        summary="List a task's annotations",
        parameters=[
            OpenApiParameter(
                "ordering",
                str,
                enum=list(_ANNOTATION_ORDERINGS),
                default="id",
                description="Sort key; a leading `-` sorts descending.",
            )
        ],
        responses=responses(
            {200: AnnotationSerializer(many=True)},
            (400, "Unknown `ordering`."),
            *MEMBER_ERRORS,
            _NO_TASK,
        ),
    )
    def get(self, request: Request, pk: int) -> Response:
        task = self.task(pk)
        annotations = access.visible_annotations(self.actor, self.role).filter(task=task)
        ordering = request.query_params.get("ordering", "id")
        if ordering not in _ANNOTATION_ORDERINGS:
            raise exceptions.ValidationError({"ordering": "Use id, created_at or updated_at."})
        return Response([annotation_json(a) for a in annotations.order_by(ordering)])

    @extend_schema(
        tags=["annotations"],
        summary="Create an annotation",
        description="A `draft_id` in the body names the caller's draft of this task the "
        "annotation was made from: it is deleted with the save.",
        request=AnnotationSerializer,
        responses=responses(
            {201: AnnotationSerializer},
            (
                400,
                "Invalid input, a `result` the project's labeling config does not allow, or "
                "a `completed_by` outside the organization.",
            ),
            (
                403,
                "The caller is not an active member, lacks the permission, or (below manager) "
                "sets `completed_by` to someone else.",
            ),
            401,
            _NO_TASK,
            413,
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        task = self.task(pk)
        form = AnnotationCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        values = {**form.validated_data, **_draft_id(request)}
        author = _completed_by(self, values.pop("completed_by_id", None), task.project)
        try:
            annotation = services.create_annotation(
                task, values, actor=self.actor, completed_by=author, origin=self.origin
            )
        except services.TaskError as exc:
            raise _refused(exc) from None
        return Response(annotation_json(annotation), status=status.HTTP_201_CREATED)


_NOT_AUTHOR = (
    403,
    "The caller is not an active member, or neither the annotation's author nor a manager.",
)


class AnnotationDetailView(TaskScopedView):
    """Reads, changes or deletes one annotation (authors and managers change it)."""

    def _annotation(self, pk: int, *, changing: bool) -> Annotation:
        annotation = access.get_annotation_for(self.actor, self.role, pk)
        if changing and not access.may_change_annotation(self.actor, self.role, annotation):
            raise exceptions.PermissionDenied("Only the author or a manager changes an annotation.")
        return annotation

    @extend_schema(
        tags=["annotations"],
        summary="Read an annotation",
        responses=responses({200: AnnotationSerializer}, *MEMBER_ERRORS, _NO_ANNOTATION),
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(annotation_json(self._annotation(pk, changing=False)))

    @extend_schema(
        tags=["annotations"],
        summary="Change an annotation (`completed_by` is ignored)",
        description="A `draft_id` in the body names the caller's draft of the change: it is "
        "deleted with the save.",
        request=AnnotationSerializer(partial=True),
        responses=responses(
            {200: AnnotationSerializer},
            _RESULT_400,
            401,
            _NOT_AUTHOR,
            _NO_ANNOTATION,
            413,
        ),
    )
    def patch(self, request: Request, pk: int) -> Response:
        annotation = self._annotation(pk, changing=True)
        form = AnnotationSerializer(annotation, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        values = {k: v for k, v in form.validated_data.items() if k != "completed_by_id"}
        values.update(_draft_id(request))
        try:
            services.update_annotation(annotation, values, actor=self.actor, origin=self.origin)
        except services.TaskError as exc:
            raise _refused(exc) from None
        return Response(annotation_json(annotation))

    @extend_schema(
        tags=["annotations"],
        summary="Delete an annotation",
        responses=responses({204: None}, 401, _NOT_AUTHOR, _NO_ANNOTATION),
    )
    def delete(self, request: Request, pk: int) -> Response:
        annotation = self._annotation(pk, changing=True)
        if not services.delete_annotations([annotation], actor=self.actor, origin=self.origin):
            raise exceptions.NotFound("The annotation was deleted meanwhile.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnotationsBulkCreateView(TaskScopedView):
    """Gives several tasks of one project the same annotation, all or none (`create_bulk`)."""

    required_perms: ClassVar = {"POST": Perm.ANNOTATIONS_CREATE}

    @extend_schema(
        tags=["annotations"],
        summary="Create the same annotation on several tasks",
        request=AnnotationBulkCreateSerializer,
        responses=responses(
            {
                201: inline_serializer(
                    "BulkCreatedAnnotation", {"id": serializers.IntegerField()}, many=True
                )
            },
            (
                400,
                f"No tasks, more than {BULK_ANNOTATION_LIMIT}, tasks of several projects, "
                "`selected_items` without `project`, or a `result` the config does not allow.",
            ),
            (
                403,
                "The caller is not an active member, lacks the permission, or (below manager) "
                "sets `completed_by` to someone else.",
            ),
            401,
            (404, "The project, or some of the tasks, are not visible to the caller."),
            413,
        ),
    )
    def post(self, request: Request) -> Response:
        form = AnnotationBulkCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        values = dict(form.validated_data)
        project = self._project_of(values)
        ids = self._task_ids(project, values)
        author = _completed_by(self, values.pop("completed_by_id", None), project)
        try:
            made = services.create_annotations_bulk(
                project, ids, values, actor=self.actor, completed_by=author, origin=self.origin
            )
        except services.TaskError as exc:
            raise _refused(exc) from None
        except Task.DoesNotExist:
            raise exceptions.NotFound("Some tasks were not found in the project.") from None
        return Response([{"id": a.pk} for a in made], status=status.HTTP_201_CREATED)

    def _project_of(self, values: dict[str, Any]) -> Project:
        if "project" in values:
            return self.project(values["project"])
        if "selected_items" in values:
            raise exceptions.ValidationError({"project": "Needed with selected_items."})
        named = [*values.get("tasks", []), *([values["task"]] if "task" in values else [])]
        if not named:
            raise exceptions.ValidationError({"tasks": "Name at least one task."})
        projects = set(
            access.visible_tasks(self.actor, self.role)
            .filter(pk__in=named)
            .values_list("project_id", flat=True)
            .distinct()[:2]
        )
        if len(projects) > 1:
            raise exceptions.ValidationError({"tasks": "Tasks of one project at a time."})
        if not projects:
            raise exceptions.NotFound("No such tasks, or the caller may not see them.")
        return self.project(projects.pop())

    def _task_ids(self, project: Project, values: dict[str, Any]) -> list[int]:
        ids = set(values.get("tasks", []))
        if "task" in values:
            ids.add(values["task"])
        chosen = values.get("selected_items")
        if chosen is not None:
            if chosen["all"]:
                excluded = set(chosen.get("excluded", []))
                everything = Task.objects.filter(project=project).values_list("pk", flat=True)
                ids.update(
                    pk
                    for pk in everything[: BULK_ANNOTATION_LIMIT + len(excluded) + 1]
                    if pk not in excluded
                )
            else:
                ids.update(chosen.get("included", []))
        if not ids:
            raise exceptions.ValidationError({"tasks": "Name at least one task."})
        if len(ids) > BULK_ANNOTATION_LIMIT:
            raise exceptions.ValidationError(
                {"tasks": f"At most {BULK_ANNOTATION_LIMIT} tasks per request."}
            )
        return sorted(ids)


class AnnotationsBulkDeleteView(TaskScopedView):
    """Deletes several annotations the caller may change, all or none (`delete_bulk`)."""

    @extend_schema(
        tags=["annotations"],
        summary="Delete annotations in bulk",
        request=IdListSerializer,
        responses=responses(
            {
                200: inline_serializer(
                    "DeletedAnnotations", {"deleted_count": serializers.IntegerField()}
                )
            },
            400,
            401,
            (
                403,
                "The caller is not an active member, or neither the author nor a manager "
                "of one of the annotations.",
            ),
            (404, "Some ids are not visible annotations (of `project`, when given)."),
            413,
        ),
    )
    def post(self, request: Request) -> Response:
        form = IdListSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        wanted = sorted(set(form.validated_data["ids"]))
        annotations = access.visible_annotations(self.actor, self.role)
        if "project" in form.validated_data:
            annotations = annotations.filter(project_id=form.validated_data["project"])
        authors: list[int | None] = []
        for start in range(0, len(wanted), services.DELETE_SLICE):
            chunk = wanted[start : start + services.DELETE_SLICE]
            authors += annotations.filter(pk__in=chunk).values_list("completed_by_id", flat=True)
        if len(authors) != len(wanted):
            raise exceptions.NotFound("Some annotations were not found.")
        if not all(access.may_change_authored(self.actor, self.role, a) for a in set(authors)):
            raise exceptions.PermissionDenied("Only the author or a manager deletes an annotation.")
        count = services.delete_annotations_bulk(wanted, actor=self.actor, origin=self.origin)
        return Response({"deleted_count": count})


# Predictions read per query while listing: the list is streamed, so memory holds one chunk.
PREDICTIONS_PER_QUERY = 1000


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
        pk = parse_id(raw)
        if pk is None:
            raise exceptions.ValidationError({name: "An id."})
        predictions = predictions.filter(**{lookup: pk})
    return predictions


class PredictionsView(TaskScopedView):
    """Lists predictions (by task or project); creates one (managers and above)."""

    required_perms: ClassVar = {"POST": Perm.PROJECTS_MANAGE}

    @extend_schema(
        tags=["predictions"],
        summary="List predictions",
        description="A plain JSON array, as Label Studio answers, of the predictions of every "
        "project the caller may see (annotators: the projects they are members of), by id. "
        "Without a filter that is the whole organization: the array is streamed, read "
        f"{PREDICTIONS_PER_QUERY} at a time.",
        parameters=[
            OpenApiParameter("task", int, description="Keep the predictions of this task."),
            OpenApiParameter("project", int, description="Keep the predictions of this project."),
            OpenApiParameter("task__project", int, description="The same as `project`."),
        ],
        responses=responses(
            {200: PredictionSerializer(many=True)},
            (400, "A `task` or `project` that is not an id."),
            *MEMBER_ERRORS,
        ),
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return json_array(
            _prediction_filters(self, request),
            PREDICTION_COLUMNS,
            prediction_row_json,
            size=PREDICTIONS_PER_QUERY,
        )

    @extend_schema(
        tags=["predictions"],
        summary="Create a prediction",
        request=PredictionSerializer,
        responses=responses(
            {201: PredictionSerializer}, _RESULT_400, *MEMBER_ERRORS, _NO_TASK, 413
        ),
    )
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
        return Response(prediction_json(made[0]), status=status.HTTP_201_CREATED)


class PredictionDetailView(TaskScopedView):
    """Reads, changes or deletes one prediction."""

    required_perms: ClassVar = {"PATCH": Perm.PROJECTS_MANAGE, "DELETE": Perm.PROJECTS_MANAGE}

    @extend_schema(
        tags=["predictions"],
        summary="Read a prediction",
        responses=responses({200: PredictionSerializer}, *MEMBER_ERRORS, _NO_PREDICTION),
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(prediction_json(access.get_prediction_for(self.actor, self.role, pk)))

    @extend_schema(
        tags=["predictions"],
        summary="Change a prediction (`task` is ignored)",
        request=PredictionSerializer(partial=True),
        responses=responses(
            {200: PredictionSerializer}, _RESULT_400, *MEMBER_ERRORS, _NO_PREDICTION, 413
        ),
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
        return Response(prediction_json(prediction))

    @extend_schema(
        tags=["predictions"],
        summary="Delete a prediction",
        responses=responses({204: None}, *MEMBER_ERRORS, _NO_PREDICTION),
    )
    def delete(self, request: Request, pk: int) -> Response:
        prediction = access.get_prediction_for(self.actor, self.role, pk)
        if not services.delete_prediction(prediction, actor=self.actor, origin=self.origin):
            raise exceptions.NotFound("The prediction was deleted meanwhile.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImportPredictionsView(TaskScopedView):
    """Adds predictions to tasks of a project from a JSON array, all or none."""

    required_perms: ClassVar = {"POST": Perm.PROJECTS_MANAGE}

    @extend_schema(
        tags=["predictions"],
        summary="Import predictions",
        request=PredictionSerializer(many=True),
        responses=responses(
            {
                201: inline_serializer(
                    "ImportedPredictions", {"created": serializers.IntegerField()}
                )
            },
            (
                400,
                "Not an array, invalid predictions, tasks outside the project, or a `result` "
                "the project's labeling config does not allow.",
            ),
            *MEMBER_ERRORS,
            _NO_PROJECT,
            413,
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        project = self.project(pk)
        if not isinstance(request.data, list):
            raise exceptions.ValidationError({"detail": "Send a JSON array of predictions."})
        form = PredictionSerializer(data=request.data, many=True)
        form.is_valid(raise_exception=True)
        rows = [dict(row) for row in form.validated_data]
        tasks = _tasks_named(project, {row["task_id"] for row in rows})
        pairs = [(tasks[row.pop("task_id")], row) for row in rows]
        try:
            services.create_predictions(project, pairs, actor=self.actor, origin=self.origin)
        except services.TaskError as exc:
            raise _refused(exc) from None
        return Response({"created": len(pairs)}, status=status.HTTP_201_CREATED)


def _tasks_named(project: Project, task_ids: set[int]) -> dict[int, Task]:
    """The project's tasks with these ids, or a 400 if any is not one of them.

    Read deletion.SLICE ids at a time: a single `id IN` list of tens of thousands binds
    more parameters than a statement may (65,535 on PostgreSQL). Only the id is read: a
    prediction needs no more, and that many tasks' data would fill memory."""
    ordered = sorted(task_ids)
    found: dict[int, Task] = {}
    for start in range(0, len(ordered), deletion.SLICE):
        chunk = ordered[start : start + deletion.SLICE]
        tasks = Task.objects.filter(project=project, pk__in=chunk).only("pk")
        found.update((task.pk, task) for task in tasks)
        if len(found) != start + len(chunk):
            raise exceptions.ValidationError({"task": "Some tasks are not in this project."})
    return found


_NOTHING_LEFT = "No more tasks to label in this project for you."


class NextTaskView(TaskScopedView):
    """The caller's next task to label in a project, locked for them for a while."""

    required_perms: ClassVar = {"GET": Perm.ANNOTATIONS_CREATE}

    @extend_schema(
        tags=["tasks"],
        summary="Next task to label",
        responses=responses(
            {200: TaskDetailSerializer},
            *MEMBER_ERRORS,
            (404, "No such project visible to the caller, or no task left for them to label."),
        ),
    )
    def get(self, request: Request, pk: int) -> Response:
        project = self.project(pk)
        task = next_task(project, self.actor)
        if task is None:
            raise exceptions.NotFound(_NOTHING_LEFT)
        # Without `show_collab_predictions`, nothing pre-labels the task.
        body = self.task_body(task, predictions=project.show_collab_predictions, project=project)
        return Response(body)

    @extend_schema(exclude=True)
    def head(self, request: Request, pk: int) -> HttpResponse:
        """The GET's status and headers, without reserving a task or writing anything."""
        if not has_next_task(self.project(pk), self.actor):
            raise exceptions.NotFound(_NOTHING_LEFT)
        return HttpResponse(content_type="application/json")

"""Label Studio-compatible draft endpoints: a person's unsaved work on a task."""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.accounts.roles import Perm
from labelkeep.api.schema import MEMBER_ERRORS, responses
from labelkeep.projects.models import Project
from labelkeep.tasks import access, drafts
from labelkeep.tasks.api import TaskScopedView
from labelkeep.tasks.models import Annotation, Draft, Task
from labelkeep.tasks.serializers import DraftSerializer

_NO_TARGET = (404, "No such task (or annotation of it), or the caller may not see it.")
_NO_DRAFT = (404, "No such draft of the caller's, or the caller may no longer see its task.")
_DRAFT_400 = (400, "Invalid input, or a `result` that is not a list of JSON objects.")


def _refused(exc: drafts.DraftError) -> exceptions.ValidationError:
    return exceptions.ValidationError({exc.field: [str(exc)]})


class TaskDraftsView(TaskScopedView):
    """The caller's drafts of a task, or (on the annotation's route) of a change to one of
    its annotations; makes one."""

    required_perms: ClassVar = {"POST": Perm.ANNOTATIONS_CREATE}

    def _target(
        self, pk: int, annotation_pk: int | None, *, changing: bool
    ) -> tuple[Task, Annotation | None]:
        task = self.task(pk)
        if annotation_pk is None:
            return task, None
        annotation = access.get_annotation_for(self.actor, self.role, annotation_pk)
        if annotation.task_id != task.pk:
            raise Http404("Annotation not found.")
        if changing and not access.may_change_annotation(self.actor, self.role, annotation):
            raise exceptions.PermissionDenied("Only the author or a manager changes an annotation.")
        return task, annotation

    @extend_schema(
        tags=["drafts"],
        summary="List the caller's drafts of a task (or of a change to an annotation)",
        responses=responses({200: DraftSerializer(many=True)}, *MEMBER_ERRORS, _NO_TARGET),
    )
    def get(self, request: Request, pk: int, annotation_pk: int | None = None) -> Response:
        task, annotation = self._target(pk, annotation_pk, changing=False)
        found = Draft.objects.filter(task=task, user=self.actor, annotation=annotation)
        return Response(drafts.drafts_json(found))

    @extend_schema(
        tags=["drafts"],
        summary="Save a draft of a task (or of a change to an annotation)",
        request=DraftSerializer,
        responses=responses(
            {201: DraftSerializer},
            _DRAFT_400,
            401,
            (
                403,
                "The caller is not an active member, lacks the permission, or may not "
                "change the annotation.",
            ),
            _NO_TARGET,
            413,
        ),
    )
    def post(self, request: Request, pk: int, annotation_pk: int | None = None) -> Response:
        task, annotation = self._target(pk, annotation_pk, changing=True)
        form = DraftSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            draft = drafts.create_draft(
                task,
                form.validated_data,
                user=self.actor,
                origin=self.origin,
                annotation=annotation,
            )
        except drafts.DraftError as exc:
            raise _refused(exc) from None
        except (Task.DoesNotExist, Annotation.DoesNotExist):
            raise Http404("The task or annotation was deleted meanwhile.") from None
        return Response(drafts.draft_json(draft), status=status.HTTP_201_CREATED)


# A full replacement (PUT) sets what it leaves out back to these.
_EMPTY: dict[str, Any] = {"result": [], "lead_time": None, "was_postponed": False}


class DraftDetailView(TaskScopedView):
    """Reads, changes or deletes one of the caller's drafts."""

    required_perms: ClassVar = {
        "PUT": Perm.ANNOTATIONS_CREATE,
        "PATCH": Perm.ANNOTATIONS_CREATE,
        "DELETE": Perm.ANNOTATIONS_CREATE,
    }

    def _draft(self, pk: int) -> Draft:
        visible = Project.objects.visible_to(self.actor, self.role).values("pk")
        found = Draft.objects.filter(pk=pk, user=self.actor, project__in=visible)
        draft = found.select_related("task__project").first()
        if draft is None:
            raise Http404("Draft not found.")
        return draft

    @extend_schema(
        tags=["drafts"],
        summary="Read one of the caller's drafts",
        responses=responses({200: DraftSerializer}, *MEMBER_ERRORS, _NO_DRAFT),
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(drafts.draft_json(self._draft(pk)))

    def _change(self, request: Request, pk: int, *, partial: bool) -> Response:
        draft = self._draft(pk)
        form = DraftSerializer(data=request.data, partial=partial)
        form.is_valid(raise_exception=True)
        values = form.validated_data if partial else {**_EMPTY, **form.validated_data}
        try:
            drafts.update_draft(draft, values, actor=self.actor, origin=self.origin)
        except drafts.DraftError as exc:
            raise _refused(exc) from None
        except Draft.DoesNotExist:
            raise Http404("Draft not found.") from None
        return Response(drafts.draft_json(draft))

    @extend_schema(
        tags=["drafts"],
        summary="Change one of the caller's drafts (fields left out are kept)",
        request=DraftSerializer(partial=True),
        responses=responses({200: DraftSerializer}, _DRAFT_400, *MEMBER_ERRORS, _NO_DRAFT, 413),
    )
    def patch(self, request: Request, pk: int) -> Response:
        return self._change(request, pk, partial=True)

    @extend_schema(
        tags=["drafts"],
        summary="Replace one of the caller's drafts (fields left out are emptied)",
        request=DraftSerializer,
        responses=responses({200: DraftSerializer}, _DRAFT_400, *MEMBER_ERRORS, _NO_DRAFT, 413),
    )
    def put(self, request: Request, pk: int) -> Response:
        return self._change(request, pk, partial=False)

    @extend_schema(
        tags=["drafts"],
        summary="Delete one of the caller's drafts",
        responses=responses({204: None}, *MEMBER_ERRORS, _NO_DRAFT),
    )
    def delete(self, request: Request, pk: int) -> Response:
        if not drafts.delete_draft(self._draft(pk), actor=self.actor, origin=self.origin):
            raise Http404("Draft not found.")
        return Response(status=status.HTTP_204_NO_CONTENT)

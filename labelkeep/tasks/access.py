"""Finding tasks, annotations and predictions for a caller (missing and forbidden: 404)."""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet
from django.http import Http404

from labelkeep.accounts.models import User
from labelkeep.accounts.roles import Perm, Role, has_perm
from labelkeep.db.prepared import PreparedSelect
from labelkeep.projects.access import find_visible, prepared_per_role
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Prediction, Task
from labelkeep.tasks.serializers import UPLOAD_NAME, UPLOAD_NAME_COLUMN


def visible_tasks(user: User, role: Role) -> QuerySet[Task]:
    return Task.objects.filter(project__in=Project.objects.visible_to(user, role).values("pk"))


_TASK_FOR = prepared_per_role(
    lambda pk, caller, role: visible_tasks(caller, role)
    .select_related("project")
    .defer("project__parsed_label_config")  # task requests never read it
    .annotate(**{UPLOAD_NAME: UPLOAD_NAME_COLUMN})
    .filter(pk=pk)
    .order_by()[:1]
)


def get_task_for(user: User, role: Role, task_id: int) -> Task:
    task = find_visible(_TASK_FOR, user, role, task_id)
    if task is None:
        raise Http404("Task not found.")
    return task


_ANNOTATIONS_OF_TASK = PreparedSelect(
    lambda task: Annotation.objects.filter(task_id=task).order_by("id"), task=int
)
_OWN_ANNOTATIONS_OF_TASK = PreparedSelect(
    lambda task, user: Annotation.objects.filter(task_id=task, completed_by_id=user).order_by("id"),
    task=int,
    user=int,
)
_PREDICTIONS_OF_TASK = PreparedSelect(
    lambda task: Prediction.objects.filter(task_id=task).order_by("id"), task=int
)


def annotations_of(task: Task, *, author: User | None) -> list[Annotation]:
    """A task's annotations by id; with `author`, only theirs."""
    if author is None:
        return _ANNOTATIONS_OF_TASK.all(task=task.pk)
    return _OWN_ANNOTATIONS_OF_TASK.all(task=task.pk, user=author.pk)


def predictions_of(task: Task) -> list[Prediction]:
    return _PREDICTIONS_OF_TASK.all(task=task.pk)


def visible_annotations(user: User, role: Role) -> QuerySet[Annotation]:
    """Reviewers and above read every annotation of their projects; annotators their own."""
    annotations = Annotation.objects.filter(
        project__in=Project.objects.visible_to(user, role).values("pk")
    )
    if not has_perm(role, Perm.ANNOTATIONS_REVIEW):
        annotations = annotations.filter(completed_by=user)
    return annotations


def get_annotation_for(user: User, role: Role, annotation_id: int) -> Annotation:
    found = visible_annotations(user, role).select_related("task", "project")
    annotation = found.filter(pk=annotation_id).first()
    if annotation is None:
        raise Http404("Annotation not found.")
    return annotation


def may_change_annotation(user: User, role: Role, annotation: Annotation) -> bool:
    """Authors change their own; managers and above change any in their projects."""
    return may_change_authored(user, role, annotation.completed_by_id)


def may_change_authored(user: User, role: Role, author_id: int | None) -> bool:
    """Whether `user` may change an annotation by `author_id` (see may_change_annotation)."""
    return author_id == user.pk or has_perm(role, Perm.PROJECTS_MANAGE)


def visible_predictions(user: User, role: Role) -> QuerySet[Prediction]:
    return Prediction.objects.filter(
        project__in=Project.objects.visible_to(user, role).values("pk")
    )


def get_prediction_for(user: User, role: Role, prediction_id: int) -> Prediction:
    prediction = (
        visible_predictions(user, role).select_related("task").filter(pk=prediction_id).first()
    )
    if prediction is None:
        raise Http404("Prediction not found.")
    return prediction


def annotator_ids(project: Project) -> list[int]:
    """The ids of everyone with an annotation (or skip) in the project, ascending.

    A loose index scan on the (project, completed_by, task) index, as a recursive query:
    each step finds the next author with one probe, so the cost follows the number of
    authors, not of annotations (a DISTINCT would read every annotation's index entry).
    Hand-written because the ORM cannot express a recursive query; plain SQL that SQLite
    and PostgreSQL both run."""
    table = connection.ops.quote_name(Annotation._meta.db_table)
    author = connection.ops.quote_name(Annotation._meta.get_field("completed_by").column)
    project_column = connection.ops.quote_name(Annotation._meta.get_field("project").column)
    # Only quoted names from the model are formatted in; the project id is a parameter.
    step = f"SELECT MIN({author}) FROM {table} WHERE {project_column} = %s"  # noqa: S608
    sql = (
        f"WITH RECURSIVE authors(id) AS ({step} UNION ALL "  # noqa: S608
        f"SELECT ({step} AND {author} > authors.id) FROM authors WHERE authors.id IS NOT NULL) "
        "SELECT id FROM authors WHERE id IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [project.pk, project.pk])
        return [row[0] for row in cursor.fetchall()]

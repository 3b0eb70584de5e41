"""Drafts: a person's unsaved work on a task, or on a change to one of its annotations.

Label Studio's annotation drafts. A draft belongs to the person who wrote it: only they
read, change or delete it through the API; exports (managers and above) carry every
draft. A draft's result is kept as sent, as long as it is a list of JSON objects: it is
work in progress, checked against the labeling config when it becomes an annotation, so
drafts never hold back a change of the config either. Drafts count nowhere: not as
annotations, not in the label stream (`was_postponed` is kept, and changes nothing there).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import Case, F, JSONField, QuerySet, Value, When
from django.utils import timezone
from django.utils.timesince import timesince

from labelkeep.accounts.models import User
from labelkeep.audit.services import Origin, record
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Annotation, Draft, Task
from labelkeep.tasks.serializers import instant

# What a caller may set; the task, the annotation and the person come from the request.
DRAFT_FIELDS = ("result", "lead_time", "was_postponed")
# The author's columns read with a draft (`.values(*DRAFT_COLUMNS)`).
DRAFT_COLUMNS = (
    "id",
    "task_id",
    "project_id",
    "annotation_id",
    "user_id",
    "user__email",
    "user__first_name",
    "user__last_name",
    "result",
    "lead_time",
    "was_postponed",
    "import_id",
    "created_at",
    "updated_at",
)


class DraftError(Exception):
    def __init__(self, message: str, field: str = "result") -> None:
        super().__init__(message)
        self.field = field


# A person's drafts of one task: the editor keeps one and saves it again and again, so
# more is a script gone wrong, and would weigh on every page that lists the task.
MAX_PER_TASK = 20


def _checked(values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields given, `result` checked when it is among them."""
    chosen = {name: values[name] for name in DRAFT_FIELDS if name in values}
    result = chosen.get("result", [])
    if not isinstance(result, list) or not all(isinstance(item, dict) for item in result):
        raise DraftError("result must be a list of regions (JSON objects).")
    return chosen


def _still_there(task: Task, annotation: Annotation | None) -> None:
    """Lock the task's row (as every writer of its annotations does) and check that it,
    and the annotation, are still there: one deleted meanwhile would fail the draft's
    foreign keys at the commit. Task.DoesNotExist / Annotation.DoesNotExist."""
    if not Task.objects.select_for_update().filter(pk=task.pk).exists():
        raise Task.DoesNotExist(f"task {task.pk} is gone")
    if annotation is not None and not (
        Annotation.objects.filter(pk=annotation.pk, task_id=task.pk).exists()
    ):
        raise Annotation.DoesNotExist(f"annotation {annotation.pk} is gone")


def _audit(action: str, task: Task, draft: Draft, actor: User, origin: Origin) -> None:
    record(
        action,
        actor=actor,
        origin=origin,
        organization_id=task.project.organization_id,
        target=task.project,
        task=task.pk,
        draft=draft.pk,
        annotation=draft.annotation_id,
    )


def create_draft(
    task: Task,
    values: Mapping[str, Any],
    *,
    user: User,
    origin: Origin,
    annotation: Annotation | None = None,
) -> Draft:
    """A new draft of `task` by `user` (of a change to `annotation`, when given).
    Task.DoesNotExist / Annotation.DoesNotExist when that was deleted meanwhile."""
    draft = Draft(task=task, project_id=task.project_id, user=user, annotation=annotation)
    for name, value in _checked(values).items():
        setattr(draft, name, value)
    with transaction.atomic():
        _still_there(task, annotation)
        if Draft.objects.filter(task_id=task.pk, user_id=user.pk).count() >= MAX_PER_TASK:
            raise DraftError(
                f"You already have {MAX_PER_TASK} drafts of this task: save one again, or "
                "delete some.",
                field="task",
            )
        draft.save()
        if not task.project.has_drafts:  # the project's first: its pages now look for them
            Project.objects.filter(pk=task.project_id).update(has_drafts=True)
            task.project.has_drafts = True
        _audit("draft.create", task, draft, user, origin)
    return draft


def update_draft(draft: Draft, values: Mapping[str, Any], *, actor: User, origin: Origin) -> Draft:
    """Change a draft's result, lead time or postponed flag (only those given). The
    draft is loaded with its task and project (`select_related`)."""
    chosen = _checked(values)  # only those given: another tab may have saved the rest
    with transaction.atomic():
        # Also when the draft was deleted meanwhile (another tab sent the annotation): 404.
        changed = Draft.objects.filter(pk=draft.pk).update(**chosen, updated_at=timezone.now())
        if not changed:
            raise Draft.DoesNotExist
        draft.refresh_from_db(fields=[*DRAFT_FIELDS, "updated_at"])
        _audit("draft.update", draft.task, draft, actor, origin)
    return draft


def delete_draft(draft: Draft, *, actor: User, origin: Origin) -> bool:
    """Delete a draft; False when it was already gone."""
    with transaction.atomic():
        deleted, _ = Draft.objects.filter(pk=draft.pk).delete()
        if deleted:
            _audit("draft.delete", draft.task, draft, actor, origin)
    return bool(deleted)


def take(task: Task, user: User, draft_id: int | None) -> None:
    """The draft an annotation was made (or changed) from is done with: delete it, in the
    caller's transaction, if it is that person's draft of that task (else nothing: it may
    have gone with another tab's save)."""
    if draft_id is not None:
        Draft.objects.filter(pk=draft_id, task_id=task.pk, user_id=user.pk).delete()


def drop_for_annotations(annotations: QuerySet[Annotation] | Iterable[int]) -> None:
    """Delete the drafts of changes to these annotations, which are being deleted (in the
    caller's transaction). One statement; drafts have no dependents of their own."""
    ids = annotations.values("pk") if isinstance(annotations, QuerySet) else list(annotations)
    Draft.objects.filter(annotation_id__in=ids).delete()


def created_username(first_name: str, last_name: str, email: str, user_id: int) -> str:
    """Label Studio's `created_username`: "First Last email, id"."""
    name = " ".join(part for part in (first_name, last_name) if part)
    return f"{name} {email}, {user_id}" if name else f"{email}, {user_id}"


def draft_row_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A draft as Label Studio shows it, from a row of DRAFT_COLUMNS."""
    email = row["user__email"]
    return {
        "id": row["id"],
        "user": email,
        "created_username": created_username(
            row["user__first_name"], row["user__last_name"], email, row["user_id"]
        ),
        "created_ago": timesince(row["created_at"]),
        "result": row["result"],
        "lead_time": row["lead_time"],
        "was_postponed": row["was_postponed"],
        "import_id": row["import_id"],
        "created_at": instant(row["created_at"]),
        "updated_at": instant(row["updated_at"]),
        "task": row["task_id"],
        "annotation": row["annotation_id"],
        "project": row["project_id"],
    }


def drafts_json(drafts: QuerySet[Draft]) -> list[dict[str, Any]]:
    return [draft_row_json(row) for row in drafts.order_by("id").values(*DRAFT_COLUMNS)]


def draft_json(draft: Draft) -> dict[str, Any]:
    return drafts_json(Draft.objects.filter(pk=draft.pk))[0]


def page_drafts(
    task_ids: Iterable[int], user: User | None, *, everyone: bool
) -> tuple[dict[int, list[dict[str, Any]]], set[int]]:
    """The person's drafts of these tasks, by task, and the tasks that have a draft (of
    anyone, when `everyone`; else theirs): one query, which reads the results of the
    person's own drafts only. No one in particular (None) has no drafts."""
    mine: dict[int, list[dict[str, Any]]] = {pk: [] for pk in task_ids}
    drafted: set[int] = set()
    me = None if user is None else user.pk
    if not mine or (me is None and not everyone):
        return mine, drafted
    found = Draft.objects.filter(task_id__in=list(mine))
    if me is not None and not everyone:
        found = found.filter(user_id=me)
    own_result: Any = Value(None, output_field=JSONField())
    if me is not None:
        own_result = Case(When(user_id=me, then=F("result")), default=own_result)
    light = [name for name in DRAFT_COLUMNS if name != "result"]
    for row in found.order_by("id").values(*light, own_result=own_result):
        drafted.add(row["task_id"])
        if row["user_id"] == me:
            row["result"] = row.pop("own_result")
            mine[row["task_id"]].append(draft_row_json(row))
    return mine, drafted

"""Every write to tasks, annotations and predictions: counters, audit, validation."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import F, Q, QuerySet

from labelkeep.accounts.models import User
from labelkeep.audit.services import LISTED_IDS, Origin, listed, record
from labelkeep.db.prepared import PreparedInsert
from labelkeep.projects import labelconfig
from labelkeep.projects.models import Project
from labelkeep.projects.services import stored_config
from labelkeep.tasks import bulk, counters, deletion, drafts
from labelkeep.tasks.bulk import TaskRows
from labelkeep.tasks.models import (
    Annotation,
    AnnotationAction,
    Prediction,
    Task,
    TaskLock,
    region_count,
)
from labelkeep.tasks.overlap import task_overlaps
from labelkeep.tasks.stream import release

T = TypeVar("T")

ANNOTATION_FIELDS = ("result", "was_cancelled", "ground_truth", "lead_time")
PREDICTION_FIELDS = ("result", "score", "model_version")
# A task's fields that its annotations and predictions decide (labelkeep/tasks/counters.py).
TASK_COUNTERS = ("is_labeled", "total_annotations", "cancelled_annotations", "total_predictions")


class TaskError(Exception):
    """A refused change, with messages fit to show the user; `field`, when given, is the
    input they are about."""

    def __init__(self, messages: list[str], field: str = "") -> None:
        super().__init__("; ".join(messages))
        self.messages = messages
        self.field = field


@dataclass
class NewTask:
    """A task to create, optionally with finished annotations and predictions."""

    data: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    predictions: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Created:
    task_ids: list[int]
    annotation_count: int
    prediction_count: int


def audit_action(
    action: str, project: Project, actor: User | None, origin: Origin, **details: Any
) -> None:
    record(
        action,
        actor=actor,
        origin=origin,
        organization_id=project.organization_id,
        target=project,
        **details,
    )


# --- Tasks ------------------------------------------------------------------------------


def _as_rows(items: Sequence[NewTask], overlap: int, actor: User | None) -> TaskRows:
    rows = TaskRows()
    author = actor.pk if actor is not None else None
    for index, item in enumerate(items):
        done = sum(1 for a in item.annotations if not a.get("was_cancelled"))
        rows.tasks.append(
            (
                json.dumps(item.data),
                json.dumps(item.meta),
                done >= overlap,
                done,
                len(item.annotations) - done,
                len(item.predictions),
                None,
            )
        )
        rows.annotations.extend(
            (
                index,
                json.dumps(a.get("result", [])),
                author,
                bool(a.get("was_cancelled", False)),
                bool(a.get("ground_truth", False)),
                a.get("lead_time"),
                region_count(a.get("result", [])),
                None,
            )
            for a in item.annotations
        )
        rows.predictions.extend(
            (index, json.dumps(p.get("result", [])), p.get("score"), p.get("model_version", ""))
            for p in item.predictions
        )
    return rows


def create_tasks(
    project: Project, items: Sequence[NewTask], *, actor: User | None, origin: Origin
) -> Created:
    """Create tasks (with their annotations and predictions) in one transaction."""
    return write_task_rows(
        project, _as_rows(items, project.maximum_annotations, actor), actor=actor, origin=origin
    )


def write_task_rows(
    project: Project, rows: TaskRows, *, actor: User | None, origin: Origin
) -> Created:
    """The one way tasks are created: move the project's counters by the input's own
    numbers (never a recount), number the tasks from the project's last `inner_id`, insert
    the rows, and record one audit entry.

    The project's row is updated first, so concurrent writers to one project take its
    numbers in turn and `inner_id` follows `id` within a project."""
    count = len(rows.tasks)
    with transaction.atomic():
        done = sum(row[3] for row in rows.tasks)
        changed = Project.objects.filter(pk=project.pk)
        changed.update(
            task_number=F("task_number") + count,
            num_tasks_with_annotations=F("num_tasks_with_annotations")
            + sum(1 for row in rows.tasks if row[3]),
            total_annotations_number=F("total_annotations_number") + done,
            total_predictions_number=F("total_predictions_number") + rows.prediction_count,
            last_inner_id=F("last_inner_id") + count,
            **counters.NEW_VERSION,
        )
        # Read under the row's lock: the overlaps in force now, not when the rows were
        # prepared (a long import may see `maximum_annotations` change meanwhile), and the
        # numbers that place each task in or out of the overlap cohort (tasks/overlap.py).
        last, maximum, share = changed.values_list(
            "last_inner_id", "maximum_annotations", "overlap_cohort_percentage"
        ).get()
        first = last - count + 1
        overlaps = task_overlaps(first, count, maximum, share)
        if any(overlap != project.maximum_annotations for overlap in overlaps):
            rows.tasks[:] = [
                (*row[:2], row[3] >= overlap, *row[3:])
                for row, overlap in zip(rows.tasks, overlaps, strict=True)
            ]
        ids = bulk.insert(project.pk, overlaps, rows, first)
        audit_action(
            "tasks.create",
            project,
            actor,
            origin,
            count=len(ids),
            ids=listed(ids),
            annotations=rows.annotation_count,
            predictions=rows.prediction_count,
        )
    return Created(ids, rows.annotation_count, rows.prediction_count)


def check_data(project: Project, data: Mapping[str, Any]) -> None:
    """Refuse task data without a `$key` the project's config reads, as imports do (a
    config change relies on the tasks carrying them: labelkeep/projects/configchange.py)."""
    missing = [k for k in stored_config(project).data_keys if k not in data]
    if missing:
        keys = ", ".join(f'"{k}"' for k in missing)
        variables = ", ".join(f"${k}" for k in missing)
        raise TaskError(
            [f"The task data has no {keys}, which the labeling config reads ({variables})."]
        )


def update_task(task: Task, fields: Mapping[str, Any], *, actor: User, origin: Origin) -> Task:
    """Change a task's data, meta, overlap or is_labeled. A given `is_labeled` (marking a
    task done, or not, by hand) holds until the task is next recounted: an annotation
    added, deleted or switched between skipped and submitted, a prediction added, or an
    overlap change (its own or the project's). New `data` must carry the config's keys.
    Task.DoesNotExist when it was deleted meanwhile."""
    if "data" in fields:
        check_data(task.project, fields["data"])
    with transaction.atomic():
        if not counters.lock_tasks([task.pk]):
            raise Task.DoesNotExist(f"task {task.pk} is gone")
        for name, value in fields.items():
            setattr(task, name, value)
        task.updated_by = actor
        task.save(update_fields=[*fields, "updated_by", "updated_at"])
        counters.touch(task.project_id)
        if "overlap" in fields:
            counters.recount_tasks([task.pk])
            if "is_labeled" in fields:  # the recount set it from the counts: the given wins
                Task.objects.filter(pk=task.pk).update(is_labeled=fields["is_labeled"])
            # The caller answers with the task: its done mark as the recount left it.
            task.refresh_from_db(fields=TASK_COUNTERS)
        audit_action(
            "task.update", task.project, actor, origin, task=task.pk, fields=sorted(fields)
        )
    return task


def delete_tasks(
    project: Project,
    task_ids: Iterable[int] | None,
    *,
    excluded: Collection[int] = (),
    matching: Q | None = None,
    actor: User | None,
    origin: Origin,
) -> int:
    """Delete some (or, with None, all but `excluded`) tasks of a project with their
    annotations, predictions and locks, in one transaction; returns how many. With
    `matching` (the data manager's filters), only those of them that match it, as they
    are inside the transaction.

    Any number: slice by slice (labelkeep/tasks/deletion.py). The project's counters move
    by the deleted tasks' own counters, as they moved when the tasks were written. When
    nothing matched, nothing is written, the audit log included."""
    deleted = dict.fromkeys(counters.PROJECT_COUNTERS, 0)
    chosen = None if task_ids is None else sorted(set(task_ids))
    with transaction.atomic():
        if matching is None:
            _delete_slices(deletion.slices(project.pk, chosen, excluded), deleted)
            named: dict[str, Any] = {} if chosen is None else {"ids": listed(chosen)}
            everything = chosen is None and not excluded
        else:
            gone: list[int] = []  # the first deleted ids, for the audit entry
            for ids in deletion.matched(project.pk, matching, chosen, excluded):
                gone += ids[: LISTED_IDS - len(gone)]
                _delete_slices(deletion.slices(project.pk, ids), deleted)
            named, everything = {"ids": gone, "filtered": True}, False
        count = deleted["task_number"]
        if not count:  # nothing changed: nothing to count or audit
            return 0
        Project.objects.filter(pk=project.pk).update(
            **{name: F(name) - value for name, value in deleted.items()}, **counters.NEW_VERSION
        )
        audit_action("tasks.delete", project, actor, origin, count=count, all=everything, **named)
    return count


def _delete_slices(parts: Iterable[QuerySet[Task]], deleted: dict[str, int]) -> None:
    """Delete each slice in turn, adding what its tasks held to `deleted`.

    The tasks are locked before their counters are read, as every writer of them locks a
    task before what hangs off it: one deleting an annotation or a prediction of them
    meanwhile has moved the counters by it (read after), or waits and then finds it gone.
    Read first, the row would come off the project's counters twice on PostgreSQL."""
    for part in parts:
        list(part.select_for_update().order_by("pk").values_list("pk"))
        for name, value in deletion.tally(part).items():
            deleted[name] += value
        deletion.delete_slice(part)


# --- Annotations ------------------------------------------------------------------------


def _checked_result(project: Project, result: Any) -> list[Any]:
    if not isinstance(result, list):
        raise TaskError(["result must be a list of regions."])
    problems = labelconfig.validate_result(stored_config(project), result)
    if problems:
        raise TaskError(problems)
    return result


def _refuse_empty(project: Project, result: list[Any], cancelled: bool) -> bool:
    """Refuse a submitted annotation with no regions where the project's
    `enable_empty_annotation` is off; whether the write depends on the setting (an empty
    result that is not a skip), so that it checks the project is still as read."""
    if cancelled or result:
        return False
    if not project.enable_empty_annotation:
        raise TaskError([EMPTY_REFUSED], field="result")
    return True


EMPTY_REFUSED = (
    "This project does not accept empty annotations (enable_empty_annotation is off): "
    "label something, or skip the task."
)
_INSERT_ANNOTATION = PreparedInsert(Annotation)


def _prediction_of(task: Task, pk: int) -> bool:
    return Prediction.objects.filter(pk=pk, task_id=task.pk).exists()


_CHANGED_MEANWHILE = "The project changed while this was saved; try again."


def against_current_config(project: Project, write: Callable[[], T]) -> T:
    """Run `write`, a transaction that checks results against `project` as read and raises
    ProjectChanged if the project was saved since (a labeling config change that would
    orphan them must not slip in between). Then once more with the project read afresh,
    so the results are checked against the config that is current now."""
    try:
        return write()
    except counters.ProjectChanged:
        project.refresh_from_db()
    try:
        return write()
    except counters.ProjectChanged:
        raise TaskError([_CHANGED_MEANWHILE]) from None


def create_annotation(
    task: Task, fields: Mapping[str, Any], *, actor: User, completed_by: User, origin: Origin
) -> Annotation:
    """A finished (or, with was_cancelled, skipped) annotation of a task; with
    `parent_prediction_id`, made from that prediction of the task."""
    values = {k: v for k, v in fields.items() if k in ANNOTATION_FIELDS}
    given = values.get("result", [])
    parent = fields.get("parent_prediction_id")

    def write() -> Annotation:
        values["result"] = _checked_result(task.project, given)
        empty = _refuse_empty(task.project, values["result"], bool(values.get("was_cancelled")))
        annotation = Annotation(
            task=task,
            project=task.project,
            completed_by=completed_by,
            updated_by=actor,
            parent_prediction_id=parent,
            **values,
            **_bookkeeping(values),
        )
        with transaction.atomic():
            _INSERT_ANNOTATION.insert(annotation)
            drafts.take(task, actor, fields.get("draft_id"))
            release(task, completed_by)
            if actor.pk != completed_by.pk:  # written on someone's behalf: the writer is done too
                release(task, actor)
            audit_action(
                "annotation.create",
                task.project,
                actor,
                origin,
                annotation=annotation.pk,
                task=task.pk,
            )
            # Counters last: every save in a project updates its row, and on PostgreSQL
            # that row stays locked until the commit, so the lock is taken as late as
            # possible. The same UPDATE finds whether the project changed meanwhile.
            cancelled = annotation.was_cancelled
            counters.shift_annotations(
                task,
                done=0 if cancelled else 1,
                cancelled=int(cancelled),
                project_as_of=task.project.updated_at if values["result"] or empty else None,
            )
            # Checked under the task's lock (taken just above), which deleting a prediction
            # takes first: the prediction is there, and stays until this commits.
            if parent is not None and not _prediction_of(task, parent):
                raise TaskError(["No such prediction of this task."], field="parent_prediction")
        return annotation

    return against_current_config(task.project, write)


def create_annotations_bulk(
    project: Project,
    task_ids: Sequence[int],
    fields: Mapping[str, Any],
    *,
    actor: User,
    completed_by: User,
    origin: Origin,
) -> list[Annotation]:
    """The same annotation on each of these tasks of one project, all or none."""
    values = {k: v for k, v in fields.items() if k in ANNOTATION_FIELDS}
    given = values.get("result", [])
    return against_current_config(
        project,
        lambda: _create_bulk(project, task_ids, values, given, actor, completed_by, origin),
    )


def _create_bulk(
    project: Project,
    task_ids: Sequence[int],
    values: dict[str, Any],
    given: Any,
    actor: User,
    completed_by: User,
    origin: Origin,
) -> list[Annotation]:
    values["result"] = _checked_result(project, given)
    _refuse_empty(project, values["result"], bool(values.get("was_cancelled")))
    seen = project.updated_at
    ids = sorted(set(task_ids))
    with transaction.atomic():
        # Lock the tasks: their counters are recomputed below.
        locked = list(
            Task.objects.select_for_update()
            .filter(project=project, pk__in=ids)
            .values_list("pk", "total_annotations")
        )
        if len(locked) != len(ids):
            raise Task.DoesNotExist("some tasks are not in the project")
        made = Annotation.objects.bulk_create(
            [
                Annotation(
                    task_id=pk,
                    project=project,
                    completed_by=completed_by,
                    updated_by=actor,
                    bulk_created=True,
                    **values,
                    **_bookkeeping(values),
                )
                for pk in ids
            ],
            batch_size=2000,
        )
        TaskLock.objects.filter(task_id__in=ids, user__in={completed_by.pk, actor.pk}).delete()
        counters.recount_tasks(ids)
        started = Task.objects.filter(pk__in=ids, total_annotations__gt=0).count()
        done = 0 if values.get("was_cancelled") else len(ids)
        moved = Project.objects.filter(pk=project.pk, updated_at=seen).update(
            total_annotations_number=F("total_annotations_number") + done,
            num_tasks_with_annotations=F("num_tasks_with_annotations")
            + started
            - sum(1 for _, total in locked if total > 0),
            **counters.NEW_VERSION,
        )
        if not moved:
            raise counters.ProjectChanged
        audit_action(
            "annotations.create_bulk",
            project,
            actor,
            origin,
            count=len(made),
            ids=listed(a.pk for a in made),
            tasks=len(ids),
        )
    return made


def _bookkeeping(values: Mapping[str, Any], *, became_skip: bool | None = None) -> dict[str, Any]:
    """Label Studio's `last_action` and `result_count` for a write of these values: a new
    annotation (`became_skip` None) is submitted or skipped; a change is an update, or a
    skip when it turns submitted work into one."""
    if became_skip is None:
        new = AnnotationAction.SUBMITTED
        action = AnnotationAction.SKIPPED if values.get("was_cancelled") else new
    else:
        action = AnnotationAction.SKIPPED if became_skip else AnnotationAction.UPDATED
    kept: dict[str, Any] = {"last_action": action}
    if "result" in values:
        kept["result_count"] = region_count(values["result"])
    return kept


def _skipped_now(annotation: Annotation) -> bool | None:
    """Inside a transaction: lock the annotation's task (a task is locked before what hangs
    off it, as every writer of its counters does) and read whether the annotation is a skip
    as it is now, or None when it is gone. The same change sent twice at once (a
    double-click, a retry) then moves the counters once: the second sees the first."""
    list(Task.objects.select_for_update().filter(pk=annotation.task_id).values_list("pk"))
    skipped: bool | None = (
        Annotation.objects.filter(pk=annotation.pk).values_list("was_cancelled", flat=True).first()
    )
    return skipped


def _refuse_emptied(
    project: Project, annotation: Annotation, values: Mapping[str, Any], skipped: bool
) -> bool:
    """_refuse_empty for a change, judged on the annotation as it is now (under its task's
    lock, where `skipped` was read): only a write that makes a submitted annotation empty
    is refused; one left empty from before the setting was turned off may still change."""
    cancelled = values.get("was_cancelled", skipped)
    if cancelled or values.get("result") or not {"result", "was_cancelled"} & values.keys():
        return False
    rows = Annotation.objects.filter(pk=annotation.pk)
    stored = rows.values_list("result", flat=True).get()
    result = values.get("result", stored)
    if result or (not skipped and not stored):
        return False  # not empty, or empty and submitted already: this write empties nothing
    return _refuse_empty(project, result, cancelled)


def update_annotation(
    annotation: Annotation, fields: Mapping[str, Any], *, actor: User, origin: Origin
) -> Annotation:
    """Change an annotation's result or flags, moving counters when a skip becomes work.
    Annotation.DoesNotExist when it was deleted meanwhile."""
    values = {k: v for k, v in fields.items() if k in ANNOTATION_FIELDS}

    def write() -> Annotation:
        project = annotation.project
        if "result" in values:
            values["result"] = _checked_result(project, fields["result"])
        with transaction.atomic():
            was = _skipped_now(annotation)
            if was is None:
                raise Annotation.DoesNotExist(f"annotation {annotation.pk} is gone")
            empty = _refuse_emptied(project, annotation, values, was)
            for name, value in values.items():
                setattr(annotation, name, value)
            annotation.updated_by = actor
            kept = _bookkeeping(values, became_skip=annotation.was_cancelled and not was)
            for name, value in kept.items():
                setattr(annotation, name, value)
            annotation.save(update_fields=[*values, *kept, "updated_by", "updated_at"])
            drafts.take(annotation.task, actor, fields.get("draft_id"))
            as_of = project.updated_at if values.get("result") or empty else None
            if annotation.was_cancelled != was:
                flip = 1 if was else -1  # a skip became work (+1) or work became a skip (-1)
                counters.shift_annotations(
                    annotation.task, done=flip, cancelled=-flip, project_as_of=as_of
                )
            elif as_of is not None:
                counters.confirm_unchanged(project.pk, as_of)
            else:  # ground truth or lead time: no counter moves, but the tasks changed
                counters.touch(project.pk)
            audit_action(
                "annotation.update",
                project,
                actor,
                origin,
                annotation=annotation.pk,
                fields=sorted(values),
            )
        return annotation

    return against_current_config(annotation.project, write)


def delete_annotations(annotations: Iterable[Annotation], *, actor: User, origin: Origin) -> int:
    """Delete annotations and take them off their tasks' counters; returns how many were
    deleted here (one deleted meanwhile, by the same request sent twice, is not counted)."""
    count = 0
    with transaction.atomic():
        for annotation in annotations:
            cancelled = _skipped_now(annotation)
            if cancelled is None:
                continue
            task, project = annotation.task, annotation.project
            pk = annotation.pk
            drafts.drop_for_annotations([pk])
            annotation.delete()
            counters.shift_annotations(task, done=0 if cancelled else -1, cancelled=-int(cancelled))
            audit_action("annotation.delete", project, actor, origin, annotation=pk, task=task.pk)
            count += 1
    return count


# Annotations deleted per statement in bulk: well under SQLite's (32,766) and PostgreSQL's
# (65,535) limits on bound parameters.
DELETE_SLICE = 10_000


def delete_annotations_bulk(ids: Collection[int], *, actor: User, origin: Origin) -> int:
    """Delete these annotations (the caller has checked it may), a slice at a time, in the
    order of their tasks' ids (which is how every writer of many tasks locks them)."""
    ordered = sorted(set(ids))
    found: list[tuple[int, int]] = []
    for start in range(0, len(ordered), DELETE_SLICE):
        part = Annotation.objects.filter(pk__in=ordered[start : start + DELETE_SLICE])
        found.extend(part.values_list("task_id", "pk"))
    found.sort()
    pks = [pk for _, pk in found]
    chunks = (pks[start : start + DELETE_SLICE] for start in range(0, len(pks), DELETE_SLICE))
    return delete_annotation_chunks(chunks, actor=actor, origin=origin)


@dataclass
class _Deleted:
    """What deleting annotations took off one project: counts, and the first ids."""

    done: int = 0
    emptied: int = 0
    count: int = 0
    ids: list[int] = field(default_factory=list)


def delete_annotation_chunks(
    chunks: Iterable[list[int]], *, actor: User, origin: Origin, **details: Any
) -> int:
    """Delete the annotations of each chunk of ids (at most DELETE_SLICE; read lazily, in
    the transaction, and in ascending order of their tasks' ids) with set-based statements:
    their tasks are locked in id order and recounted; then each project's counters move by
    what its tasks lost, and each project gets one audit entry (`annotations.delete_bulk`,
    with `details`).

    The projects' rows are updated once, after every task is done: writers of one
    annotation lock its task, then its project, and a project locked early would wait on
    them while they wait on it (PostgreSQL would abort one of the two)."""
    deleted: dict[int, _Deleted] = {}
    with transaction.atomic():
        for chunk in chunks:
            tasks = sorted(
                set(Annotation.objects.filter(pk__in=chunk).values_list("task_id", flat=True))
            )
            before = dict(
                Task.objects.select_for_update()
                .filter(pk__in=tasks)
                .order_by("pk")
                .values_list("pk", "total_annotations")
            )
            # Read again under the tasks' locks: the same request sent twice at once finds
            # what the first one left, and counts only that.
            rows = list(
                Annotation.objects.filter(pk__in=chunk).values_list(
                    "pk", "task_id", "project_id", "was_cancelled"
                )
            )
            doomed = [pk for pk, _, _, _ in rows]
            drafts.drop_for_annotations(doomed)
            Annotation.objects.filter(pk__in=doomed).delete()
            counters.recount_tasks(tasks)
            after = dict(Task.objects.filter(pk__in=tasks).values_list("pk", "total_annotations"))
            project_of = {task: project_id for _, task, project_id, _ in rows}
            for pk, _, project_id, cancelled in rows:
                lost = deleted.setdefault(project_id, _Deleted())
                lost.done += not cancelled
                lost.count += 1
                if len(lost.ids) < LISTED_IDS:
                    lost.ids.append(pk)
            for task, project_id in project_of.items():
                if before.get(task, 0) > 0 and after.get(task, 0) == 0:
                    deleted[project_id].emptied += 1
        for project in Project.objects.filter(pk__in=list(deleted)).order_by("pk"):
            lost = deleted[project.pk]
            Project.objects.filter(pk=project.pk).update(
                total_annotations_number=F("total_annotations_number") - lost.done,
                num_tasks_with_annotations=F("num_tasks_with_annotations") - lost.emptied,
                **counters.NEW_VERSION,
            )
            audit_action(
                "annotations.delete_bulk",
                project,
                actor,
                origin,
                count=lost.count,
                ids=lost.ids,
                **details,
            )
    return sum(lost.count for lost in deleted.values())


# --- Predictions ------------------------------------------------------------------------


def create_predictions(
    project: Project, rows: Sequence[tuple[Task, Mapping[str, Any]]], *, actor: User, origin: Origin
) -> list[Prediction]:
    """Predictions for tasks of one project, all or none; Task.DoesNotExist when some
    task was deleted meanwhile."""
    made = [
        Prediction(
            task=task,
            project=project,
            **{k: v for k, v in given.items() if k in PREDICTION_FIELDS},
        )
        for task, given in rows
    ]
    for prediction in made:
        prediction.result = _checked_result(project, prediction.result)
    task_ids = sorted({task.pk for task, _ in rows})
    with transaction.atomic():
        # Locked before the insert: a task deleted since the caller read it would fail the
        # insert's foreign key only at the commit, after the counters had moved.
        if counters.lock_tasks(task_ids) != len(task_ids):
            raise Task.DoesNotExist("some tasks are gone")
        Prediction.objects.bulk_create(made, batch_size=2000)
        counters.add_predictions(project.pk, task_ids, len(made))
        audit_action(
            "predictions.create",
            project,
            actor,
            origin,
            count=len(made),
            ids=listed(p.pk for p in made),
        )
    return made


def update_prediction(
    prediction: Prediction, fields: Mapping[str, Any], *, actor: User, origin: Origin
) -> Prediction:
    """Change a prediction's result, score or model version; Prediction.DoesNotExist when
    it (or its task) was deleted meanwhile."""
    values = {k: v for k, v in fields.items() if k in PREDICTION_FIELDS}
    if "result" in values:
        values["result"] = _checked_result(prediction.project, values["result"])
    with transaction.atomic():
        if not Prediction.objects.select_for_update().filter(pk=prediction.pk).exists():
            raise Prediction.DoesNotExist(f"prediction {prediction.pk} is gone")
        for name, value in values.items():
            setattr(prediction, name, value)
        prediction.save(update_fields=[*values, "updated_at"])
        counters.touch(prediction.project_id)  # a task list may filter on score or version
        audit_action(
            "prediction.update", prediction.project, actor, origin, prediction=prediction.pk
        )
    return prediction


def unlink_children(predictions: QuerySet[Prediction]) -> None:
    """Annotations made from these predictions forget them (before they are deleted)."""
    made = Annotation.objects.filter(parent_prediction__in=predictions.values("pk"))
    made.update(parent_prediction=None)


def delete_prediction(prediction: Prediction, *, actor: User, origin: Origin) -> bool:
    """Delete a prediction and take it off its task's counters; False when it was deleted
    meanwhile (the same request sent twice, or its task deleted), which moves nothing."""
    with transaction.atomic():
        project, task, pk = prediction.project, prediction.task, prediction.pk
        # The task first, as every writer of its counters locks it: the same request in
        # flight, or the task's deletion, is done by then, and the prediction found gone.
        counters.lock_tasks([task.pk])
        unlink_children(Prediction.objects.filter(pk=pk))
        deleted, _ = Prediction.objects.filter(pk=pk).delete()
        if not deleted:
            return False
        counters.shift_predictions(task, -1)
        audit_action("prediction.delete", project, actor, origin, prediction=pk)
    return True

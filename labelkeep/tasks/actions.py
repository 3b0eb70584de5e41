"""The data manager's actions (`api/dm/actions`): one change to a selection of a project's
tasks, as Label Studio's client and web UI send them.

A selection (`selectedItems`, narrowed by the task list's filters or a saved view) may
name every task of a million-task project. Each action walks it SLICE tasks at a time
(labelkeep/tasks/deletion.py), with set-based statements per slice and every slice in one
transaction: the action happens whole or not at all. Counters move as every other writer
moves them (tasks locked first, in id order), and each action is audited once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q

from labelkeep.accounts.models import User
from labelkeep.audit.services import Origin
from labelkeep.projects import labelconfig
from labelkeep.projects.models import Project
from labelkeep.projects.services import stored_config
from labelkeep.tasks import bulk, counters, deletion, services
from labelkeep.tasks.models import (
    Annotation,
    AnnotationAction,
    Prediction,
    Task,
    region_count,
)

BATCH = 2000  # predictions read, and annotations written, at a time


@dataclass(frozen=True)
class Selection:
    """The chosen tasks of a project: these ids (or all but `excluded`), matching `matching`."""

    project: Project
    ids: list[int] | None
    excluded: Collection[int] = ()
    matching: Q | None = None

    def parts(self) -> Iterator[list[int]]:
        """The selected tasks' ids, ascending, at most deletion.SLICE at a time."""
        return deletion.matched(self.project.pk, self.matching or Q(), self.ids, self.excluded)


@dataclass(frozen=True)
class Action:
    """An action as `GET api/dm/actions` lists it (Label Studio's fields)."""

    id: str
    title: str
    order: int
    text: str
    form: Callable[[Project], list[dict[str, Any]]] | None = field(default=None, compare=False)
    reload: bool = False  # the client reloads its view after it (tasks are gone)

    def listed(self, project: Project) -> dict[str, Any]:
        dialog: dict[str, Any] = {"title": self.title, "text": self.text, "type": "confirm"}
        if self.form is not None:
            dialog["form"] = self.form(project)
        shown = {
            "id": self.id,
            "title": self.title,
            "order": self.order,
            "permission": "projects.manage",
            "experimental": False,
            "dialog": dialog,
        }
        return {**shown, "reload": True} if self.reload else shown


def _annotators(project: Project) -> list[dict[str, Any]]:
    """The delete dialog's choice of annotator: whoever annotated in the project."""
    authors = Annotation.objects.filter(project=project).values("completed_by").distinct()
    users = User.objects.filter(pk__in=authors).order_by("email")
    options = [{"value": str(u.pk), "label": u.get_full_name() or u.email} for u in users]
    field = {"type": "select", "name": "annotator", "label": "Annotator", "placeholder": "All"}
    return [{"columnCount": 1, "fields": [{**field, "options": options}]}]


def _model_versions(project: Project) -> list[dict[str, Any]]:
    """The predictions' model versions, the project's own first."""
    found = Prediction.objects.filter(project=project).values_list("model_version", flat=True)
    versions = sorted(set(found.distinct().order_by()))
    if project.model_version:
        versions = [project.model_version, *(v for v in versions if v != project.model_version)]
    field = {"type": "select", "name": "model_version", "label": "Choose predictions"}
    return [{"columnCount": 1, "fields": [{**field, "options": versions}]}]


ACTIONS = (
    Action(
        "predictions_to_annotations",
        "Create Annotations From Predictions",
        91,
        "Create an annotation from each prediction of the selected tasks (of the chosen "
        "model version) that none was made from yet. You will be their annotator.",
        _model_versions,
    ),
    Action(
        "delete_tasks",
        "Delete Tasks",
        100,
        "Delete the selected tasks with their annotations and predictions.",
        reload=True,
    ),
    Action(
        "delete_tasks_annotations",
        "Delete Annotations",
        101,
        "Delete the annotations (of everyone, or of one annotator) of the selected tasks.",
        _annotators,
    ),
    Action(
        "delete_tasks_predictions",
        "Delete Predictions",
        102,
        "Delete every prediction of the selected tasks.",
    ),
)
BY_ID = {action.id: action for action in ACTIONS}


# --- Running them -------------------------------------------------------------------------


def delete_annotations(
    chosen: Selection, annotator: int | None, *, actor: User, origin: Origin
) -> int:
    """Delete the selected tasks' annotations (with `annotator`, only theirs)."""

    def chunks() -> Iterator[list[int]]:
        """DELETE_SLICE annotations at a time, in (task, id) order: the tasks are locked in
        id order, and however many annotations a slice of tasks has, none is held."""
        for ids in chosen.parts():
            found = Annotation.objects.filter(task_id__in=ids)
            if annotator is not None:
                found = found.filter(completed_by_id=annotator)
            after = Q()
            while True:
                page = list(
                    found.filter(after)
                    .order_by("task_id", "pk")
                    .values_list("task_id", "pk")[: services.DELETE_SLICE]
                )
                if not page:
                    break
                yield [pk for _, pk in page]
                task, pk = page[-1]
                after = Q(task_id__gt=task) | Q(task_id=task, pk__gt=pk)

    return services.delete_annotation_chunks(
        chunks(), actor=actor, origin=origin, via="delete_tasks_annotations"
    )


def delete_predictions(chosen: Selection, *, actor: User, origin: Origin) -> int:
    """Delete every prediction of the selected tasks."""
    project = chosen.project
    count = 0
    with transaction.atomic():
        for ids in chosen.parts():
            counters.lock_tasks(ids)
            doomed = Prediction.objects.filter(task_id__in=ids)
            services.unlink_children(doomed)
            gone, _ = doomed.delete()
            if gone:
                Task.objects.filter(pk__in=ids, total_predictions__gt=0).update(total_predictions=0)
                count += gone
        if not count:
            return 0
        Project.objects.filter(pk=project.pk).update(
            total_predictions_number=F("total_predictions_number") - count, **counters.NEW_VERSION
        )
        services.audit_action("predictions.delete_bulk", project, actor, origin, count=count)
    return count


@dataclass
class Converted:
    created: int = 0
    refused: int = 0  # predictions whose result the labeling config no longer allows


def predictions_to_annotations(
    chosen: Selection, versions: list[str] | None, *, actor: User, origin: Origin
) -> Converted:
    """An annotation by `actor` from each prediction of the selected tasks (of these model
    versions) that none was made from yet, checked against the labeling config as it is
    when the transaction commits (a config change meanwhile: checked again)."""
    project = chosen.project

    def write() -> Converted:
        config = stored_config(project)
        seen = project.updated_at
        done = Converted()
        started = 0
        writer = bulk.Columns(Annotation, MADE_COLUMNS, made_by(actor, project))
        with transaction.atomic():
            for ids in chosen.parts():
                before = dict(
                    Task.objects.select_for_update()
                    .filter(pk__in=ids)
                    .order_by("pk")
                    .values_list("pk", "total_annotations")
                )
                touched: set[int] = set()
                for made in _annotations_of(ids, versions, config, done):
                    writer.insert(made)
                    touched.update(task for task, *_ in made)
                    done.created += len(made)
                if not touched:
                    continue
                counters.recount_tasks(sorted(touched))
                now = Task.objects.filter(pk__in=sorted(touched), total_annotations__gt=0)
                started += sum(1 for pk in now.values_list("pk", flat=True) if not before[pk])
            if not done.created:
                return done
            moved = Project.objects.filter(pk=project.pk, updated_at=seen).update(
                total_annotations_number=F("total_annotations_number") + done.created,
                num_tasks_with_annotations=F("num_tasks_with_annotations") + started,
                **counters.NEW_VERSION,
            )
            if not moved:
                raise counters.ProjectChanged
            services.audit_action(
                "annotations.from_predictions",
                project,
                actor,
                origin,
                count=done.created,
                refused=done.refused,
                model_versions=versions,
            )
        return done

    return services.against_current_config(project, write)


# What each annotation made from a prediction has of its own; the rest is the same for all.
MADE_COLUMNS = ("task_id", "result", "parent_prediction_id", "result_count", "unique_id")


def made_by(actor: User, project: Project) -> dict[str, Any]:
    return {
        "project_id": project.pk,
        "completed_by_id": actor.pk,
        "updated_by_id": actor.pk,
        "last_action": AnnotationAction.PREDICTION.value,
        "bulk_created": True,
    }


def _annotations_of(
    ids: list[int],
    versions: list[str] | None,
    config: labelconfig.LabelConfig,
    done: Converted,
) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of MADE_COLUMNS from these tasks' predictions that none was made from yet,
    BATCH predictions at a time in task order: memory holds one batch of results."""
    predictions = Prediction.objects.filter(task_id__in=ids).exclude(
        Exists(Annotation.objects.filter(parent_prediction=OuterRef("pk")))
    )
    if versions is not None:
        predictions = predictions.filter(model_version__in=versions)
    chosen = list(predictions.order_by("task_id", "pk").values_list("pk", flat=True))
    for start in range(0, len(chosen), BATCH):
        page = (
            Prediction.objects.filter(pk__in=chosen[start : start + BATCH])
            .order_by("task_id", "pk")
            .values_list("pk", "task_id", "result")
        )
        made = []
        for pk, task, result in page:
            if not isinstance(result, list) or labelconfig.validate_result(config, result):
                done.refused += 1
                continue
            # The unique id as 32 hex digits, which both databases read as a UUID.
            made.append((task, json.dumps(result), pk, region_count(result), uuid.uuid4().hex))
        if made:
            yield made

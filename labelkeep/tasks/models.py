"""Tasks, their annotations and predictions, and short locks for the label stream."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import models

from labelkeep.accounts.models import User
from labelkeep.projects.models import Project


class Task(models.Model):
    """One item to label: `data` holds the values the labeling config's `$keys` name."""

    # Indexed by the (project, …) indexes below; a single-column index would only slow inserts.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    # The task's number within its project (1, 2, …), as Label Studio shows it; handed
    # out in creation order from Project.last_inner_id, so it follows `id`.
    inner_id = models.PositiveBigIntegerField()
    data = models.JSONField()
    meta = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept by the services: how many annotations the task has and whether it is done.
    is_labeled = models.BooleanField(default=False)
    overlap = models.PositiveIntegerField(default=1)
    total_annotations = models.PositiveIntegerField(default=0)
    cancelled_annotations = models.PositiveIntegerField(default=0)
    total_predictions = models.PositiveIntegerField(default=0)
    # The uploaded file (or the file a URL import fetched) the task was read from; none for
    # tasks sent in a request body. Deleting the upload's record leaves the task.
    file_upload = models.ForeignKey(
        "dataio.FileUpload",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        indexes = (
            models.Index(fields=("project", "id"), name="task_project_id"),
            # Deleting an upload's record unlinks its tasks; most tasks (sent in a request
            # body) have none, and cost this index nothing.
            models.Index(
                fields=("file_upload",),
                name="task_file_upload",
                condition=models.Q(file_upload__isnull=False),
            ),
            models.Index(fields=("project", "is_labeled", "id"), name="task_project_labeled"),
            # The label stream's first tier when a project shows tasks with overlap first
            # (tasks/stream.py): its walks read these tasks' entries alone.
            models.Index(
                fields=("project", "is_labeled", "id"),
                name="task_project_shared",
                condition=models.Q(overlap__gt=1),
            ),
            # The task list's orderings and range filters (labelkeep/tasks/filters.py).
            models.Index(fields=("project", "created_at", "id"), name="task_project_created"),
            models.Index(fields=("project", "updated_at", "id"), name="task_project_updated"),
            models.Index(
                fields=("project", "total_annotations", "id"), name="task_project_annotated"
            ),
            # `only_annotated=true` in id order (how scripts read annotated tasks): a deep
            # page skips entries of annotated tasks alone, never reading a row to check.
            models.Index(
                fields=("project", "id"),
                name="task_project_annotated_id",
                condition=models.Q(total_annotations__gt=0),
            ),
        )
        constraints = (
            models.UniqueConstraint(fields=("project", "inner_id"), name="task_project_inner_id"),
        )

    def __str__(self) -> str:
        return f"task {self.pk}"


def labeled(value: bool) -> models.Q:
    """Tasks whose `is_labeled` is `value`, written so that SQLite seeks on the
    (project, is_labeled, id) index. Django writes `is_labeled=False` as
    `NOT is_labeled`, which SQLite cannot seek on: it walks every row of the project (a
    count of a million tasks' labeled ones takes 30 ms instead of 0.2, and the label
    stream reads row after labeled row). `is_labeled IN (false)` is an equality to both
    databases."""
    return models.Q(is_labeled__in=[value])


def region_count(result: Any) -> int:
    """Label Studio's `result_count`: the regions of a result, told apart by their `id`
    (a region's label and its per-region text share one); items without an id count as
    one region together, as there."""
    if not isinstance(result, list):
        return 0
    return len({_region_key(item.get("id") if isinstance(item, dict) else None) for item in result})


def _region_key(given: Any) -> Any:
    """A region id as a set member: an object or a list (which a result may hold, though
    no client writes one) by its JSON text."""
    if given is None or isinstance(given, str | int | float):
        return given
    return ("json", json.dumps(given, sort_keys=True))


class AnnotationAction(models.TextChoices):
    """How an annotation was last written (Label Studio's `last_action` values that
    Labelkeep's writes make)."""

    IMPORTED = "imported"
    PREDICTION = "prediction"  # made from a prediction (the data manager's action)
    SUBMITTED = "submitted"
    SKIPPED = "skipped"
    UPDATED = "updated"


class Annotation(models.Model):
    """One person's labels for one task (`was_cancelled` marks a skip)."""

    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="annotations", db_index=False
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Indexed by (project, completed_by, task) below. A single-column index would only slow
    # inserts, and PostgreSQL, planning on statistics older than a burst of one person's
    # skips, would probe it in the label stream and read all their annotations per task.
    completed_by = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="annotations", db_index=False
    )
    result = models.JSONField(default=list)
    was_cancelled = models.BooleanField(default=False)
    ground_truth = models.BooleanField(default=False)
    lead_time = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Label Studio's bookkeeping, kept by the services: a random id that stays with the
    # annotation wherever it is exported, the number of regions in `result`, the id it
    # had in the file it was imported from, how it was last written, and whether it was
    # made in bulk (an import, or one result on many tasks) rather than one by one.
    unique_id = models.UUIDField(default=uuid.uuid4, editable=False)
    result_count = models.PositiveIntegerField(default=0)
    import_id = models.BigIntegerField(null=True, blank=True)
    last_action = models.CharField(  # "" (shown as null): written before it was kept
        max_length=32, choices=AnnotationAction.choices, blank=True, default=""
    )
    bulk_created = models.BooleanField(default=False)
    # The prediction (of the same task) the annotation was made from. Deleting predictions
    # clears it first (the services do; the database refuses a dangling one at commit), so
    # that deleting predictions in bulk keeps Django's fast path: no instances collected.
    parent_prediction = models.ForeignKey(
        "Prediction",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
    )

    class Meta:
        indexes = (
            models.Index(fields=("task", "id"), name="annotation_task"),
            models.Index(
                fields=("parent_prediction",),
                name="annotation_parent_prediction",
                condition=models.Q(parent_prediction__isnull=False),
            ),
            models.Index(fields=("project", "completed_by", "task"), name="annotation_author"),
            # A project's skips and ground truths, counted (tasks/project_counts.py) from
            # indexes that hold only those rows and cost other annotations nothing.
            models.Index(
                fields=("project",),
                name="annotation_skipped",
                condition=models.Q(was_cancelled=True),
            ),
            # Also walked in task order by the label stream's ground truth first.
            models.Index(
                fields=("project", "was_cancelled", "task"),
                name="annotation_ground_truth",
                condition=models.Q(ground_truth=True),
            ),
        )

    def __str__(self) -> str:
        return f"annotation {self.pk} of task {self.task_id}"


class Prediction(models.Model):
    """A model's suggested result for a task."""

    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="predictions", db_index=False
    )
    # Indexed by (project, id) below: `api/predictions/?project=` reads in id order.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    result = models.JSONField(default=list)
    score = models.FloatField(null=True, blank=True)
    model_version = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = (
            models.Index(fields=("task", "id"), name="prediction_task"),
            models.Index(fields=("project", "id"), name="prediction_project"),
            # Uncertainty sampling walks scores from the lowest (tasks/stream.py), of the
            # project's model version when it names one, of any prediction otherwise.
            models.Index(
                fields=("project", "model_version", "score", "task"),
                name="prediction_version_score",
            ),
            models.Index(fields=("project", "score", "task"), name="prediction_score"),
        )

    def __str__(self) -> str:
        return f"prediction {self.pk} of task {self.task_id}"


class Draft(models.Model):
    """A person's unsaved work on a task, or on a change to one of its annotations: kept
    so that it outlives a closed browser tab, never counted as an annotation."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="drafts", db_index=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+", db_index=False)
    # Deleted with their annotation by the services (tasks/drafts.py), not by Django: a
    # cascade here would make every deletion of annotations collect them one by one.
    annotation = models.ForeignKey(
        Annotation,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
    )
    result = models.JSONField(default=list)
    lead_time = models.FloatField(null=True, blank=True)
    was_postponed = models.BooleanField(default=False)
    import_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = (
            models.Index(fields=("task", "user", "id"), name="draft_task_user"),
            models.Index(fields=("project", "id"), name="draft_project"),
            models.Index(
                fields=("annotation",),
                name="draft_annotation",
                condition=models.Q(annotation__isnull=False),
            ),
        )

    def __str__(self) -> str:
        return f"draft {self.pk} of task {self.task_id}"


class TaskLock(models.Model):
    """While it lasts, the label stream gives this task to no one else."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()

    class Meta:
        indexes = (models.Index(fields=("project", "expires_at"), name="lock_project"),)
        constraints = (models.UniqueConstraint(fields=("task", "user"), name="one_lock_per_user"),)

    def __str__(self) -> str:
        return f"lock on task {self.task_id} for {self.user_id}"


class SavedView(models.Model):
    """A saved Data Manager tab: filters and ordering over a project's tasks, shared by the
    project's members (Label Studio's `View`). `data` keeps what the client sent:
    `filters`, `ordering` and `selectedItems` as the task list reads them (checked on
    every save and every use), and display settings such as `title` as given."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    data = models.JSONField(default=dict)
    order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = (models.Index(fields=("project", "order", "id"), name="saved_view_project"),)

    def __str__(self) -> str:
        return f"view {self.pk} of project {self.project_id}"

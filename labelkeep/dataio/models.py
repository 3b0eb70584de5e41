"""Records of imports, uploaded files and export snapshots."""

from __future__ import annotations

from django.db import models

from labelkeep.accounts.models import User
from labelkeep.jobs.models import Job
from labelkeep.projects.models import Project


class RunStatus(models.TextChoices):
    """Label Studio's status words for imports and exports."""

    CREATED = "created"
    IN_PROGRESS = "in_progress"
    FAILED = "failed"
    COMPLETED = "completed"


class FileUpload(models.Model):
    """A file a user uploaded into a project (stored under the data directory)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    path = models.CharField(max_length=500, unique=True)  # relative to UPLOADS root
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.original_name


class ProjectImport(models.Model):
    """One import into a project: its source, state and what it created."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.CREATED)
    source_url = models.URLField(max_length=2000, blank=True)
    # The request's options, kept as given (Label Studio's import record shows them).
    commit_to_project = models.BooleanField(default=True)
    return_task_ids = models.BooleanField(default=False)
    preannotated_from_fields = models.JSONField(default=list)
    file_upload_ids = models.JSONField(default=list)
    could_be_tasks_list = models.BooleanField(default=False)
    found_formats = models.JSONField(default=dict)
    data_columns = models.JSONField(default=list)
    task_count = models.PositiveBigIntegerField(default=0)
    annotation_count = models.PositiveBigIntegerField(default=0)
    prediction_count = models.PositiveBigIntegerField(default=0)
    task_ids = models.JSONField(default=list)
    # [first, last] id runs of the tasks committed so far, written with each chunk: what
    # to delete if the worker dies mid-import (labelkeep/dataio/jobs.py).
    written = models.JSONField(default=list)
    error = models.TextField(blank=True)
    duration = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"import {self.pk} into project {self.project_id}"


class ExportSnapshot(models.Model):
    """A stored export of a project, made by a job and downloadable later."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(max_length=2048, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.CREATED)
    task_filter_options = models.JSONField(default=dict)
    annotation_filter_options = models.JSONField(default=dict)
    serialization_options = models.JSONField(default=dict)
    path = models.CharField(max_length=500, blank=True)  # relative to EXPORTS root
    md5 = models.CharField(max_length=32, blank=True)
    counters = models.JSONField(default=dict)
    converted_formats = models.JSONField(default=list)  # [{"export_type", "status", "path"}]
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"export {self.pk} of project {self.project_id}"

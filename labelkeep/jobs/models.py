"""Recorded state and progress of background jobs (imports, exports, syncs)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobQuerySet(models.QuerySet["Job"]):
    def visible_to(self, user: models.Model) -> JobQuerySet:
        """Jobs of the viewer's active organization."""
        org_id = getattr(user, "active_organization_id", None)
        if not org_id:
            return self.none()
        return self.filter(organization_id=org_id)


class Job(models.Model):
    """One run of a registered job: its payload, state, progress and outcome."""

    kind = models.CharField(max_length=100)
    organization_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    task_result_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Moved by the running worker every JOB_HEARTBEAT_INTERVAL seconds; a running job whose
    # heartbeat is older than JOB_STALE_AFTER lost its worker (labelkeep/jobs/services.py).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[JobQuerySet] = JobQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"{self.kind}#{self.pk} {self.status}"

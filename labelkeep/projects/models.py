"""Projects: a labeling config, its settings, its members and cheap counters."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from labelkeep.accounts.models import Organization, User, Workspace
from labelkeep.accounts.roles import Perm, Role, has_perm


class Sampling(models.TextChoices):
    SEQUENTIAL = "Sequential sampling"
    UNIFORM = "Uniform sampling"
    UNCERTAINTY = "Uncertainty sampling"


class SkipQueue(models.TextChoices):
    """Label Studio's choices for where a skipped task goes; Labelkeep's label stream has
    one behaviour, REQUEUE_FOR_OTHERS (docs/api-compatibility.md#label-stream)."""

    REQUEUE_FOR_ME = "REQUEUE_FOR_ME"
    REQUEUE_FOR_OTHERS = "REQUEUE_FOR_OTHERS"
    IGNORE_SKIPPED = "IGNORE_SKIPPED"


class ProjectQuerySet(models.QuerySet["Project"]):
    def visible_to(self, user: User, role: Role | str | None) -> ProjectQuerySet:
        """Projects of the user's organization that the role lets them see."""
        if not user.active_organization_id or role is None or role == Role.DEACTIVATED:
            return self.none()
        projects = self.filter(organization_id=user.active_organization_id)
        if has_perm(role, Perm.PROJECTS_VIEW_ALL):
            return projects
        return projects.filter(members__user=user)


class Project(models.Model):
    """A labeling project: tasks, their annotations and the config that labels them."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.SET_NULL, related_name="projects"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    label_config = models.TextField(default="<View></View>")
    parsed_label_config = models.JSONField(default=dict)
    expert_instruction = models.TextField(blank=True, default="")
    show_instruction = models.BooleanField(default=False)
    show_skip_button = models.BooleanField(default=True)
    maximum_annotations = models.PositiveIntegerField(default=1)
    sampling = models.CharField(
        max_length=32, choices=Sampling.choices, default=Sampling.SEQUENTIAL
    )
    color = models.CharField(max_length=16, default="#FFFFFF")
    model_version = models.CharField(max_length=200, blank=True, default="")
    # Label Studio's settings, with its defaults (docs/api-compatibility.md#project-settings),
    # in the database too, so rows written by code that predates a setting get them.
    # Labelkeep acts on these:
    enable_empty_annotation = models.BooleanField(default=True, db_default=True)
    show_collab_predictions = models.BooleanField(default=True, db_default=True)
    overlap_cohort_percentage = models.PositiveSmallIntegerField(default=100, db_default=100)
    show_overlap_first = models.BooleanField(default=False, db_default=False)
    # The weights someone set, per control (projects/weights.py fills in the rest).
    control_weights = models.JSONField(default=dict, db_default={})
    # Kept for clients and the labeling interface:
    is_published = models.BooleanField(default=False, db_default=False)
    is_draft = models.BooleanField(default=False, db_default=False)
    pinned_at = models.DateTimeField(null=True, blank=True)
    show_annotation_history = models.BooleanField(default=False, db_default=False)
    reveal_preannotations_interactively = models.BooleanField(default=False, db_default=False)
    show_ground_truth_first = models.BooleanField(default=False, db_default=False)
    min_annotations_to_start_training = models.PositiveIntegerField(default=0, db_default=0)
    evaluate_predictions_automatically = models.BooleanField(default=False, db_default=False)
    start_training_on_annotation_update = models.BooleanField(default=False, db_default=False)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Counters kept by the services in the same transaction as each change, so lists
    # and detail pages never count rows.
    task_number = models.PositiveBigIntegerField(default=0)
    num_tasks_with_annotations = models.PositiveBigIntegerField(default=0)
    total_annotations_number = models.PositiveBigIntegerField(default=0)
    total_predictions_number = models.PositiveBigIntegerField(default=0)
    # The highest `inner_id` handed out: a task's number within its project, never reused.
    last_inner_id = models.PositiveBigIntegerField(default=0)
    # Moved by every change to the project's tasks that a task-list filter could see (one
    # more column in the UPDATE that moves the counters): filtered counts and deep-page
    # anchors remembered at one version are right until it moves (tasks/anchors.py).
    tasks_version = models.PositiveBigIntegerField(default=0)
    # Set by the first draft saved in the project (tasks/drafts.py), never cleared: until
    # then, pages and tasks of the project skip the query for drafts.
    has_drafts = models.BooleanField(default=False, db_default=False)

    objects: ClassVar[ProjectQuerySet] = ProjectQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("-id",)
        indexes = (models.Index(fields=("organization", "-id"), name="project_org_recent"),)

    def __str__(self) -> str:
        return self.title

    @property
    def skip_queue(self) -> str:
        return SkipQueue.REQUEUE_FOR_OTHERS.value


class ProjectMember(models.Model):
    """A person who works in a project (annotators and reviewers see only these)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="project_memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("project", "user"), name="one_project_member"),
        )

    def __str__(self) -> str:
        return f"{self.user_id} in project {self.project_id}"

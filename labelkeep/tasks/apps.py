from typing import Any

from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "labelkeep.tasks"
    label = "tasks"

    def ready(self) -> None:
        from labelkeep.accounts.signals import member_access_ended, member_role_changed
        from labelkeep.projects.counts import register_count_reader
        from labelkeep.projects.signals import (
            project_deleting,
            project_member_removed,
            project_settings_changed,
        )
        from labelkeep.projects.usage import register_work_reader
        from labelkeep.tasks import (
            project_counts,
            schema,  # noqa: F401  (registers the list's task schema)
        )
        from labelkeep.tasks.usage import READER

        register_work_reader(READER)
        register_count_reader(project_counts.READER)
        project_settings_changed.connect(_settings_changed, dispatch_uid="tasks-overlap")
        project_deleting.connect(_deleting, dispatch_uid="tasks-delete")
        project_member_removed.connect(_member_removed, dispatch_uid="tasks-member-removed")
        member_access_ended.connect(_access_ended, dispatch_uid="tasks-access-ended")
        member_role_changed.connect(_role_changed, dispatch_uid="tasks-role-changed")


def _settings_changed(sender: Any, project: Any, fields: set[str], **kwargs: Any) -> None:
    if fields & {"maximum_annotations", "overlap_cohort_percentage"}:
        from labelkeep.tasks.counters import apply_overlap

        apply_overlap(project)


def _member_removed(sender: Any, project: Any, user: Any, **kwargs: Any) -> None:
    """Whoever leaves a project gives back the tasks the stream reserved for them, at once
    rather than when their locks expire (TASK_LOCK_TTL)."""
    from labelkeep.tasks.models import TaskLock

    TaskLock.objects.filter(project=project, user=user).delete()


def _access_ended(sender: Any, organization_id: int, user: Any, **kwargs: Any) -> None:
    """A member removed from the organization, or deactivated, gives back what the stream
    reserved for them in its projects."""
    from labelkeep.tasks.models import TaskLock

    TaskLock.objects.filter(project__organization_id=organization_id, user=user).delete()


def _role_changed(sender: Any, organization_id: int, user: Any, role: Any, **kwargs: Any) -> None:
    """A member whose new role no longer sees every project (a manager made annotator)
    gives back what the stream reserved for them in projects they are not on."""
    from labelkeep.accounts.roles import Perm, has_perm
    from labelkeep.tasks.models import TaskLock

    if has_perm(role, Perm.PROJECTS_VIEW_ALL):
        return
    TaskLock.objects.filter(project__organization_id=organization_id, user=user).exclude(
        project__members__user=user
    ).delete()


def _deleting(sender: Any, project: Any, **kwargs: Any) -> None:
    from labelkeep.tasks import deletion

    for part in deletion.slices(project.pk, None):
        deletion.delete_slice(part)

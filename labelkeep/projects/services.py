"""Every write to projects and their members goes through these functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from django.db import transaction

from labelkeep.accounts.models import Organization, User
from labelkeep.audit.services import Origin, record
from labelkeep.projects import labelconfig
from labelkeep.projects.models import Project, ProjectMember
from labelkeep.projects.signals import project_settings_changed
from labelkeep.projects.usage import labels_used_in_project


class ProjectError(Exception):
    """A refused change, with messages fit to show the user."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


@lru_cache(maxsize=256)
def label_config_of(config: str) -> labelconfig.LabelConfig:
    """The parsed config, cached by its text: results are checked against it on every save."""
    return labelconfig.parse(config)


def parsed_config(config: str) -> dict[str, Any]:
    """The parsed form of a labeling config, or ProjectError listing every problem."""
    try:
        return label_config_of(config).parsed
    except labelconfig.ConfigError as exc:
        raise ProjectError(list(exc.messages)) from None


def create_project(
    organization: Organization, fields: Mapping[str, Any], *, actor: User, origin: Origin
) -> Project:
    """A new project in `organization`, its creator a member."""
    values = dict(fields)
    if "label_config" in values:
        values["parsed_label_config"] = parsed_config(values["label_config"])
    with transaction.atomic():
        project = Project.objects.create(organization=organization, created_by=actor, **values)
        ProjectMember.objects.create(project=project, user=actor)
        record(
            "project.create",
            actor=actor,
            origin=origin,
            organization_id=organization.pk,
            target=project,
            title=project.title,
        )
    return project


def _removes_something(old: dict[str, Any], new: dict[str, Any]) -> bool:
    for name, control in old.items():
        kept = new.get(name)
        if kept is None or kept.get("type") != control.get("type"):
            return True
        if set(control.get("labels", [])) - set(kept.get("labels", [])):
            return True
    return False


def config_conflicts(project: Project, new_config: str) -> list[str]:
    """What a new config would orphan among existing annotations (empty: safe).

    Annotations are read only when the new config removes a control or a label."""
    new = label_config_of(new_config)
    if not project.total_annotations_number:
        return []
    if not _removes_something(project.parsed_label_config, new.parsed):
        return []
    return labelconfig.in_use_conflicts(new, labels_used_in_project(project))


def update_project(
    project: Project, fields: Mapping[str, Any], *, actor: User, origin: Origin
) -> Project:
    """Change settings; a config change that would orphan annotations is refused."""
    values = dict(fields)
    if "label_config" in values and values["label_config"] != project.label_config:
        values["parsed_label_config"] = parsed_config(values["label_config"])
        conflicts = config_conflicts(project, values["label_config"])
        if conflicts:
            raise ProjectError(conflicts)
    with transaction.atomic():
        for name, value in values.items():
            setattr(project, name, value)
        project.save(update_fields=[*values, "updated_at"])
        project_settings_changed.send(Project, project=project, fields=set(values))
        record(
            "project.update",
            actor=actor,
            origin=origin,
            organization_id=project.organization_id,
            target=project,
            fields=sorted(fields),
        )
    return project


def delete_project(project: Project, *, actor: User, origin: Origin) -> None:
    """Delete a project with its tasks, annotations and predictions."""
    with transaction.atomic():
        record(
            "project.delete",
            actor=actor,
            origin=origin,
            organization_id=project.organization_id,
            target=project,
            title=project.title,
            task_number=project.task_number,
        )
        project.delete()


def add_members(project: Project, users: Iterable[User], *, actor: User, origin: Origin) -> None:
    """Let these users (already in the organization) work in the project."""
    with transaction.atomic():
        for user in users:
            _, created = ProjectMember.objects.get_or_create(project=project, user=user)
            if created:
                record(
                    "project.member_add",
                    actor=actor,
                    origin=origin,
                    organization_id=project.organization_id,
                    target=project,
                    user=user.pk,
                )


def remove_member(project: Project, user: User, *, actor: User, origin: Origin) -> None:
    """Take a user out of the project; their annotations stay."""
    with transaction.atomic():
        deleted, _ = ProjectMember.objects.filter(project=project, user=user).delete()
        if deleted:
            record(
                "project.member_remove",
                actor=actor,
                origin=origin,
                organization_id=project.organization_id,
                target=project,
                user=user.pk,
            )

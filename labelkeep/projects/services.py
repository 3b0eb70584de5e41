"""Every write to projects and their members goes through these functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import closing
from functools import lru_cache
from typing import Any

from django.db import transaction

from labelkeep.accounts.models import Organization, User
from labelkeep.api.errors import Refusal
from labelkeep.audit.services import Origin, record
from labelkeep.projects import configchange, labelconfig, weights
from labelkeep.projects.models import Project, ProjectMember
from labelkeep.projects.signals import (
    project_deleting,
    project_member_removed,
    project_settings_changed,
)
from labelkeep.projects.usage import stored_results, task_data_sample


class ProjectError(Exception):
    """A refused change, with messages fit to show the user, about `field`."""

    field = "label_config"

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class WeightsError(ProjectError):
    """`control_weights` name a control or label the labeling config does not have."""

    field = "control_weights"


def _weights_for(values: dict[str, Any], stored: Mapping[str, Any]) -> None:
    """Check the weights being set against the config the project will have; when only
    the config changes, keep just the stored weights it still has controls and labels for.
    `stored`: the project's `parsed_label_config` and `control_weights` as they are."""
    parsed = values.get("parsed_label_config", stored["parsed_label_config"])
    if "control_weights" in values:
        if problems := weights.against(values["control_weights"], parsed):
            raise WeightsError(problems)
    elif "parsed_label_config" in values:
        values["control_weights"] = weights.pruned(stored["control_weights"], parsed)


class StoredConfigError(ProjectError, Refusal):
    """The project's stored config does not parse even leniently (changed outside the API,
    or stored under rules since tightened): what reads it is refused until a valid config
    is saved. The API answers 400 on `label_config`; jobs record the messages."""

    field = "label_config"


# Parsed configs are cached by their text, so results are not checked against a config
# parsed afresh on every save. A large config parses to about ten times its size, so large
# ones get a cache of their own that a stream of them (each `validate/` call may send
# another) cannot grow past a few: 256 configs of 1 MB would hold gigabytes.
LARGE_CONFIG = 16_384  # characters; Label Studio's templates are a few kilobytes


@lru_cache(maxsize=256)
def _parse_small(config: str, strict: bool) -> labelconfig.LabelConfig:
    return labelconfig.parse(config, strict=strict)


@lru_cache(maxsize=4)
def _parse_large(config: str, strict: bool) -> labelconfig.LabelConfig:
    return labelconfig.parse(config, strict=strict)


def _parsed(config: str, *, strict: bool) -> labelconfig.LabelConfig:
    cached = _parse_small if len(config) <= LARGE_CONFIG else _parse_large
    return cached(config, strict)


def label_config_of(config: str) -> labelconfig.LabelConfig:
    """A config sent in, checked by every rule; a project's own config is `stored_config`."""
    return _parsed(config, strict=True)


def stored_config(project: Project) -> labelconfig.LabelConfig:
    """The project's config as stored, cached by its text: results are checked against it on
    every save. Read leniently, so a rule added since it was saved does not break the
    project (docs/labeling-configs.md); changing it checks the new config strictly."""
    try:
        return _parsed(project.label_config, strict=False)
    except labelconfig.ConfigError as exc:
        raise StoredConfigError(
            ["The project's labeling config is not valid; save a valid one first.", *exc.messages]
        ) from None


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
    _weights_for(values, {"parsed_label_config": {}, "control_weights": {}})
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


def _stored_or_none(project: Project) -> labelconfig.LabelConfig | None:
    try:
        return stored_config(project)
    except StoredConfigError:  # stored before a structural rule: compare with nothing
        return None


def config_problems(project: Project, new_config: str) -> list[str]:
    """Why `new_config` may not replace the project's (empty: it may); docs/labeling-configs.md.

    It may not orphan existing annotations, nor read a `$key` the tasks lack. `project` must
    be the row as stored; `update_project` reads it locked, in the transaction that writes.
    """
    new = label_config_of(new_config)
    old = _stored_or_none(project)
    problems = []
    if added := configchange.added_keys(old, new):
        sample = task_data_sample(project, configchange.DATA_SAMPLE)
        problems += configchange.missing_data(added, sample)
    removed = configchange.removal(old, new)
    if removed:
        with closing(stored_results(project, removed.needles)) as results:
            problems += configchange.conflicts(new, removed, results)
    return problems


def _check_config_change(project: Project, new_config: str) -> None:
    # FOR UPDATE, not NO KEY UPDATE: it waits for, then holds off, every transaction that
    # inserts an annotation or a task of the project (their foreign key takes KEY SHARE on
    # this row), so none lands between the check and the write. SQLite transactions take the
    # write lock when they begin (IMMEDIATE, settings.py), which serialises them anyway.
    stored = Project.objects.select_for_update().get(pk=project.pk)
    if new_config != stored.label_config:
        problems = config_problems(stored, new_config)
        if problems:
            raise ProjectError(problems)


def update_project(
    project: Project, fields: Mapping[str, Any], *, actor: User, origin: Origin
) -> Project:
    """Change settings; a config change that would orphan annotations is refused."""
    values = dict(fields)
    if "label_config" in values:
        values["parsed_label_config"] = parsed_config(values["label_config"])
    with transaction.atomic():
        if "label_config" in values:
            _check_config_change(project, values["label_config"])
        if values.keys() & {"label_config", "control_weights"}:
            locked = Project.objects.select_for_update().filter(pk=project.pk)
            _weights_for(values, locked.values("parsed_label_config", "control_weights").get())
        # Only values that change move anything: sending `maximum_annotations` as it was
        # must not reset each task's own overlap. Compared with the row as it is now.
        stored = Project.objects.select_for_update().filter(pk=project.pk).values(*values).get()
        changed = {name for name, value in values.items() if stored[name] != value}
        # Read the rest afresh too, under the lock: what acts on the change (the tasks'
        # overlaps read `maximum_annotations` and `overlap_cohort_percentage` together)
        # and the answer must see a change another request committed meanwhile.
        project.refresh_from_db()
        for name, value in values.items():
            setattr(project, name, value)
        project.save(update_fields=[*values, "updated_at"])
        project_settings_changed.send(Project, project=project, fields=changed)
        record(
            "project.update",
            actor=actor,
            origin=origin,
            organization_id=project.organization_id,
            target=project,
            # With the weights a config change dropped (its controls or labels went).
            fields=sorted({*fields, *(changed & {"control_weights"})}),
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
        # Django's collector would load every task first: tasks have dependents.
        project_deleting.send(Project, project=project)
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
            project_member_removed.send(Project, project=project, user=user)
            record(
                "project.member_remove",
                actor=actor,
                origin=origin,
                organization_id=project.organization_id,
                target=project,
                user=user.pk,
            )

"""Workspace services: create, rename, delete (audited)."""

from __future__ import annotations

from django.db import transaction

from labelkeep.accounts.models import Organization, User, Workspace
from labelkeep.audit.services import Origin, record


def create_workspace(
    organization: Organization, fields: dict[str, str], *, actor: User, origin: Origin
) -> Workspace:
    """A new workspace in `organization`."""
    with transaction.atomic():
        workspace = Workspace.objects.create(organization=organization, created_by=actor, **fields)
        record(
            "workspace.create",
            actor=actor,
            origin=origin,
            organization_id=organization.pk,
            target=workspace,
        )
    return workspace


def update_workspace(
    workspace: Workspace, fields: dict[str, str], *, actor: User, origin: Origin
) -> Workspace:
    """Rename or re-describe a workspace."""
    with transaction.atomic():
        for name, value in fields.items():
            setattr(workspace, name, value)
        workspace.save(update_fields=list(fields))
        record(
            "workspace.update",
            actor=actor,
            origin=origin,
            organization_id=workspace.organization_id,
            target=workspace,
            fields=sorted(fields),
        )
    return workspace


def delete_workspace(workspace: Workspace, *, actor: User, origin: Origin) -> None:
    """Delete a workspace."""
    with transaction.atomic():
        record(
            "workspace.delete",
            actor=actor,
            origin=origin,
            organization_id=workspace.organization_id,
            target=workspace,
            title=workspace.title,
        )
        workspace.delete()

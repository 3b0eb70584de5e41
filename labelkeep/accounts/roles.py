"""The role → permission matrix: the single source of truth for API, UI and docs."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    REVIEWER = "reviewer"
    ANNOTATOR = "annotator"
    DEACTIVATED = "deactivated"


class Perm(StrEnum):
    ORGANIZATION_VIEW = "organization.view"
    ORGANIZATION_CHANGE = "organization.change"
    MEMBERS_VIEW = "members.view"
    MEMBERS_MANAGE = "members.manage"
    INVITES_MANAGE = "invites.manage"
    TOKEN_SETTINGS_MANAGE = "token_settings.manage"  # noqa: S105 (a name, not a secret)
    AUDIT_VIEW = "audit.view"
    WORKSPACES_VIEW = "workspaces.view"
    WORKSPACES_MANAGE = "workspaces.manage"
    PROJECTS_VIEW_ALL = "projects.view_all"
    PROJECTS_MANAGE = "projects.manage"
    TASKS_IMPORT_EXPORT = "tasks.import_export"
    ANNOTATIONS_REVIEW = "annotations.review"
    ANNOTATIONS_CREATE = "annotations.create"
    OWN_TOKENS = "own_tokens.manage"


DESCRIPTIONS: dict[Perm, str] = {
    Perm.ORGANIZATION_VIEW: "See the organization and its workspaces",
    Perm.ORGANIZATION_CHANGE: "Rename the organization",
    Perm.MEMBERS_VIEW: "List members of the organization",
    Perm.MEMBERS_MANAGE: "Change roles, deactivate and remove members",
    Perm.INVITES_MANAGE: "Read and reset the invite link",
    Perm.TOKEN_SETTINGS_MANAGE: "Turn API token kinds on/off, set token lifetime",
    Perm.AUDIT_VIEW: "Read the audit log",
    Perm.WORKSPACES_VIEW: "See workspaces",
    Perm.WORKSPACES_MANAGE: "Create, rename and delete workspaces",
    Perm.PROJECTS_VIEW_ALL: "See every project of the organization",
    Perm.PROJECTS_MANAGE: "Create, configure and delete projects",
    Perm.TASKS_IMPORT_EXPORT: "Import tasks and export annotations",
    Perm.ANNOTATIONS_REVIEW: "Read and review everyone's annotations in their projects",
    Perm.ANNOTATIONS_CREATE: "Label tasks of projects they belong to",
    Perm.OWN_TOKENS: "Create, reset and revoke their own API tokens",
}

_ANNOTATOR = {
    Perm.ORGANIZATION_VIEW,
    Perm.MEMBERS_VIEW,
    Perm.WORKSPACES_VIEW,
    Perm.ANNOTATIONS_CREATE,
    Perm.OWN_TOKENS,
}
_REVIEWER = _ANNOTATOR | {Perm.ANNOTATIONS_REVIEW}
_MANAGER = _REVIEWER | {
    Perm.WORKSPACES_MANAGE,
    Perm.PROJECTS_VIEW_ALL,
    Perm.PROJECTS_MANAGE,
    Perm.TASKS_IMPORT_EXPORT,
}
_ADMIN = _MANAGER | {
    Perm.ORGANIZATION_CHANGE,
    Perm.MEMBERS_MANAGE,
    Perm.INVITES_MANAGE,
    Perm.TOKEN_SETTINGS_MANAGE,
    Perm.AUDIT_VIEW,
}

MATRIX: dict[Role, frozenset[Perm]] = {
    Role.OWNER: frozenset(_ADMIN),
    Role.ADMIN: frozenset(_ADMIN),
    Role.MANAGER: frozenset(_MANAGER),
    Role.REVIEWER: frozenset(_REVIEWER),
    Role.ANNOTATOR: frozenset(_ANNOTATOR),
    Role.DEACTIVATED: frozenset(),
}


def has_perm(role: Role | str | None, perm: Perm) -> bool:
    """Whether a member with `role` holds `perm`. Pure: no database, no side effects."""
    if role is None:
        return False
    return perm in MATRIX.get(Role(role), frozenset())


def may_assign(actor_role: Role | str, current: Role | str, new: Role | str) -> bool:
    """Whether `actor_role` may move a member from role `current` to role `new`."""
    actor = Role(actor_role)
    if not has_perm(actor, Perm.MEMBERS_MANAGE):
        return False
    # Only an owner makes owners or changes one; admins manage everyone else.
    return actor is Role.OWNER or Role.OWNER not in (Role(current), Role(new))


def markdown_table() -> str:
    """The matrix as a Markdown table (rendered into docs/roles.md)."""
    roles = list(Role)
    lines = [
        "| Permission | What it allows | " + " | ".join(r.value for r in roles) + " |",
        "|---|---|" + "---|" * len(roles),
    ]
    for perm in Perm:
        marks = " | ".join("yes" if perm in MATRIX[r] else "—" for r in roles)
        lines.append(f"| `{perm.value}` | {DESCRIPTIONS[perm]} | {marks} |")
    return "\n".join(lines) + "\n"

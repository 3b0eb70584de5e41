"""Finding a project for a caller: one 404 for missing and forbidden alike."""

from __future__ import annotations

from django.http import Http404

from labelkeep.accounts.models import User
from labelkeep.accounts.roles import Role
from labelkeep.db.prepared import PreparedSelect
from labelkeep.projects.models import Project


def as_caller(user_id: int, organization_id: int) -> User:
    """An unsaved stand-in for a caller, enough for `visible_to` inside prepared builders."""
    return User(pk=user_id, active_organization_id=organization_id)


# One prepared lookup per role: the role decides the query's shape (docs/development.md).
_PROJECT_FOR: dict[Role, PreparedSelect[Project]] = {
    role: PreparedSelect(
        lambda pk, user, org, role=role: Project.objects.visible_to(as_caller(user, org), role)
        .filter(pk=pk)
        .order_by()[:1],
        pk=int,
        user=int,
        org=int,
    )
    for role in Role
    if role != Role.DEACTIVATED
}


def get_project_for(user: User, role: Role, project_id: int) -> Project:
    """The project if `user` may see it; Http404 otherwise."""
    prepared = _PROJECT_FOR.get(Role(role))
    org = user.active_organization_id
    project = None
    if prepared is not None and org:
        project = prepared.first(pk=project_id, user=user.pk, org=org)
    if project is None:
        raise Http404("Project not found.")
    return project

"""Finding a project for a caller: one 404 for missing and forbidden alike."""

from __future__ import annotations

from django.http import Http404

from labelkeep.accounts.models import User
from labelkeep.accounts.roles import Role
from labelkeep.projects.models import Project


def get_project_for(user: User, role: Role, project_id: int) -> Project:
    """The project if `user` may see it; Http404 otherwise."""
    project = Project.objects.visible_to(user, role).filter(pk=project_id).first()
    if project is None:
        raise Http404("Project not found.")
    return project

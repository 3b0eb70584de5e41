"""Finding a project for a caller: one 404 for missing and forbidden alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import QuerySet
from django.http import Http404

from labelkeep.accounts.models import User
from labelkeep.accounts.roles import Role
from labelkeep.api.fields import MAX_ID
from labelkeep.db.prepared import PreparedSelect
from labelkeep.projects.models import Project

T = TypeVar("T")


def as_caller(user_id: int, organization_id: int) -> User:
    """An unsaved stand-in for a caller, enough for `visible_to` inside prepared builders."""
    return User(pk=user_id, active_organization_id=organization_id)


def prepared_per_role(
    build: Callable[[int, User, Role], QuerySet[Any, T]],
) -> dict[Role, PreparedSelect[T]]:
    """A lookup by id of what a caller may see, prepared once per role: the role decides
    the query's shape (docs/development.md). `build(pk, caller, role)` gives the query."""
    return {
        role: PreparedSelect(
            lambda pk, user, org, role=role: build(pk, as_caller(user, org), role),
            pk=int,
            user=int,
            org=int,
        )
        for role in Role
        if role != Role.DEACTIVATED
    }


def find_visible(
    prepared: dict[Role, PreparedSelect[T]], user: User, role: Role | str, pk: int
) -> T | None:
    """Run the caller's role's lookup; None when missing, forbidden, or without a role."""
    chosen = prepared.get(Role(role))
    org = user.active_organization_id
    # A prepared query binds `pk` as given, and no database binds an int beyond 64 bits.
    if chosen is None or not org or not 0 < pk <= MAX_ID:
        return None
    return chosen.first(pk=pk, user=user.pk, org=org)


_PROJECT_FOR = prepared_per_role(
    lambda pk, caller, role: Project.objects.visible_to(caller, role).filter(pk=pk).order_by()[:1]
)


def get_project_for(user: User, role: Role, project_id: int) -> Project:
    """The project if `user` may see it; Http404 otherwise."""
    project = find_visible(_PROJECT_FOR, user, role, project_id)
    if project is None:
        raise Http404("Project not found.")
    return project

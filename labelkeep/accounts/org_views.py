"""Server-rendered organization pages for administrators: the members (roles,
deactivation, removal) and the audit log. They call the same services as the API."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from labelkeep.accounts import services
from labelkeep.accounts.models import Membership
from labelkeep.accounts.permissions import membership_of
from labelkeep.accounts.roles import Perm, Role, has_perm
from labelkeep.accounts.views import signed_in
from labelkeep.api.fields import parse_id
from labelkeep.audit.queries import EventFilter, FilterError, events_of
from labelkeep.audit.services import Origin

EVENTS_PER_PAGE = 50


def _membership(request: HttpRequest, perm: Perm) -> Membership:
    """The signed-in user's active membership, if its role holds `perm` (else 403)."""
    membership = membership_of(signed_in(request))
    if membership is None or not membership.is_active or not has_perm(membership.role, perm):
        raise PermissionDenied
    return membership


@login_required
@require_http_methods(["GET", "POST"])
def members_page(request: HttpRequest) -> HttpResponse:
    mine = _membership(request, Perm.MEMBERS_VIEW)
    manages = has_perm(mine.role, Perm.MEMBERS_MANAGE)
    context: dict[str, Any] = {"membership": mine, "manages": manages}
    status = 200
    if request.method == "POST":
        if not manages:
            raise PermissionDenied
        try:
            context["message"] = _change(request, mine)
        except services.AccountError as exc:
            context["error"], status = str(exc), 400
    context["members"] = _members(mine)
    context["roles"] = [role.value for role in Role]
    return render(request, "accounts/members.html", context, status=status)


def _members(mine: Membership) -> QuerySet[Membership]:
    """Everyone in the viewer's organization, by e-mail address."""
    return (
        Membership.objects.filter(organization_id=mine.organization_id)
        .select_related("user")
        .order_by("user__email")
    )


def _change(request: HttpRequest, mine: Membership) -> str:
    """Apply the posted change to a member of the same organization; what was done."""
    member_id = parse_id(request.POST.get("member"))
    if member_id is None:
        raise Http404("No such member.")
    target = (
        Membership.objects.filter(organization_id=mine.organization_id, pk=member_id)
        .select_related("user")
        .first()
    )
    if target is None:
        raise Http404("No such member.")
    actor, origin = signed_in(request), Origin.of(request)
    if request.POST.get("action") == "remove":
        services.remove_member(target, actor=actor, origin=origin)
        return f"{target.user.email} has been removed."
    role = request.POST.get("role", "")
    if role not in {choice.value for choice in Role}:
        raise services.AccountError("Choose one of the roles.")
    services.change_role(target, Role(role), actor=actor, origin=origin)
    return f"{target.user.email} is now {role}."


@login_required
@require_GET
def audit_page(request: HttpRequest) -> HttpResponse:
    mine = _membership(request, Perm.AUDIT_VIEW)
    context: dict[str, Any] = {"membership": mine, "query": request.GET}
    status = 200
    try:
        chosen = EventFilter.of(request.GET)
    except FilterError as exc:
        chosen, status = EventFilter(), 400
        context["error"] = f"{exc.field}: {exc.message}"
    pages = Paginator(events_of(mine.organization_id, chosen), EVENTS_PER_PAGE)
    page = pages.get_page(request.GET.get("page"))
    context["page"] = page
    context["events"] = [(event, _details(event.details)) for event in page.object_list]
    context["members"] = _members(mine)
    context["others"] = request.GET.copy()
    context["others"].pop("page", None)
    return render(request, "accounts/audit.html", context, status=status)


def _details(details: object) -> str:
    """An entry's details as compact JSON text (the template escapes it)."""
    return json.dumps(details, ensure_ascii=False, sort_keys=True)[:2000]

"""Admins read their organization's audit log (filters: user, action, time)."""

from __future__ import annotations

from typing import ClassVar

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.accounts.apibase import MemberAPIView
from labelkeep.accounts.roles import Perm
from labelkeep.accounts.serializers import AuditEventSerializer
from labelkeep.api.fields import parse_id, parse_moment
from labelkeep.api.pagination import PagePagination
from labelkeep.api.schema import MEMBER_ERRORS, page_parameters, responses
from labelkeep.audit.models import AuditEvent


def _when(request: Request, name: str) -> object | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    value = parse_moment(raw)
    if value is None:
        raise exceptions.ValidationError({name: "Use an ISO 8601 date and time."})
    return value


def _filtered(events: QuerySet[AuditEvent], request: Request) -> QuerySet[AuditEvent]:
    user = request.query_params.get("user")
    if user:
        actor_id = parse_id(user)
        if actor_id is None:
            raise exceptions.ValidationError({"user": "A user id is a number."})
        events = events.filter(actor_id=actor_id)
    action = request.query_params.get("action")
    if action:
        events = events.filter(action=action)
    since, until = _when(request, "since"), _when(request, "until")
    if since:
        events = events.filter(created_at__gte=since)
    if until:
        events = events.filter(created_at__lt=until)
    return events


class AuditLogView(MemberAPIView):
    """Lists the organization's audit events, newest first, a page at a time."""

    required_perms: ClassVar = {"GET": Perm.AUDIT_VIEW}
    pagination_class = PagePagination

    @extend_schema(
        tags=["audit-log"],
        summary="List audit events",
        parameters=[
            OpenApiParameter("user", int, description="Keep events by this actor (a user id)."),
            OpenApiParameter(
                "action", str, description="Keep events of this action, e.g. `logout`."
            ),
            OpenApiParameter(
                "since",
                OpenApiTypes.DATETIME,
                description="Keep events at or after this ISO 8601 date and time.",
            ),
            OpenApiParameter(
                "until",
                OpenApiTypes.DATETIME,
                description="Keep events before this ISO 8601 date and time.",
            ),
            *page_parameters("events"),
        ],
        responses=responses(
            {200: AuditEventSerializer(many=True)},
            (400, "A malformed `user`, `since` or `until`."),
            *MEMBER_ERRORS,
            (404, "Invalid page number."),
        ),
    )
    def get(self, request: Request) -> Response:
        events = _filtered(
            AuditEvent.objects.filter(organization_id=self.membership.organization_id), request
        )
        pager = self.pagination_class()
        page = pager.paginate_queryset(events.order_by("-id"), request, view=self)
        return pager.get_paginated_response(AuditEventSerializer(page, many=True).data)

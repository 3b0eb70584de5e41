"""Admins read their organization's audit log (filters: user, action, time)."""

from __future__ import annotations

from typing import ClassVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.accounts.apibase import MemberAPIView
from labelkeep.accounts.roles import Perm
from labelkeep.accounts.serializers import AuditEventSerializer
from labelkeep.api.pagination import PagePagination
from labelkeep.api.schema import MEMBER_ERRORS, page_parameters, responses
from labelkeep.audit.queries import EventFilter, FilterError, events_of


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
            (400, "A malformed `user`, `action`, `since` or `until`."),
            *MEMBER_ERRORS,
            (404, "Invalid page number."),
        ),
    )
    def get(self, request: Request) -> Response:
        try:
            chosen = EventFilter.of(request.query_params)
        except FilterError as exc:
            raise exceptions.ValidationError({exc.field: exc.message}) from None
        events = events_of(self.membership.organization_id, chosen)
        pager = self.pagination_class()
        page = pager.paginate_queryset(events, request, view=self)
        return pager.get_paginated_response(AuditEventSerializer(page, many=True).data)

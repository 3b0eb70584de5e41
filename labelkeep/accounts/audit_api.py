"""Admins read their organization's audit log (filters: user, action, time)."""

from __future__ import annotations

from typing import ClassVar

from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.accounts.apibase import MemberAPIView
from labelkeep.accounts.roles import Perm
from labelkeep.accounts.serializers import AuditEventSerializer
from labelkeep.audit.models import AuditEvent


class AuditPagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def _when(request: Request, name: str) -> object | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    value = parse_datetime(raw)
    if value is None:
        raise exceptions.ValidationError({name: "Use an ISO 8601 date and time."})
    return value


def _filtered(events: QuerySet[AuditEvent], request: Request) -> QuerySet[AuditEvent]:
    user = request.query_params.get("user")
    if user:
        if not user.isdigit():
            raise exceptions.ValidationError({"user": "A user id is a number."})
        events = events.filter(actor_id=int(user))
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
    required_perms: ClassVar = {"GET": Perm.AUDIT_VIEW}

    def get(self, request: Request) -> Response:
        events = _filtered(
            AuditEvent.objects.filter(organization_id=self.membership.organization_id), request
        )
        pager = AuditPagination()
        page = pager.paginate_queryset(events.order_by("-id"), request, view=self)
        return pager.get_paginated_response(AuditEventSerializer(page, many=True).data)

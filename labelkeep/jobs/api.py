"""Job status for the caller's organization."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.accounts.apibase import MemberAPIView
from labelkeep.api.schema import MEMBER_ERRORS, responses
from labelkeep.jobs.models import Job


class JobSerializer(serializers.ModelSerializer[Job]):
    class Meta:
        model = Job
        fields = (
            "id",
            "kind",
            "status",
            "progress",
            "total",
            "message",
            "error",
            "result",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields


class JobView(MemberAPIView):
    """Reads the status, progress and outcome of a job in the caller's organization."""

    @extend_schema(
        tags=["jobs"],
        summary="Read a job",
        responses=responses({200: JobSerializer}, *MEMBER_ERRORS, 404),
    )
    def get(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(Job.objects.visible_to(self.actor), pk=pk)
        return Response(JobSerializer(job).data)

"""Job status for the caller's organization."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.accounts.apibase import MemberAPIView
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
    def get(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(Job.objects.visible_to(self.actor), pk=pk)
        return Response(JobSerializer(job).data)

"""Export request and response bodies, with Label Studio's field names."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from labelkeep.api.fields import IdField
from labelkeep.dataio.models import ExportSnapshot
from labelkeep.projects.serializers import CreatedBySerializer

_MODES = (("only", "only"), ("exclude", "exclude"))


def _mode() -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=_MODES, required=False, allow_null=True)


def _flag() -> serializers.BooleanField:
    return serializers.BooleanField(required=False, allow_null=True)


class TaskFilterOptionsSerializer(serializers.Serializer[Any]):
    view = IdField(
        required=False,
        allow_null=True,
        help_text="A saved view of the project: only the tasks its filters and selection keep.",
    )
    skipped = _mode()
    finished = _mode()
    annotated = _mode()
    reviewed = _mode()
    only_with_annotations = _flag()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("reviewed") is not None:
            raise serializers.ValidationError({"reviewed": "Reviews are not supported yet."})
        return {k: v for k, v in attrs.items() if v is not None}


class AnnotationFilterOptionsSerializer(serializers.Serializer[Any]):
    usual = _flag()
    ground_truth = _flag()
    skipped = _flag()
    reviewed = _mode()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("reviewed") is not None:
            raise serializers.ValidationError({"reviewed": "Reviews are not supported yet."})
        return {k: v for k, v in attrs.items() if v is not None}


class SerializationOptionSerializer(serializers.Serializer[Any]):
    only_id = _flag()


class SerializationOptionsSerializer(serializers.Serializer[Any]):
    drafts = SerializationOptionSerializer(required=False, allow_null=True)
    predictions = SerializationOptionSerializer(required=False, allow_null=True)
    annotations__completed_by = SerializationOptionSerializer(required=False, allow_null=True)
    include_annotation_history = _flag()
    interpolate_key_frames = _flag()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in attrs.items() if v is not None}


class SnapshotCreateSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(
        max_length=2048, required=False, allow_blank=True, allow_null=True
    )
    task_filter_options = TaskFilterOptionsSerializer(required=False, allow_null=True)
    annotation_filter_options = AnnotationFilterOptionsSerializer(required=False, allow_null=True)
    serialization_options = SerializationOptionsSerializer(required=False, allow_null=True)


class ConvertSerializer(serializers.Serializer[Any]):
    export_type = serializers.CharField(max_length=64)
    download_resources = serializers.BooleanField(required=False, default=False)


class ConvertedSerializer(serializers.Serializer[Any]):
    converted_format = serializers.IntegerField(help_text="Id of the converted file.")
    export_type = serializers.CharField()


class ConvertedFormatSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    export_type = serializers.CharField()
    status = serializers.CharField()
    traceback = serializers.CharField(required=False, allow_blank=True)


class SnapshotSerializer(serializers.ModelSerializer[ExportSnapshot]):
    created_by = CreatedBySerializer(read_only=True, allow_null=True)
    converted_formats = ConvertedFormatSerializer(many=True, read_only=True)
    counters = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    task_filter_options = serializers.DictField(read_only=True)
    annotation_filter_options = serializers.DictField(read_only=True)
    serialization_options = serializers.DictField(read_only=True)

    class Meta:
        model = ExportSnapshot
        fields = (
            "id",
            "title",
            "created_by",
            "created_at",
            "finished_at",
            "status",
            "error",
            "md5",
            "counters",
            "converted_formats",
            "task_filter_options",
            "annotation_filter_options",
            "serialization_options",
        )
        read_only_fields = fields


class ExportFormatSerializer(serializers.Serializer[Any]):
    """Documentation of one entry of the formats list."""

    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    disabled = serializers.BooleanField(
        required=False, help_text="Present (true) when the format does not fit the config."
    )

"""Project fields the API reads and writes (named explicitly, Label Studio's names)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labelkeep.accounts.models import User, Workspace
from labelkeep.api.fields import IdField
from labelkeep.projects import weights
from labelkeep.projects.counts import COUNTED, PERSONAL, STORED, Counts, counts_of
from labelkeep.projects.models import Project, Sampling, SkipQueue

# Label Studio's project settings that Labelkeep keeps (docs/api-compatibility.md).
SETTINGS = (
    "enable_empty_annotation",
    "show_collab_predictions",
    "overlap_cohort_percentage",
    "show_overlap_first",
    "is_published",
    "is_draft",
    "pinned_at",
    "show_annotation_history",
    "reveal_preannotations_interactively",
    "show_ground_truth_first",
    "min_annotations_to_start_training",
    "evaluate_predictions_automatically",
    "start_training_on_annotation_update",
    "skip_queue",
)


class WorkspaceField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A workspace id, looked up only within the caller's organization."""

    def get_queryset(self) -> Any:
        organization_id = self.context["organization_id"]
        return Workspace.objects.filter(organization_id=organization_id)

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except OverflowError:  # 1e400 reads as infinity, which no lookup takes
            self.fail("incorrect_type", data_type=type(data).__name__)


class CreatedBySerializer(serializers.ModelSerializer[User]):
    """Label Studio's `UserSimple`: the SDK parses `created_by` as this object, not an id."""

    avatar = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ("id", "username", "email", "first_name", "last_name", "avatar")
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True, "description": "Always null."})
    def get_avatar(self, user: User) -> None:
        return None


class CountField(serializers.IntegerField):
    """One of a project's counted numbers (projects/counts.py), read-only."""

    def __init__(self, help_text: str) -> None:
        super().__init__(read_only=True, source="*", help_text=help_text)

    def to_representation(self, value: Any) -> Any:
        parent = self.parent
        if not isinstance(parent, ProjectSerializer):
            raise TypeError("a CountField belongs on a ProjectSerializer")
        return parent.counts(value).get(self.field_name or "")


@extend_schema_field(
    {
        "type": "object",
        "description": "Per control tag of the labeling config: `{type, overall, labels: "
        "{label: weight}}`, each weight from 0 (left out) to 1, and 1 unless set. Send only the "
        "weights to set; `type` is read from the config.",
        "additionalProperties": {
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "overall": {"type": "number"},
                "labels": {"type": "object", "additionalProperties": {"type": "number"}},
            },
        },
    }
)
class ControlWeightsField(serializers.Field):  # type: ignore[type-arg]
    """`control_weights`: every control with its weights on the way out; on the way in,
    the weights to set, in shape (the services check them against the config)."""

    def __init__(self) -> None:
        super().__init__(source="*", required=False)

    def to_representation(self, project: Project) -> Any:
        return weights.effective(project.control_weights, project.parsed_label_config)

    def to_internal_value(self, data: Any) -> Any:
        kept, problems = weights.shape(data)
        if problems:
            raise serializers.ValidationError(problems)
        return {"control_weights": kept}


class ProjectSerializer(serializers.ModelSerializer[Project]):
    """A project: its settings, labeling config and counters, with Label Studio's names.

    The counted numbers come from the context's `counts` (by project id, as
    `projects.counts.counts_of` gives them, which a list counts for its whole page at
    once), else are counted for the one project; `queue_*` need the context's `user`."""

    finished_task_number = CountField(
        "Tasks that are done: they have as many finished "
        "annotations as their overlap asks, or were marked so."
    )
    skipped_annotations_number = CountField("Skipped (cancelled) annotations.")
    ground_truth_number = CountField("Annotations marked as ground truth.")
    useful_annotation_number = CountField(
        "Finished annotations that are not ground truth (`total_annotations_number` minus "
        "the finished ground truths)."
    )
    queue_total = CountField(
        "For the caller: tasks they have annotated or skipped, plus the unfinished tasks "
        "they have not."
    )
    queue_done = CountField("For the caller: tasks they have annotated or skipped.")

    created_by = CreatedBySerializer(read_only=True, allow_null=True)
    control_weights = ControlWeightsField()
    workspace = WorkspaceField(required=False, allow_null=True)
    sampling = serializers.ChoiceField(choices=Sampling.choices, required=False)
    maximum_annotations = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    color = serializers.RegexField(r"^#[0-9A-Fa-f]{3,8}$", required=False)
    overlap_cohort_percentage = serializers.IntegerField(
        min_value=0,
        max_value=100,
        required=False,
        help_text="The share of tasks (in percent) that get `maximum_annotations`; the "
        "others get one. Spread evenly by `inner_id`.",
    )
    min_annotations_to_start_training = serializers.IntegerField(
        min_value=0, max_value=1_000_000_000, required=False
    )
    skip_queue = serializers.ChoiceField(
        choices=SkipQueue.choices,
        required=False,
        allow_null=True,
        help_text="Always `REQUEUE_FOR_OTHERS`: a skipped task goes to others, never back to "
        "the person who skipped it. The other choices are refused.",
    )

    class Meta:
        model = Project
        fields = (
            "id",
            "title",
            "description",
            "label_config",
            "parsed_label_config",
            "expert_instruction",
            "show_instruction",
            "show_skip_button",
            "maximum_annotations",
            "sampling",
            "color",
            "model_version",
            "workspace",
            *SETTINGS,
            "control_weights",
            "config_has_control_tags",
            "organization",
            "created_by",
            "created_at",
            "updated_at",
            *STORED,
            *COUNTED,
            *PERSONAL,
        )
        read_only_fields = (
            "id",
            "parsed_label_config",
            "organization",
            "created_by",
            "created_at",
            "updated_at",
            *STORED,
        )
        extra_kwargs: dict[str, Any] = {
            "title": {"min_length": 1, "max_length": 200},
            "label_config": {"max_length": 1_000_000, "trim_whitespace": False},
            "description": {"max_length": 100_000},
            "expert_instruction": {"max_length": 100_000},
        }

    config_has_control_tags = serializers.SerializerMethodField()

    def counts(self, project: Project) -> Counts:
        known: dict[int, Counts] = self.context.setdefault("counts", {})
        if project.pk not in known:
            known.update(counts_of([project], self.context.get("user")))
        return known[project.pk]

    @extend_schema_field(
        {"type": "boolean", "description": "Whether the labeling config has a control tag."}
    )
    def get_config_has_control_tags(self, project: Project) -> bool:
        return bool(project.parsed_label_config)

    def validate_skip_queue(self, value: str | None) -> str | None:
        if value not in (None, SkipQueue.REQUEUE_FOR_OTHERS):
            raise serializers.ValidationError(
                "Labelkeep's label stream always gives a skipped task to others and never "
                "back to the person who skipped it: only REQUEUE_FOR_OTHERS is offered."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.pop("skip_queue", None)  # not stored: there is one behaviour
        return attrs


class LabelConfigSerializer(serializers.Serializer[Any]):
    """A labeling config (XML) to check."""

    label_config = serializers.CharField(max_length=1_000_000, trim_whitespace=False)


class MemberIdsSerializer(serializers.Serializer[Any]):
    """`{users: [ids]}`, or one `{user: id}` as the SDK's `projects.members` sends it."""

    users = serializers.ListField(child=IdField(), max_length=1000, required=False)
    user = IdField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("users" in attrs) == ("user" in attrs):
            raise serializers.ValidationError("Give either `users` (a list of ids) or `user`.")
        return {"users": attrs["users"] if "users" in attrs else [attrs["user"]]}

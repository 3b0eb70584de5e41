"""Explicit-field serializers for the identity API (never `__all__`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labelkeep.accounts.models import Membership, Organization, PersonalAccessToken, User, Workspace
from labelkeep.accounts.roles import Perm, Role
from labelkeep.audit.models import AuditEvent


class UserSerializer(serializers.ModelSerializer[User]):
    avatar = serializers.SerializerMethodField()
    initials = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields: tuple[str, ...] = (
            "id",
            "email",
            "username",
            "first_name",
            "last_name",
            "phone",
            "avatar",
            "initials",
            "active_organization",
            "date_joined",
            "last_login",
        )
        read_only_fields: tuple[str, ...] = (
            "id",
            "email",
            "avatar",
            "active_organization",
            "date_joined",
            "last_login",
        )
        extra_kwargs: dict[str, Any] = {
            "username": {"max_length": 150, "min_length": 1},
            "first_name": {"max_length": 150},
            "last_name": {"max_length": 150},
        }

    @extend_schema_field({"type": "string", "nullable": True, "description": "Always null."})
    def get_avatar(self, user: User) -> None:
        return None

    def get_initials(self, user: User) -> str:
        letters = (user.first_name[:1] + user.last_name[:1]) or user.email[:2]
        return letters.upper()


class ProfileSerializer(UserSerializer):
    """The caller's own profile as they may change it: `active_organization` switches them
    to another organization where they are an active member."""

    active_organization = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text="An organization where you are an active member: your tokens act in it "
        "from the next request, and so does the session that switched; your other sessions "
        "end.",
    )

    class Meta(UserSerializer.Meta):
        read_only_fields = tuple(
            name for name in UserSerializer.Meta.read_only_fields if name != "active_organization"
        )


class OrganizationMetaSerializer(serializers.Serializer[Any]):
    title = serializers.CharField()
    email = serializers.CharField(help_text="The organization's contact e-mail address.")


class WhoAmISerializer(UserSerializer):
    """A user plus their active organization, role and permissions (the whoami body)."""

    active_organization_meta = OrganizationMetaSerializer(read_only=True)
    role = serializers.ChoiceField(choices=[r.value for r in Role], read_only=True)
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=[p.value for p in Perm]), read_only=True
    )

    class Meta(UserSerializer.Meta):
        fields = (*UserSerializer.Meta.fields, "active_organization_meta", "role", "permissions")


class OrganizationSerializer(serializers.ModelSerializer[Organization]):
    class Meta:
        model = Organization
        fields = ("id", "title", "contact_info", "created_at", "default_role")
        read_only_fields = ("id", "created_at")
        extra_kwargs: dict[str, Any] = {
            "title": {"min_length": 1, "max_length": 200},
            "default_role": {"help_text": "The role of new members; not owner or deactivated."},
        }

    def validate_default_role(self, value: str) -> str:
        if value in (Role.OWNER, Role.DEACTIVATED):
            raise serializers.ValidationError("New members cannot join as owner or deactivated.")
        return value


class MembershipSerializer(serializers.ModelSerializer[Membership]):
    user = UserSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ("id", "organization", "user", "role", "created_at", "updated_at")
        read_only_fields = fields


class MembershipDetailSerializer(serializers.ModelSerializer[Membership]):
    """One membership as Label Studio's `OrganizationMember`: `user` is the user's id (the
    SDK parses it as an int; the list's `MembershipSerializer` nests the user instead)."""

    class Meta:
        model = Membership
        fields = ("id", "organization", "user", "role", "created_at", "updated_at")
        read_only_fields = fields


class RoleChangeSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=[r.value for r in Role])


class TokenSettingsSerializer(serializers.ModelSerializer[Organization]):
    class Meta:
        model = Organization
        fields = ("api_tokens_enabled", "legacy_api_tokens_enabled", "api_token_ttl_days")
        extra_kwargs: dict[str, Any] = {
            "api_token_ttl_days": {"min_value": 1, "max_value": 3650},
        }


class PersonalTokenSerializer(serializers.ModelSerializer[PersonalAccessToken]):
    token = serializers.CharField(
        source="preview", help_text="The token without its signature: it cannot authenticate."
    )

    class Meta:
        model = PersonalAccessToken
        fields = ("token", "created_at", "expires_at", "last_used_at")
        read_only_fields = fields


class RefreshSerializer(serializers.Serializer[Any]):
    refresh = serializers.CharField(max_length=4096)


class LoginSerializer(serializers.Serializer[Any]):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class WorkspaceSerializer(serializers.ModelSerializer[Workspace]):
    class Meta:
        model = Workspace
        fields = ("id", "title", "description", "created_by", "created_at")
        read_only_fields = ("id", "created_by", "created_at")
        extra_kwargs: dict[str, Any] = {"title": {"min_length": 1, "max_length": 200}}


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    class Meta:
        model = AuditEvent
        fields = (
            "id",
            "created_at",
            "actor",
            "actor_email",
            "action",
            "target_type",
            "target_id",
            "ip_address",
            "user_agent",
            "details",
        )
        read_only_fields = fields

"""Users, organizations, workspaces, memberships, tokens and login throttling records."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models

from labelkeep.accounts.roles import Role


def new_invite_token() -> str:
    return secrets.token_urlsafe(24)


class UserQuerySet(models.QuerySet["User"]):
    def visible_to(self, user: User) -> UserQuerySet:
        """Users who share the viewer's active organization."""
        if not user.active_organization_id:
            return self.none()
        return self.filter(memberships__organization_id=user.active_organization_id)


class UserManager(BaseUserManager["User"]):
    def get_queryset(self) -> UserQuerySet:
        return UserQuerySet(self.model, using=self._db)

    def visible_to(self, user: User) -> UserQuerySet:
        return self.get_queryset().visible_to(user)

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        email = self.normalize_email(email).lower()
        extra.setdefault("username", email.split("@")[0][:120] + "-" + secrets.token_hex(3))
        user = self.model(email=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractUser):
    """A person; signs in with their e-mail address."""

    email = models.EmailField(unique=True)
    phone = models.CharField(max_length=32, blank=True)
    active_organization = models.ForeignKey(
        "Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        ordering = ("id",)

    # Django compares the session's copy of this hash with a fresh one on every request
    # and ends the session when they differ. Binding it to the active membership as well
    # as to the password ends a member's sessions at their first request after removal
    # or deactivation, pages and cookie-authenticated API alike.
    def get_session_auth_hash(self) -> str:
        return _bind_session_hash(super().get_session_auth_hash(), self._active_membership_id())

    def get_session_auth_fallback_hash(self) -> Iterator[str]:
        membership_id = self._active_membership_id()
        for fallback in super().get_session_auth_fallback_hash():
            yield _bind_session_hash(fallback, membership_id)

    def _active_membership_id(self) -> int | None:
        if not self.active_organization_id:
            return None
        active: int | None = (
            Membership.objects.filter(user=self, organization_id=self.active_organization_id)
            .exclude(role=Role.DEACTIVATED)
            .values_list("id", flat=True)
            .first()
        )
        return active


def _bind_session_hash(password_hash: str, membership_id: int | None) -> str:
    """A session hash that matches only while the same membership stays active: without
    one it is new at every call, so no session survives (or starts) for such a user."""
    if membership_id is None:
        return secrets.token_hex(32)
    # Not keyed again: `password_hash` already is, with the secret (or fallback secret)
    # that Django chose, so rotating SECRET_KEY keeps working as Django documents it.
    return hashlib.sha256(f"{password_hash}:{membership_id}".encode()).hexdigest()


class OrganizationQuerySet(models.QuerySet["Organization"]):
    def visible_to(self, user: User) -> OrganizationQuerySet:
        """Organizations where the user is a member who has not been deactivated."""
        active = Membership.objects.filter(user=user).exclude(role=Role.DEACTIVATED)
        return self.filter(pk__in=active.values("organization_id"))


class Organization(models.Model):
    """A tenant: its members, workspaces and projects are invisible to every other one."""

    title = models.CharField(max_length=200)
    contact_info = models.EmailField(blank=True)
    created_by = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="created_organizations"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    invite_token = models.CharField(max_length=64, unique=True, default=new_invite_token)
    default_role = models.CharField(
        max_length=16, choices=[(r.value, r.value) for r in Role], default=Role.ANNOTATOR
    )
    api_tokens_enabled = models.BooleanField(default=True)
    legacy_api_tokens_enabled = models.BooleanField(default=True)
    api_token_ttl_days = models.PositiveIntegerField(default=200)

    objects: ClassVar[OrganizationQuerySet] = OrganizationQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return self.title


class WorkspaceQuerySet(models.QuerySet["Workspace"]):
    def visible_to(self, user: User) -> WorkspaceQuerySet:
        """Workspaces of the viewer's active organization."""
        if not user.active_organization_id:
            return self.none()
        return self.filter(organization_id=user.active_organization_id)


class Workspace(models.Model):
    """A folder of projects inside an organization."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="workspaces"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects: ClassVar[WorkspaceQuerySet] = WorkspaceQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("id",)
        constraints = (
            models.UniqueConstraint(fields=("organization", "title"), name="workspace_title"),
        )

    def __str__(self) -> str:
        return str(self.title)


class MembershipQuerySet(models.QuerySet["Membership"]):
    def visible_to(self, user: User) -> MembershipQuerySet:
        """Memberships of the viewer's active organization."""
        if not user.active_organization_id:
            return self.none()
        return self.filter(organization_id=user.active_organization_id)


class Membership(models.Model):
    """A user's single role in one organization."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=[(r.value, r.value) for r in Role])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[MembershipQuerySet] = MembershipQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("id",)
        constraints = (
            models.UniqueConstraint(fields=("organization", "user"), name="one_membership"),
        )

    def __str__(self) -> str:
        return f"{self.user_id}@{self.organization_id}:{self.role}"

    @property
    def is_active(self) -> bool:
        return self.role != Role.DEACTIVATED


class ApiToken(models.Model):
    """A user's legacy API key (`Authorization: Token …`), stored only as a SHA-256 hash."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="api_token")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"API key of user {self.user_id}"


class PersonalAccessToken(models.Model):
    """A JWT refresh token (PAT); only its id (`jti`) and a hash of it are stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="access_tokens")
    jti = models.CharField(max_length=64, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    # Header and claims without the signature: what the list endpoint shows.
    preview = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"PAT {self.jti[:8]}… of user {self.user_id}"


class SetupToken(models.Model):
    """The one-time first-start link that creates the first owner."""

    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"setup link {self.pk}"


class LoginFailure(models.Model):
    """A failed sign-in, counted per account and per address for throttling."""

    key = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = (
            models.Index(fields=("key", "created_at"), name="login_failure_key"),
            # Expired failures are deleted by age, whatever their key (throttle.reserve).
            models.Index(fields=("created_at",), name="login_failure_age"),
        )

    def __str__(self) -> str:
        return str(self.key)

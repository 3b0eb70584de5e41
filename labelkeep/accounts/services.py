"""Every change to users, organizations and memberships goes through these functions."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from labelkeep.accounts.models import Membership, Organization, SetupToken, User, new_invite_token
from labelkeep.accounts.permissions import membership_of
from labelkeep.accounts.roles import Role, may_assign
from labelkeep.accounts.signals import member_access_ended, member_role_changed
from labelkeep.audit.services import Origin, record
from labelkeep.security.hashing import key_hash, new_key


class AccountError(Exception):
    """A refused account operation, with a message fit to show the user."""


class AccountExists(AccountError):
    """Sign-up with the e-mail address of an existing account."""


@dataclass(frozen=True)
class NewAccount:
    email: str
    password: str
    first_name: str = ""
    last_name: str = ""


def _validated(account: NewAccount) -> NewAccount:
    email = account.email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise AccountError("Enter a valid e-mail address.") from None
    if User.objects.filter(email=email).exists():
        raise AccountExists("An account with this e-mail address already exists.")
    probe = User(email=email, first_name=account.first_name, last_name=account.last_name)
    try:
        password_validation.validate_password(account.password, probe)
    except ValidationError as exc:
        raise AccountError(" ".join(exc.messages)) from None
    return NewAccount(email, account.password, account.first_name, account.last_name)


def create_account(
    account: NewAccount,
    *,
    organization: Organization | None,
    org_title: str = "",
    role: Role,
    actor: User | None,
    origin: Origin,
) -> User:
    """Create a user and their membership (and a new organization when none is given)."""
    account = _validated(account)
    with transaction.atomic():
        user = _new_user(account)
        if organization is None:
            organization = Organization.objects.create(
                title=org_title or "Labelkeep", created_by=user
            )
        Membership.objects.create(organization=organization, user=user, role=role)
        user.active_organization = organization
        user.save(update_fields=["active_organization"])
        record(
            "user.create",
            actor=actor or user,
            origin=origin,
            organization_id=organization.pk,
            target=user,
            role=role.value,
        )
    return user


def _new_user(account: NewAccount) -> User:
    """The user row; an account made with the same address since `_validated` looked (a
    sign-up to another organization at the same moment) is refused like one made before."""
    try:
        with transaction.atomic():
            return User.objects.create_user(
                account.email,
                account.password,
                first_name=account.first_name,
                last_name=account.last_name,
            )
    except IntegrityError:
        if User.objects.filter(email=account.email).exists():
            raise AccountExists("An account with this e-mail address already exists.") from None
        raise


# --- First start -----------------------------------------------------------------------


def needs_setup() -> bool:
    return not User.objects.exists()


def issue_setup_token() -> str:
    """A fresh one-time setup key; any earlier unused key stops working."""
    key = new_key(24)
    with transaction.atomic():
        SetupToken.objects.filter(used_at__isnull=True).delete()
        SetupToken.objects.create(key_hash=key_hash(key))
    return key


def setup_token_valid(key: str) -> bool:
    return (
        needs_setup()
        and SetupToken.objects.filter(key_hash=key_hash(key), used_at__isnull=True).exists()
    )


def complete_setup(key: str, account: NewAccount, org_title: str, *, origin: Origin) -> User:
    """Create the first owner and organization, consuming the setup key."""
    with transaction.atomic():
        claimed = SetupToken.objects.filter(key_hash=key_hash(key), used_at__isnull=True).update(
            used_at=timezone.now()
        )
        if not claimed or not needs_setup():
            raise AccountError("This setup link is no longer valid.")
        return create_account(
            account,
            organization=None,
            org_title=org_title,
            role=Role.OWNER,
            actor=None,
            origin=origin,
        )


# --- Invites ---------------------------------------------------------------------------


INVITE_TOKEN_LENGTH = 64  # the column's length


def organization_for_invite(token: str) -> Organization | None:
    if not token or "\x00" in token or len(token) > INVITE_TOKEN_LENGTH:
        return None  # names no organization; PostgreSQL would refuse to compare a NUL
    return Organization.objects.filter(invite_token=token).first()


def _invited_to(token: str) -> Organization:
    """The organization whose current invite link carries `token`, its row locked until
    the caller's transaction ends (a link reset waits)."""
    organization = (
        Organization.objects.select_for_update().filter(invite_token=token).first()
        if token
        else None
    )
    if organization is None:
        raise AccountError("This invite link is not valid. Ask an administrator for a new one.")
    return organization


def signup(token: str, account: NewAccount, *, origin: Origin) -> User:
    """Join the organization whose current invite link carries `token`."""
    with transaction.atomic():
        organization = _invited_to(token)
        user = create_account(
            account,
            organization=organization,
            role=Role(organization.default_role),
            actor=None,
            origin=origin,
        )
        record(
            "user.signup", actor=user, origin=origin, organization_id=organization.pk, target=user
        )
    return user


def join_organization(token: str, user: User, *, origin: Origin) -> Membership:
    """An existing account (its password already checked) joins the organization whose
    current invite link carries `token`, in the organization's default role; an active
    member stays as they are. A deactivated membership stays deactivated: only an
    administrator restores it."""
    with transaction.atomic():
        organization = _invited_to(token)
        existing = Membership.objects.filter(organization=organization, user=user).first()
        if existing is not None and not existing.is_active:
            raise AccountError(
                "Your membership in this organization has been deactivated; "
                "only an administrator of the organization can restore it."
            )
        if existing is not None:
            return existing
        role = Role(organization.default_role)
        membership = Membership.objects.create(organization=organization, user=user, role=role)
        user.active_organization = organization
        user.save(update_fields=["active_organization"])
        record(
            "member.join",
            actor=user,
            origin=origin,
            organization_id=organization.pk,
            target=user,
            role=role.value,
        )
    return membership


def reset_invite(organization: Organization, *, actor: User, origin: Origin) -> str:
    """Replace the invite link; the previous one stops working at once."""
    with transaction.atomic():
        organization.invite_token = _replace_invite(organization.pk, actor=actor, origin=origin)
    return organization.invite_token


def _replace_invite(organization_id: int, *, actor: User, origin: Origin, **why: str) -> str:
    token = new_invite_token()
    Organization.objects.filter(pk=organization_id).update(invite_token=token)
    record("invite.reset", actor=actor, origin=origin, organization_id=organization_id, **why)
    return token


def active_memberships(user: User) -> list[Membership]:
    """The memberships a user may act in (any role but deactivated), oldest first."""
    return list(_active_of(user))


def _active_of(user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.select_related("organization")
        .filter(user=user)
        .exclude(role=Role.DEACTIVATED)
        .order_by("id")
    )


def switch_organization(user: User, organization_id: int, *, origin: Origin) -> Membership:
    """Make `organization_id` the one the user's sessions and tokens act in; it must be one
    where they are an active member (the same refusal for any other, existing or not)."""
    with transaction.atomic():
        # Under the lock that removals from the organization take (`_locked`): a removal
        # at the same moment either sees the user acting there and moves them on, or has
        # taken the membership away before it is looked for here.
        Organization.objects.select_for_update().filter(pk=organization_id).first()
        membership = _active_of(user).filter(organization_id=organization_id).first()
        if membership is None:
            raise AccountError(f"You are not an active member of organization {organization_id}.")
        previous = user.active_organization_id
        if previous == organization_id:
            return membership
        user.active_organization_id = organization_id
        user.save(update_fields=["active_organization"])
        record(
            "user.switch_organization",
            actor=user,
            origin=origin,
            organization_id=organization_id,
            target=user,
            previous=previous,
        )
    return membership


def settle_active_organization(user: User) -> Membership | None:
    """The user's active membership. When their active organization has removed or
    deactivated them, they move to the oldest organization where they are still active;
    with none left, nothing changes and None is returned."""
    current = membership_of(user)
    if current is not None and current.is_active:
        return current
    other = _active_of(user).first()
    if other is not None:
        user.active_organization = other.organization
        user.save(update_fields=["active_organization"])
    return other


# --- Members ---------------------------------------------------------------------------


def _owners_left(organization_id: int, excluding: Membership) -> int:
    return (
        Membership.objects.filter(organization_id=organization_id, role=Role.OWNER)
        .exclude(pk=excluding.pk)
        .count()
    )


def _locked(membership: Membership, actor: User) -> tuple[Membership, Role]:
    """The membership and the actor's role as they are now, read under a lock on the
    organization, so that two owners demoting each other at once cannot both see the
    other still an owner, nor act with a role taken from them a moment ago. Call inside
    a transaction (SQLite's IMMEDIATE transactions serialise writers anyway)."""
    Organization.objects.select_for_update().filter(pk=membership.organization_id).first()
    current = Membership.objects.select_related("user").filter(pk=membership.pk).first()
    if current is None:
        raise AccountError("This member has already been removed.")
    role = (
        Membership.objects.filter(organization_id=current.organization_id, user=actor)
        .values_list("role", flat=True)
        .first()
    )
    return current, Role(role) if role else Role.DEACTIVATED


def change_role(
    membership: Membership, new_role: Role, *, actor: User, origin: Origin
) -> Membership:
    """Give a member another role (deactivation is the role `deactivated`)."""
    with transaction.atomic():
        membership, actor_role = _locked(membership, actor)
        old_role = Role(membership.role)
        if new_role == old_role:
            return membership
        if not may_assign(actor_role, old_role, new_role):
            raise AccountError("Only an owner can grant or change the owner role.")
        if old_role == Role.OWNER and not _owners_left(membership.organization_id, membership):
            raise AccountError("An organization needs at least one owner.")
        membership.role = new_role
        membership.save(update_fields=["role", "updated_at"])
        action = "member.deactivate" if new_role == Role.DEACTIVATED else "member.role_change"
        record(
            action,
            actor=actor,
            origin=origin,
            organization_id=membership.organization_id,
            target=membership.user,
            old_role=old_role.value,
            new_role=new_role.value,
        )
        if new_role != Role.DEACTIVATED:
            member_role_changed.send(
                Membership,
                organization_id=membership.organization_id,
                user=membership.user,
                role=new_role,
            )
        else:
            member_access_ended.send(
                Membership, organization_id=membership.organization_id, user=membership.user
            )
            # They may know the invite link: a new account through it would undo this.
            _replace_invite(membership.organization_id, actor=actor, origin=origin, reason=action)
    return membership


def remove_member(membership: Membership, *, actor: User, origin: Origin) -> None:
    """Take a member out of the organization; their account stays for other organizations.
    Removed from the one they act in, they act in their oldest other active membership from
    then on, as signing in would move them (or in none)."""
    if membership.user_id == actor.pk:
        raise AccountError("You cannot remove yourself.")
    with transaction.atomic():
        membership, actor_role = _locked(membership, actor)
        role = Role(membership.role)
        if not may_assign(actor_role, role, Role.DEACTIVATED):
            raise AccountError("Only an owner can remove an owner.")
        if role == Role.OWNER and not _owners_left(membership.organization_id, membership):
            raise AccountError("An organization needs at least one owner.")
        user = membership.user
        org_id = membership.organization_id
        membership.delete()
        if user.active_organization_id == org_id and settle_active_organization(user) is None:
            # No other organization where they are active: none, until they join one.
            user.active_organization = None
            user.save(update_fields=["active_organization"])
        record("member.remove", actor=actor, origin=origin, organization_id=org_id, target=user)
        member_access_ended.send(Membership, organization_id=org_id, user=user)
        if role != Role.DEACTIVATED:  # deactivation replaced the link already
            # They may know the invite link: joining through it again would undo this.
            _replace_invite(org_id, actor=actor, origin=origin, reason="member.remove")


# --- Own account -----------------------------------------------------------------------


def change_password(user: User, new: str, *, origin: Origin) -> None:
    """Change a user's password; the caller has confirmed the current one
    (`login.confirm_password`, throttled)."""
    try:
        password_validation.validate_password(new, user)
    except ValidationError as exc:
        raise AccountError(" ".join(exc.messages)) from None
    with transaction.atomic():
        user.set_password(new)
        user.save(update_fields=["password"])
        record(
            "password.change",
            actor=user,
            origin=origin,
            organization_id=user.active_organization_id,
            target=user,
        )


def update_profile(user: User, changes: dict[str, object], *, origin: Origin) -> User:
    """Change a user's own name, username or phone. A username taken by someone else in
    the meantime (after the form checked it) is refused, the user left as stored. No
    change, no write and no audit entry."""
    if not changes:
        return user
    try:
        with transaction.atomic():
            for field, value in changes.items():
                setattr(user, field, value)
            user.save(update_fields=list(changes))
            record(
                "user.update",
                actor=user,
                origin=origin,
                organization_id=user.active_organization_id,
                target=user,
                fields=sorted(changes),
            )
    except IntegrityError:
        user.refresh_from_db()
        raise AccountError("This username is taken.") from None
    return user


def update_organization(
    organization: Organization, changes: dict[str, object], *, actor: User, origin: Origin
) -> Organization:
    """Change the organization's title, contact or default role for new members."""
    return _update_org(organization, changes, "organization.update", actor=actor, origin=origin)


def update_token_settings(
    organization: Organization, changes: dict[str, object], *, actor: User, origin: Origin
) -> Organization:
    """Turn token kinds on or off and set the lifetime of new personal access tokens."""
    return _update_org(organization, changes, "token_settings.update", actor=actor, origin=origin)


def _update_org(
    organization: Organization,
    changes: dict[str, object],
    action: str,
    *,
    actor: User,
    origin: Origin,
) -> Organization:
    if not changes:  # nothing to write, nothing to audit
        return organization
    with transaction.atomic():
        for field, value in changes.items():
            setattr(organization, field, value)
        organization.save(update_fields=list(changes))
        record(
            action,
            actor=actor,
            origin=origin,
            organization_id=organization.pk,
            target=organization,
            changes={k: str(v) for k, v in changes.items()},
        )
    return organization

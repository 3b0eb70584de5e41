"""`labelkeep user create`: scripted accounts (the alternative to the setup link)."""

from __future__ import annotations

from django.db import transaction

from labelkeep.accounts import services, tokens
from labelkeep.accounts.models import Organization
from labelkeep.accounts.roles import Role
from labelkeep.audit.services import CLI


def _organization(name: str | None) -> Organization | None:
    if name:
        return Organization.objects.filter(title=name).order_by("id").first()
    orgs = list(Organization.objects.order_by("id")[:2])
    if len(orgs) > 1:
        raise services.AccountError("Several organizations exist: name one with --org.")
    return orgs[0] if orgs else None


def create_user(
    email: str, password: str, *, role: str | None, org: str | None, token: bool
) -> int:
    """Create the account and print the outcome; the token, if asked, is the last line."""
    try:
        with transaction.atomic():
            organization = _organization(org)
            chosen = Role(role) if role else (Role.ANNOTATOR if organization else Role.OWNER)
            user = services.create_account(
                services.NewAccount(email, password),
                organization=organization,
                org_title=org or "Labelkeep",
                role=chosen,
                actor=None,
                origin=CLI,
            )
            key = tokens.reset_legacy_token(user, actor=user, origin=CLI) if token else None
    except services.AccountError as exc:
        print(f"error: {exc}")
        return 1
    org_title = user.active_organization.title if user.active_organization else ""
    print(f"Created {user.email} as {chosen.value} of {org_title!r}")
    if key:
        print(key)
    return 0

"""`labelkeep user create`: scripted accounts (the alternative to the setup link)."""

from __future__ import annotations

import sys

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


def _role(requested: str | None, organization: Organization | None, org: str | None) -> Role:
    """The role asked for; in an organization this command creates, only its owner."""
    if organization is not None:
        return Role(requested) if requested else Role.ANNOTATOR
    if requested and Role(requested) != Role.OWNER:
        missing = f"Organization {org!r} does not exist" if org else "No organization exists"
        raise services.AccountError(
            f"{missing}, and a new organization needs an owner: create its owner first "
            f"(--role owner, or no --role), then the {requested}."
        )
    return Role.OWNER


def create_user(
    email: str, password: str, *, role: str | None, org: str | None, token: bool
) -> int:
    """Create the account and print the outcome; the token, if asked, is the last line.
    Refusals go to stderr, so a script reading the last line never takes one for a token."""
    try:
        with transaction.atomic():
            organization = _organization(org)
            chosen = _role(role, organization, org)
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
        print(f"error: {exc}", file=sys.stderr)
        return 1
    org_title = user.active_organization.title if user.active_organization else ""
    print(f"Created {user.email} as {chosen.value} of {org_title!r}")
    if key:
        print(key)
    return 0

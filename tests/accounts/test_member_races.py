"""Membership changes read what they decide on under a lock: stale objects and two owners
acting at once cannot leave an organization without an owner."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections

from labelkeep.accounts import services, tokens
from labelkeep.accounts.models import Membership, PersonalAccessToken
from labelkeep.accounts.roles import Role
from tests.conftest import TEST_ORIGIN, World, make_user


def _owners(org_id: int) -> int:
    return Membership.objects.filter(organization_id=org_id, role=Role.OWNER).count()


def test_a_stale_membership_cannot_demote_the_last_owner(world: World) -> None:
    second = make_user("second@a.example", org=world.org, role=Role.OWNER)
    first_seen = Membership.objects.get(user=world.owner.user, organization=world.org)
    second_seen = Membership.objects.get(user=second, organization=world.org)
    services.change_role(second_seen, Role.ADMIN, actor=world.owner.user, origin=TEST_ORIGIN)
    # `second` acts on what it read before it was demoted: it is no owner any more.
    with pytest.raises(services.AccountError):
        services.change_role(first_seen, Role.ADMIN, actor=second, origin=TEST_ORIGIN)
    with pytest.raises(services.AccountError):
        services.remove_member(first_seen, actor=second, origin=TEST_ORIGIN)
    assert _owners(world.org.pk) == 1


def test_removing_a_removed_member_is_refused(world: World) -> None:
    seen = Membership.objects.get(user=world.member.user, organization=world.org)
    services.remove_member(seen, actor=world.admin.user, origin=TEST_ORIGIN)
    with pytest.raises(services.AccountError, match="already been removed"):
        services.remove_member(seen, actor=world.admin.user, origin=TEST_ORIGIN)
    with pytest.raises(services.AccountError, match="already been removed"):
        services.change_role(seen, Role.REVIEWER, actor=world.admin.user, origin=TEST_ORIGIN)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["demote", "remove"])
def test_two_owners_acting_on_each_other_at_once_keep_one_owner(how: str) -> None:
    one = make_user("one@race.example", role=Role.OWNER, title="Race")
    org = one.active_organization
    assert org is not None
    two = make_user("two@race.example", org=org, role=Role.OWNER)
    seen = {u.pk: Membership.objects.get(user=u, organization=org) for u in (one, two)}
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def act(actor_pk: int, target_pk: int) -> None:
        actor = one if actor_pk == one.pk else two
        try:
            start.wait()
            if how == "demote":
                services.change_role(seen[target_pk], Role.ADMIN, actor=actor, origin=TEST_ORIGIN)
            else:
                services.remove_member(seen[target_pk], actor=actor, origin=TEST_ORIGIN)
            outcomes.append("done")
        except services.AccountError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=act, args=(one.pk, two.pk)),
        threading.Thread(target=act, args=(two.pk, one.pk)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["done", "refused"]
    assert _owners(org.pk) == 1


def test_a_username_taken_after_the_form_checked_it_is_refused(world: World) -> None:
    services.update_profile(world.admin.user, {"username": "taken"}, origin=TEST_ORIGIN)
    member = world.member.user
    before = member.username
    with pytest.raises(services.AccountError, match="username is taken"):
        services.update_profile(
            member, {"username": "taken", "first_name": "New"}, origin=TEST_ORIGIN
        )
    member.refresh_from_db()
    assert member.username == before and member.first_name != "New"


@pytest.mark.django_db(transaction=True)
def test_parallel_token_requests_keep_to_the_limit(settings: Any) -> None:
    settings.PERSONAL_ACCESS_TOKENS_PER_USER = 3
    owner = make_user("tokens@race.example", role=Role.OWNER, title="Tokens")
    start = threading.Barrier(PARALLEL)
    outcomes: list[str] = []

    def ask() -> None:
        try:
            start.wait()
            tokens.create_pat(owner, actor=owner, origin=TEST_ORIGIN)
            outcomes.append("issued")
        except tokens.TokenError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["issued"] * 3 + ["refused"] * (PARALLEL - 3)
    assert PersonalAccessToken.objects.filter(user=owner).count() == 3


PARALLEL = 8

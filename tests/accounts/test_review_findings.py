"""Defects found in review of the identity area: each test failed before its fix."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections, transaction
from django.test import Client, override_settings

from labelkeep.accounts import services, tokens
from labelkeep.accounts.models import ApiToken, Membership, PersonalAccessToken, User
from labelkeep.accounts.roles import Role
from labelkeep.audit.models import AuditEvent
from labelkeep.security.proxy import client_address
from tests.conftest import PASSWORD, TEST_ORIGIN, World, make_user

BEYOND_64_BITS = 2**64


def test_member_ids_beyond_64_bits_are_404(world: World) -> None:
    """SQLite cannot compare a foreign key with such an id: these were 500s."""
    admin = world.admin.client
    member_url = f"/api/organizations/{world.org.pk}/memberships/{BEYOND_64_BITS}"
    assert admin.get(member_url).status_code == 404
    assert admin.patch(member_url, {"role": "reviewer"}, format="json").status_code == 404
    assert admin.delete(member_url).status_code == 404
    assert admin.delete(f"/api/users/{BEYOND_64_BITS}/").status_code == 404
    assert Membership.objects.filter(organization=world.org).count() == 3


@pytest.mark.parametrize(
    ("forwarded_for", "expected"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("203.0.113.5:4711", "203.0.113.5"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("198.51.100.1, 203.0.113.5:4711, 127.0.0.1", "203.0.113.5"),
        # A hop that is no address: the proxy that passed it on is all that is known.
        ("unknown", "127.0.0.1"),
        ("203.0.113.5, evil.example, 127.0.0.2", "127.0.0.2"),
        ("<script>", "127.0.0.1"),
        ("", "127.0.0.1"),
    ],
)
def test_forwarded_hops_are_read_as_addresses(forwarded_for: str, expected: str) -> None:
    with override_settings(TRUSTED_PROXIES=["127.0.0.0/8"]):
        assert client_address(forwarded_for, "127.0.0.1") == expected


def _login_via_proxy(forwarded_for: str, email: str, password: str = "wrong-password") -> Any:
    return Client(headers={"x-forwarded-for": forwarded_for}).post(
        "/api/auth/login",
        {"email": email, "password": password},
        content_type="application/json",
        secure=True,
    )


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
def test_a_port_in_forwarded_for_does_not_escape_the_address_limit(
    world: World, settings: Any
) -> None:
    """Proxies that write the client's port send a new "address" per connection: each
    attempt was counted under its own key, so the per-address limit never applied."""
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    for port in range(3):
        refused = _login_via_proxy(f"203.0.113.5:{40000 + port}", f"nobody{port}@a.example")
        assert refused.status_code == 401
    throttled = _login_via_proxy("203.0.113.5:40099", "member@a.example", PASSWORD)
    assert throttled.status_code == 429
    attempts = AuditEvent.objects.filter(action__in=["login.failure", "login.throttled"])
    addresses = set(attempts.values_list("ip_address", flat=True))
    assert addresses == {"203.0.113.5"}


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
def test_a_forwarded_hop_that_is_no_address_is_never_stored(world: World) -> None:
    """PostgreSQL's address column refused it: every audited request was a 500."""
    response = _login_via_proxy("unknown, </script>", "member@a.example")
    assert response.status_code == 401
    assert AuditEvent.objects.get(action="login.failure").ip_address == "127.0.0.1"


def _at_once(count: int, action: Callable[[], object]) -> list[str]:
    """Run `action` in `count` threads released together; each outcome's class name."""
    start = threading.Barrier(count)
    outcomes: list[str] = []

    def run() -> None:
        try:
            start.wait()
            action()
            outcomes.append("done")
        except Exception as exc:
            outcomes.append(type(exc).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


PARALLEL = 6


def _owner(email: str) -> User:
    return make_user(email, role=Role.OWNER, title=email)


@pytest.mark.django_db(transaction=True)
def test_a_pat_rotated_twice_at_once_has_one_successor() -> None:
    """PostgreSQL: every parallel rotation read the PAT live and issued a replacement."""
    owner = _owner("rotate@race.example")
    pat = tokens.create_pat(owner, actor=owner, origin=TEST_ORIGIN).token
    outcomes = _at_once(PARALLEL, lambda: tokens.rotate_pat(pat, actor=owner, origin=TEST_ORIGIN))
    assert outcomes == ["TokenError"] * (PARALLEL - 1) + ["done"]
    assert PersonalAccessToken.objects.filter(user=owner, revoked_at__isnull=True).count() == 1
    assert AuditEvent.objects.filter(action="token.rotate").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_pat_revoked_twice_at_once_is_revoked_once() -> None:
    owner = _owner("revoke@race.example")
    pat = tokens.create_pat(owner, actor=owner, origin=TEST_ORIGIN).token
    outcomes = _at_once(
        PARALLEL, lambda: tokens.blacklist_pat(pat, actor=owner, origin=TEST_ORIGIN)
    )
    assert outcomes == ["TokenError"] * (PARALLEL - 1) + ["done"]
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1


@pytest.mark.django_db(transaction=True)
def test_legacy_keys_reset_at_once_leave_one_working_key() -> None:
    """PostgreSQL: the second insert broke the one-key-per-user rule, a 500."""
    owner = _owner("reset@race.example")
    keys: list[str] = []
    outcomes = _at_once(
        PARALLEL,
        lambda: keys.append(tokens.reset_legacy_token(owner, actor=owner, origin=TEST_ORIGIN)),
    )
    assert outcomes == ["done"] * PARALLEL
    assert ApiToken.objects.filter(user=owner).count() == 1
    whoami = [
        Client().get(
            "/api/current-user/whoami", headers={"authorization": f"Token {key}"}, secure=True
        )
        for key in keys
    ]
    assert sorted(response.status_code for response in whoami) == [200] + [401] * (PARALLEL - 1)


@pytest.mark.django_db(transaction=True)
def test_one_address_signing_up_to_two_organizations_at_once() -> None:
    """PostgreSQL: the later insert of the same address was an IntegrityError (a 500 on
    the sign-up page) instead of the existing-account answer."""
    links = [_owner(f"owner{n}@race.example").active_organization for n in range(2)]
    assert all(links)
    chosen = iter(org.invite_token for org in links if org is not None)
    lock = threading.Lock()

    def sign_up() -> None:
        with lock:
            token = next(chosen)
        services.signup(
            token, services.NewAccount("same@race.example", PASSWORD), origin=TEST_ORIGIN
        )

    assert _at_once(2, sign_up) == ["AccountExists", "done"]
    assert User.objects.filter(email="same@race.example").count() == 1


@pytest.mark.django_db(transaction=True)
def test_switching_to_an_organization_while_being_removed_from_it() -> None:
    """PostgreSQL: the removal read the member's active organization before their switch
    to it committed, so it left them acting in an organization they no longer belong to:
    every token answered 403 until they signed in on a page."""
    owner = _owner("owner@switch.example")
    org = owner.active_organization
    assert org is not None
    member = make_user("member@switch.example", role=Role.OWNER, title="Home")
    home = member.active_organization
    Membership.objects.create(organization=org, user=member, role=Role.ANNOTATOR)
    switched, removed = threading.Event(), threading.Event()
    outcomes: list[str] = []

    def switch() -> None:
        try:
            with transaction.atomic():
                services.switch_organization(member, org.pk, origin=TEST_ORIGIN)
                switched.set()
                removed.wait(timeout=1)  # the removal has run, or waits for this commit
            outcomes.append("switched")
        except services.AccountError:
            switched.set()
            outcomes.append("switch refused")
        finally:
            connections.close_all()

    def remove() -> None:
        try:
            switched.wait(timeout=5)
            target = Membership.objects.get(organization=org, user=member)
            services.remove_member(target, actor=owner, origin=TEST_ORIGIN)
            outcomes.append("removed")
        finally:
            removed.set()
            connections.close_all()

    threads = [threading.Thread(target=switch), threading.Thread(target=remove)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["removed", "switched"]
    member.refresh_from_db()
    assert member.active_organization == home

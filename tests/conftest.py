"""The standing world: an owner, an admin and a member (an annotator) of Org A, and an
outsider who owns Org B."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from labelkeep.accounts import services, tokens
from labelkeep.accounts.models import Organization, User
from labelkeep.accounts.roles import Role
from labelkeep.audit.services import Origin

PASSWORD = "correct horse battery staple 9"
TEST_ORIGIN = Origin(ip_address="192.0.2.10", user_agent="pytest")


class HttpsClient(APIClient):
    """An API client whose requests arrive over HTTPS, as they do from the real server."""

    def request(self, **kwargs: Any) -> Any:
        kwargs["wsgi.url_scheme"] = "https"
        kwargs["SERVER_PORT"] = "443"
        return super().request(**kwargs)


def make_user(
    email: str, *, org: Organization | None = None, role: Role = Role.ANNOTATOR, title: str = ""
) -> User:
    return services.create_account(
        services.NewAccount(email, PASSWORD),
        organization=org,
        org_title=title,
        role=role,
        actor=None,
        origin=TEST_ORIGIN,
    )


@dataclass
class Actor:
    user: User
    key: str
    client: HttpsClient

    @property
    def org(self) -> Organization:
        assert self.user.active_organization is not None
        return self.user.active_organization


def signed_in_browser(email: str, password: str = PASSWORD) -> Client:
    """A browser (CSRF enforced, HTTPS) signed in through the sign-in page."""
    browser = Client(enforce_csrf_checks=True, headers={"referer": "https://testserver/"})
    browser.get("/user/login/", secure=True)
    form = {"email": email, "password": password}
    token = browser.cookies["csrftoken"].value
    signed = browser.post("/user/login/", {**form, "csrfmiddlewaretoken": token}, secure=True)
    assert signed.status_code == 302, signed.content
    return browser


def as_actor(user: User) -> Actor:
    key = tokens.reset_legacy_token(user, actor=user, origin=TEST_ORIGIN)
    client = HttpsClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return Actor(user, key, client)


@dataclass
class World:
    owner: Actor
    admin: Actor
    member: Actor
    outsider: Actor

    @property
    def org(self) -> Organization:
        return self.owner.org


@pytest.fixture
def world(db: Any) -> World:
    owner = make_user("owner@a.example", role=Role.OWNER, title="Org A")
    org = owner.active_organization
    assert org is not None
    admin = make_user("admin@a.example", org=org, role=Role.ADMIN)
    member = make_user("member@a.example", org=org, role=Role.ANNOTATOR)
    outsider = make_user("outsider@b.example", role=Role.OWNER, title="Org B")
    return World(as_actor(owner), as_actor(admin), as_actor(member), as_actor(outsider))


@pytest.fixture
def anon() -> HttpsClient:
    return HttpsClient()


@pytest.fixture(autouse=True)
def _fresh_task_list_memory() -> None:
    """Each test's projects start with no remembered task-list anchors or counts (ids
    come back in tests, as each test's transaction is rolled back)."""
    from labelkeep.tasks import anchors, project_counts

    anchors.forget()
    project_counts.forget()

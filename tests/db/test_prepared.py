"""Prepared ORM queries: the same SQL Django compiles, the same rows, refused when unsafe."""

from __future__ import annotations

import datetime as dt
import importlib
import random
from typing import Any

import pytest
from django.db.models import F, Value

from labelkeep.accounts.models import ApiToken, Membership, User
from labelkeep.db.prepared import (
    PreparedBase,
    PreparedDelete,
    PreparedSelect,
    PreparedUpdate,
    registered,
)
from labelkeep.projects.models import Project
from labelkeep.tasks.models import Task, TaskLock
from tests.conftest import World

pytestmark = pytest.mark.django_db


def _every_prepared_query() -> list[PreparedBase]:
    importlib.import_module("labelkeep.urls")  # imports every view, so every module
    found = registered()
    assert len(found) >= 10
    return found


def _random_like(sample: object, rng: random.Random) -> object:
    if isinstance(sample, dt.datetime):
        return dt.datetime.fromtimestamp(rng.randint(0, 4 * 10**9), tz=dt.UTC)
    if isinstance(sample, int):
        return rng.randint(1, 10**9)
    return f"v{rng.random()}"


def test_every_prepared_query_matches_a_fresh_compilation() -> None:
    rng = random.Random(7)  # noqa: S311 (test values, not secrets)
    for prepared in _every_prepared_query():
        assert isinstance(prepared, PreparedSelect | PreparedUpdate | PreparedDelete)
        for _ in range(3):
            values: dict[str, Any] = {
                name: _random_like(sample, rng) for name, sample in prepared.samples().items()
            }
            prepared.check(**values)


def test_prepared_rows_are_what_the_orm_returns(world: World) -> None:
    query = PreparedSelect(
        lambda user: Membership.objects.select_related("organization", "user")
        .filter(user_id=user)
        .order_by("id"),
        user=int,
    )
    for actor in (world.member, world.admin, world.outsider):
        user = actor.user
        got = query.all(user=user.pk)
        expected = list(
            Membership.objects.select_related("organization", "user")
            .filter(user_id=user.pk)
            .order_by("id")
        )
        assert [(m.pk, m.role, m.organization.title, m.user.email) for m in got] == [
            (m.pk, m.role, m.organization.title, m.user.email) for m in expected
        ]
        assert got and all(m.user_id == user.pk for m in got)
    assert query.all(user=10**9) == []


def test_prepared_annotations_and_values_list() -> None:
    user = User.objects.create_user("p@example.com", "long enough password 1")
    names = PreparedSelect(
        lambda email: User.objects.filter(email=email).values_list("id", "email"), email=str
    )
    assert names.all(email="p@example.com") == [(user.pk, "p@example.com")]
    assert names.all(email="'; DROP TABLE accounts_user; --") == []
    assert User.objects.filter(pk=user.pk).exists()


def test_prepared_update_and_delete(world: World) -> None:
    project = Project.objects.create(organization=world.org, title="P")
    task = Task.objects.create(project=project, data={"text": "x"}, inner_id=1)
    bump = PreparedUpdate(
        lambda pk, n: (Task.objects.filter(pk=pk), {"overlap": F("overlap") + Value(n)}),
        pk=int,
        n=int,
    )
    assert bump.run(pk=task.pk, n=4) == 1
    assert bump.run(pk=10**9, n=4) == 0
    task.refresh_from_db()
    assert task.overlap == 5
    TaskLock.objects.create(
        task=task, project=project, user=world.member.user, expires_at=task.created_at
    )
    drop = PreparedDelete(lambda task: TaskLock.objects.filter(task_id=task), task=int)
    assert drop.run(task=task.pk) == 1
    assert not TaskLock.objects.exists()


def test_values_must_have_the_declared_types() -> None:
    query = PreparedSelect(lambda pk: User.objects.filter(pk=pk)[:1], pk=int)
    with pytest.raises(TypeError):
        query.all(pk="1")
    with pytest.raises(TypeError):
        query.all(pk=True)  # a bool is not an id
    with pytest.raises(TypeError):
        query.all(pk=1, extra=2)
    with pytest.raises(TypeError):
        query.all()
    since = PreparedSelect(lambda t: User.objects.filter(date_joined__gte=t), t=dt.datetime)
    with pytest.raises(TypeError, match="aware"):
        since.all(t=dt.datetime(2026, 1, 1))  # noqa: DTZ001 (the naive value is the point)
    assert since.all(t=dt.datetime(2999, 1, 1, tzinfo=dt.UTC)) == []


def test_queries_whose_shape_depends_on_a_value_are_refused() -> None:
    # An IN list's length is part of the SQL text: not preparable.
    varying = PreparedSelect(lambda n: User.objects.filter(pk__in=list(range(n % 3 + 1))), n=int)
    with pytest.raises(ValueError, match="changes the SQL text"):
        varying.all(n=1)


def test_values_the_orm_transforms_are_refused() -> None:
    # icontains wraps the value in %…%: binding the caller's value as-is would be wrong.
    pattern = PreparedSelect(lambda text: User.objects.filter(email__icontains=text), text=str)
    with pytest.raises(ValueError, match="verbatim"):
        pattern.all(text="a")


def test_deletes_of_rows_with_dependents_are_refused() -> None:
    cascade = PreparedDelete(lambda pk: Task.objects.filter(pk=pk), pk=int)
    with pytest.raises(ValueError, match="dependents"):
        cascade.run(pk=1)


def test_api_token_lookup_is_prepared_and_exact(world: World) -> None:
    from labelkeep.accounts import auth

    token = ApiToken.objects.get(user=world.member.user)
    found = auth._LEGACY.first(key_hash=token.key_hash)
    assert found is not None and found.user.email == world.member.user.email
    assert found.member_role == "annotator"
    assert auth._LEGACY.first(key_hash=token.key_hash[:-1]) is None


def test_prepared_insert_writes_what_save_writes(world: World) -> None:
    from django.db.models.signals import post_save

    from labelkeep.audit.models import AuditEvent
    from labelkeep.db.prepared import PreparedInsert

    insert = PreparedInsert(AuditEvent)
    values = {
        "organization_id": world.org.pk,
        "actor": world.member.user,
        "actor_email": "m@a.example",
        "action": "test.event",
        "target_type": "project",
        "target_id": "7",
        "ip_address": "203.0.113.9",
        "user_agent": "</script>'; DROP TABLE audit_auditevent; --",
        "details": {"nested": [1, "two", None], "quote": 'it\'s "quoted"'},
    }
    prepared = insert.insert(AuditEvent(**values))
    saved = AuditEvent.objects.create(**values)
    assert prepared.pk and prepared.pk != saved.pk and not prepared._state.adding
    fresh, reference = AuditEvent.objects.get(pk=prepared.pk), AuditEvent.objects.get(pk=saved.pk)
    for name in (
        "organization_id",
        "actor_id",
        "actor_email",
        "action",
        "target_type",
        "target_id",
        "ip_address",
        "user_agent",
        "details",
    ):
        assert getattr(fresh, name) == getattr(reference, name), name
    assert fresh.created_at == prepared.created_at  # set by the field's pre_save
    with pytest.raises(ValueError, match="new instances"):
        insert.insert(prepared)

    def listener(**kwargs: object) -> None:
        raise AssertionError("not reached")

    post_save.connect(listener, sender=AuditEvent)
    try:
        with pytest.raises(ValueError, match="receivers"):
            insert.insert(AuditEvent(**values))
    finally:
        post_save.disconnect(listener, sender=AuditEvent)

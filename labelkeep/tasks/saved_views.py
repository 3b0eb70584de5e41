"""Saved views: Data Manager tabs that keep filters and ordering over a project's tasks.

A view belongs to a project and is shared by everyone who may see the project: they read
its views, save new ones, and list tasks through one (`api/tasks/?view=`). Its author or a
manager changes or deletes it; managers reorder and reset a project's views.

What a view filters on is checked when it is saved, so a view never holds what the task
list would refuse, and again whenever it is used, for the person using it: an annotator
using a view whose `annotators` filter names someone else gets the task list's 400.
Everything else in `data` (title, columns shown, widths) is the client's to keep, within
a size limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions

from labelkeep.accounts.models import User
from labelkeep.accounts.roles import Perm, Role, has_perm
from labelkeep.api.fields import Unstorable, storable_text
from labelkeep.audit.services import Origin, record
from labelkeep.projects.models import Project
from labelkeep.tasks import filters
from labelkeep.tasks.access import may_change_authored
from labelkeep.tasks.models import SavedView
from labelkeep.tasks.serializers import timestamp

MAX_VIEWS = 100  # per project
MAX_DATA_BYTES = 64 * 1024  # a view's `data`, as compact JSON
MAX_TITLE = 200
QUERY_KEYS = ("filters", "ordering", "selectedItems")


@dataclass(frozen=True)
class ViewQuery:
    """What a view asks of the task list, read for one caller: its filters, and its
    selection (`selectedItems`). Its ordering is checked, not kept: nothing that reads
    a view through this orders by it."""

    condition: Q | None
    selection: Q | None

    @property
    def matching(self) -> Q | None:
        """The tasks the view keeps: its filters and its selection together."""
        if self.condition is None or self.selection is None:
            return self.selection if self.condition is None else self.condition
        return self.condition & self.selection


def visible_views(user: User, role: Role) -> QuerySet[SavedView]:
    return SavedView.objects.filter(
        project__in=Project.objects.visible_to(user, role).values("pk")
    ).select_related("project")


def get_view_for(user: User, role: Role, pk: int) -> SavedView:
    view = visible_views(user, role).filter(pk=pk).first()
    if view is None:
        raise Http404("View not found.")
    return view


def may_change(user: User, role: Role, view: SavedView) -> bool:
    return may_change_authored(user, role, view.user_id)


def may_manage(role: Role) -> bool:
    """Reordering or resetting a project's views changes everyone's tabs: managers only."""
    return has_perm(role, Perm.PROJECTS_MANAGE)


def rekeyed(exc: exceptions.ValidationError, field: str) -> exceptions.ValidationError:
    """The task list's refusals name the field `query`; for a view, it is `field`."""
    detail = exc.detail
    if isinstance(detail, dict):
        messages = [str(m) for value in detail.values() for m in _as_list(value)]
    else:
        messages = [str(m) for m in _as_list(detail)]
    return exceptions.ValidationError({field: messages})


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def query_of(view: SavedView) -> dict[str, Any]:
    """The part of a view's data the task list reads, as its `query` parameter holds it."""
    data = view.data if isinstance(view.data, dict) else {}
    return {key: data[key] for key in QUERY_KEYS if key in data}


def read_query(data: Mapping[str, Any], scope: filters.Scope, field: str = "data") -> ViewQuery:
    """A view's filters, ordering and selection as the task list applies them; refusals
    name `field`."""
    try:
        if data.get("ordering"):
            filters.ordering(data["ordering"], "query")
        return ViewQuery(
            condition=filters.conditions(data.get("filters"), scope),
            selection=filters.selected(data.get("selectedItems")),
        )
    except exceptions.ValidationError as exc:
        raise rekeyed(exc, field) from None


def checked_data(raw: Any, scope: filters.Scope) -> dict[str, Any]:
    """`raw` when it is a view's data the task list can use and a database can store."""
    if not isinstance(raw, dict):
        raise exceptions.ValidationError(
            {"data": ["Give a JSON object: {title, filters, ordering, …}."]}
        )
    try:
        size = len(storable_text(raw).encode())
    except Unstorable as exc:
        raise exceptions.ValidationError({"data": [f"The view {exc}"]}) from None
    if size > MAX_DATA_BYTES:
        raise exceptions.ValidationError(
            {"data": [f"At most {MAX_DATA_BYTES // 1024} KB of view settings."]}
        )
    title = raw.get("title")
    if title is not None and (not isinstance(title, str) or len(title) > MAX_TITLE):
        raise exceptions.ValidationError(
            {"data": [f"title: text of at most {MAX_TITLE} characters."]}
        )
    read_query(raw, scope)
    return raw


def _audit(action: str, view: SavedView, actor: User, origin: Origin, **details: Any) -> None:
    record(
        action,
        actor=actor,
        origin=origin,
        organization_id=view.project.organization_id,
        target=view.project,
        view=view.pk,
        **details,
    )


def create_view(
    project: Project, data: dict[str, Any], *, actor: User, origin: Origin
) -> SavedView:
    """Save a new view as the project's last tab."""
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)  # one count at a time
        views = SavedView.objects.filter(project=locked)
        if views.count() >= MAX_VIEWS:
            raise exceptions.ValidationError(
                {"project": [f"A project keeps at most {MAX_VIEWS} views; delete one first."]}
            )
        last = views.aggregate(last=Max("order"))["last"]
        view = SavedView.objects.create(
            project=locked, user=actor, data=data, order=0 if last is None else last + 1
        )
        _audit("view.create", view, actor, origin)
    return view


def update_view(view: SavedView, data: dict[str, Any], *, actor: User, origin: Origin) -> SavedView:
    """Replace the view's data; Http404 when it was deleted since the caller read it."""
    with transaction.atomic():
        view.data, view.updated_at = data, timezone.now()
        if not SavedView.objects.filter(pk=view.pk).update(data=data, updated_at=view.updated_at):
            raise Http404("The view was deleted meanwhile.")
        _audit("view.update", view, actor, origin)
    return view


def delete_view(view: SavedView, *, actor: User, origin: Origin) -> None:
    """Delete the view; Http404 when another request deleted it first."""
    with transaction.atomic():
        deleted, _ = SavedView.objects.filter(pk=view.pk).delete()
        if not deleted:
            raise Http404("The view was deleted meanwhile.")
        _audit("view.delete", view, actor, origin)


def delete_project_views(project: Project, *, actor: User, origin: Origin) -> int:
    """Delete every view of the project; how many (none: nothing is audited)."""
    with transaction.atomic():
        deleted, _ = SavedView.objects.filter(project=project).delete()
        if not deleted:
            return 0
        record(
            "view.reset",
            actor=actor,
            origin=origin,
            organization_id=project.organization_id,
            target=project,
            deleted=deleted,
        )
    return deleted


def reorder_views(project: Project, ids: Sequence[int], *, actor: User, origin: Origin) -> None:
    """Put the listed views first, in the order given; the others follow in their order."""
    with transaction.atomic():
        views = list(
            SavedView.objects.select_for_update()
            .filter(project=project)
            .order_by("order", "id")
            .values_list("id", flat=True)
        )
        unknown = sorted(set(ids) - set(views))
        if unknown:
            raise exceptions.ValidationError(
                {"ids": [f"Not views of this project: {unknown[:20]}."]}
            )
        listed = list(dict.fromkeys(ids))
        chosen = set(listed)
        rest = [pk for pk in views if pk not in chosen]
        for position, pk in enumerate([*listed, *rest]):
            SavedView.objects.filter(pk=pk).exclude(order=position).update(order=position)
        record(
            "view.reorder",
            actor=actor,
            origin=origin,
            organization_id=project.organization_id,
            target=project,
            ids=listed,
        )


COLUMNS = ("id", "project_id", "user_id", "order", "data", "created_at", "updated_at")


def view_json(view: SavedView) -> dict[str, Any]:
    return view_row_json({name: getattr(view, name) for name in COLUMNS})


def view_row_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A view (a row of COLUMNS) as the API answers it."""
    data = row["data"] if isinstance(row["data"], dict) else {}
    ordering = data.get("ordering") or []
    return {
        "id": row["id"],
        "project": row["project_id"],
        "user": row["user_id"],
        "order": row["order"],
        "data": data,
        "ordering": [ordering] if isinstance(ordering, str) else ordering,
        "selected_items": data.get("selectedItems"),
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
    }

"""ORM queries compiled to SQL once and run many times with new parameter values.

Django compiles every queryset afresh on every evaluation; for the small lookups on the
hottest paths (the API key, the task a request names, a task's counters) compiling costs
several times what running the query does. A prepared query is still written with the
ORM: its builder returns the queryset, which is compiled once per database alias with
sample values, and later calls reuse that SQL text with the caller's values bound in the
same places. No SQL is written or assembled by hand here.

Only parameters the ORM passes through unchanged are allowed (ints and strings compared
with `=`, `<`, `IN (subquery)`…, and aware datetimes, bound as the backend adapts them):
preparing fails loudly if a sample value does not reappear verbatim among the compiled
parameters, if changing it changes the SQL text, or if the query's other parameters move
with it. `check()` compares a prepared query with a fresh compilation for given values;
the tests run it for every prepared query. `PreparedInsert` (at the end) is the one-row
INSERT counterpart.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from django.db import connections
from django.db.models import Model, QuerySet, signals
from django.db.models.sql import DeleteQuery, InsertQuery, Query, UpdateQuery
from django.db.models.sql.compiler import SQLCompiler

T = TypeVar("T")

Kind = type[int] | type[str] | type[dt.datetime]

_REGISTRY: list[PreparedBase] = []


def registered() -> list[PreparedBase]:
    """Every prepared query defined so far (for the equivalence tests)."""
    return list(_REGISTRY)


def _sample(kind: Kind, index: int, variant: int) -> int | str | dt.datetime:
    if kind is int:
        return 1_900_000_000 + index * 1_000 + variant
    if kind is dt.datetime:
        return dt.datetime(2001, 2, 3, tzinfo=dt.UTC) + dt.timedelta(days=index, seconds=variant)
    return f"prepared-sample-{index}-{variant}"


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[str, tuple[int, ...]], ...]
    state: Mapping[str, Any]
    # Row converters of a select, per connection (they are the backend's bound methods).
    converters: weakref.WeakKeyDictionary[Any, Any] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    def bind(self, values: Mapping[str, Any]) -> list[Any]:
        params = list(self.params)
        for name, positions in self.slots:
            for position in positions:
                params[position] = values[name]
        return params


class PreparedBase:
    """Shared by prepared selects and updates: sampling, slot discovery, type checks."""

    def __init__(self, kinds: Mapping[str, Kind]) -> None:
        self._kinds = dict(kinds)
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()
        _REGISTRY.append(self)

    def _compile_with(
        self, values: Mapping[str, Any], using: str
    ) -> tuple[str, tuple[Any, ...], Any]:
        raise NotImplementedError

    def samples(self, variant: int = 0) -> dict[str, Any]:
        return {
            name: _sample(kind, i, variant) for i, (name, kind) in enumerate(self._kinds.items())
        }

    def _prepare(self, using: str) -> _Compiled:
        base = self.samples()
        adapted = self._adapted(base, using)
        sql, params, state = self._compile_with(base, using)
        slots = []
        claimed: set[int] = set()
        for name in self._kinds:
            other = {**base, name: self.samples(1)[name]}
            other_sql, other_params, _ = self._compile_with(other, using)
            if other_sql != sql or len(other_params) != len(params):
                raise ValueError(f"{self!r}: changing {name!r} changes the SQL text")
            moved = tuple(
                i for i, (a, b) in enumerate(zip(params, other_params, strict=False)) if a != b
            )
            # A value may go unused (one shape of a family of queries ignores it).
            if any(params[i] != adapted[name] for i in moved):
                raise ValueError(f"{self!r}: {name!r} is not passed through verbatim")
            if claimed & set(moved):
                raise ValueError(f"{self!r}: {name!r} shares a parameter with another value")
            claimed.update(moved)
            slots.append((name, moved))
        return _Compiled(sql, tuple(params), tuple(slots), state)

    def compiled(self, using: str = "default") -> _Compiled:
        found = self._compiled.get(using)
        if found is None:
            with self._lock:
                found = self._compiled.get(using)
                if found is None:
                    found = self._compiled[using] = self._prepare(using)
        return found

    def _values(self, given: Mapping[str, Any]) -> Mapping[str, Any]:
        if given.keys() != self._kinds.keys():
            raise TypeError(f"{self!r} takes {sorted(self._kinds)}, got {sorted(given)}")
        for name, value in given.items():
            # bool is an int subclass, and would bind as 1/0 where a string is expected.
            if type(value) is not self._kinds[name]:
                raise TypeError(f"{self!r}: {name} must be {self._kinds[name].__name__}")
            if type(value) is dt.datetime and value.tzinfo is None:
                raise TypeError(f"{self!r}: {name} must be an aware datetime")
        return given

    def _adapted(self, values: Mapping[str, Any], using: str) -> Mapping[str, Any]:
        """Values as the backend binds them: datetimes as its datetime fields store them."""
        if not any(kind is dt.datetime for kind in self._kinds.values()):
            return values
        ops = connections[using].ops
        return {
            name: ops.adapt_datetimefield_value(value) if type(value) is dt.datetime else value
            for name, value in values.items()
        }

    def check(self, using: str = "default", **values: Any) -> None:
        """Raise AssertionError unless the prepared SQL and parameters for `values` are
        what Django compiles for them afresh."""
        compiled = self.compiled(using)
        sql, params, _ = self._compile_with(self._values(values), using)
        if (sql, list(params)) != (compiled.sql, compiled.bind(self._adapted(values, using))):
            raise AssertionError(f"{self!r} differs from a fresh compilation for {values}")


class _PreparedQuery(Query):
    """A Query whose compiler skips compilation and uses the prepared SQL."""

    prepared: tuple[_Compiled, list[Any]]

    def get_compiler(
        self, using: str | None = None, connection: Any = None, elide_empty: bool = True
    ) -> SQLCompiler:
        compiler: Any = super().get_compiler(using, connection, elide_empty)
        compiled, params = self.prepared
        compiler.__dict__.update(compiled.state)
        sql = compiled.sql
        compiler.as_sql = lambda *args, **kwargs: (sql, params)
        converters = compiled.converters.get(compiler.connection)
        if converters is None:
            columns = [column[0] for column in compiler.select[: compiler.col_count]]
            converters = compiled.converters[compiler.connection] = compiler.get_converters(columns)
        compiler.get_converters = lambda expressions: converters
        return cast(SQLCompiler, compiler)


_COMPILER_STATE = ("select", "klass_info", "annotation_col_map", "col_count", "has_extra_select")


class PreparedSelect(PreparedBase, Generic[T]):
    """`PreparedSelect(lambda pk: Task.objects.filter(pk=pk)[:1], pk=int).all(pk=5)`.

    The builder must give the same query shape for every value (slice and order inside
    the builder; `.first()` on a result is not available)."""

    def __init__(self, build: Callable[..., QuerySet[Any, T]], **kinds: Kind) -> None:
        super().__init__(kinds)
        self._build = build
        self._templates: dict[str, QuerySet[Any, T]] = {}

    def __repr__(self) -> str:
        return f"PreparedSelect({self._build.__qualname__})"

    def _compile_with(
        self, values: Mapping[str, Any], using: str
    ) -> tuple[str, tuple[Any, ...], Any]:
        queryset = self._build(**values)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        state = {name: getattr(compiler, name) for name in _COMPILER_STATE}
        if queryset.query.__class__ is Query:
            queryset.query.__class__ = _PreparedQuery
        self._templates.setdefault(using, queryset)
        return sql, tuple(params), state

    def all(self, using: str = "default", **values: Any) -> list[T]:
        compiled = self.compiled(using)
        params = compiled.bind(self._adapted(self._values(values), using))
        queryset: Any = self._templates[using]._chain()  # type: ignore[attr-defined]
        if queryset.query.__class__ is not _PreparedQuery:
            raise TypeError(f"{self!r}: only plain queries can be prepared")
        queryset.query.prepared = (compiled, params)
        return list(queryset)

    def first(self, using: str = "default", **values: Any) -> T | None:
        rows = self.all(using, **values)
        return rows[0] if rows else None


class _Statement(PreparedBase):
    """An UPDATE or DELETE: run it, get the row count."""

    def run(self, using: str = "default", **values: Any) -> int:
        compiled = self.compiled(using)
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, compiled.bind(self._adapted(self._values(values), using)))
            return int(cursor.rowcount)


class PreparedUpdate(_Statement):
    """`PreparedUpdate(lambda pk, n: (Task.objects.filter(pk=pk), {"overlap": Value(n)}),
    pk=int, n=int).run(pk=5, n=2)`: an UPDATE of the builder's rows; returns the row count."""

    def __init__(
        self, build: Callable[..., tuple[QuerySet[Any], Mapping[str, Any]]], **kinds: Kind
    ) -> None:
        super().__init__(kinds)
        self._build = build

    def __repr__(self) -> str:
        return f"PreparedUpdate({self._build.__qualname__})"

    def _compile_with(
        self, values: Mapping[str, Any], using: str
    ) -> tuple[str, tuple[Any, ...], Any]:
        queryset, changes = self._build(**values)
        query = cast(UpdateQuery, queryset.query.chain(UpdateQuery))
        query.add_update_values(dict(changes))
        sql, params = query.get_compiler(using=using).as_sql()
        if query.related_updates:
            raise ValueError(f"{self!r}: only single-table updates can be prepared")
        return sql, tuple(params), {}


class PreparedDelete(_Statement):
    """`PreparedDelete(lambda pk: TaskLock.objects.filter(task_id=pk), pk=int).run(pk=5)`: a
    plain DELETE of the builder's rows, for models nothing cascades to and no signal
    watches (it skips Django's collector); returns the row count."""

    def __init__(self, build: Callable[..., QuerySet[Any]], **kinds: Kind) -> None:
        super().__init__(kinds)
        self._build = build

    def __repr__(self) -> str:
        return f"PreparedDelete({self._build.__qualname__})"

    def _compile_with(
        self, values: Mapping[str, Any], using: str
    ) -> tuple[str, tuple[Any, ...], Any]:
        queryset = self._build(**values)
        if queryset.model._meta.related_objects:
            raise ValueError(f"{self!r}: rows of {queryset.model.__name__} have dependents")
        query = queryset.query.chain(DeleteQuery)
        sql, params = query.get_compiler(using=using).as_sql()
        return sql, tuple(params), {}


M = TypeVar("M", bound=Model)


class PreparedInsert(Generic[M]):
    """`PreparedInsert(AuditEvent).insert(event)`: INSERT … RETURNING id of one new instance
    with every concrete field, its SQL compiled once per alias. The values come from each
    field's own `pre_save` and `get_db_prep_save`, as in `Model.save()`; the instance gets
    its id and leaves the "adding" state. It sends no save signals, so it refuses models
    that have save receivers."""

    def __init__(self, model: type[M]) -> None:
        self._model = model
        meta = model._meta
        self._fields = [f for f in meta.local_concrete_fields if not f.primary_key]
        self._sql: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"PreparedInsert({self._model.__name__})"

    def sql(self, using: str = "default") -> str:
        found = self._sql.get(using)
        if found is None:
            connection = connections[using]
            if not connection.features.can_return_columns_from_insert:
                raise ValueError(f"{self!r}: the database cannot return the new id")
            query = InsertQuery(self._model)
            query.insert_values(self._fields, [self._model()])
            compiler: Any = query.get_compiler(using=using)
            compiler.returning_fields = [self._model._meta.pk]
            ((found, _),) = compiler.as_sql()
            if compiler.returning_params:
                raise ValueError(f"{self!r}: the backend returns ids through parameters")
            self._sql[using] = found
        return found

    def insert(self, obj: M, using: str = "default") -> M:
        if signals.pre_save.has_listeners(self._model) or signals.post_save.has_listeners(
            self._model
        ):
            raise ValueError(f"{self!r}: the model has save receivers; use save()")
        if obj.pk is not None:
            raise ValueError(f"{self!r}: inserts new instances only")
        connection = connections[using]
        sql = self.sql(using)
        params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in self._fields]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            (new_id,) = connection.ops.fetch_returned_insert_columns(cursor, ())
        obj.pk = new_id
        obj._state.adding = False
        obj._state.db = using
        return obj

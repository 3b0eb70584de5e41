"""Which tasks need more than one annotation: a project's `maximum_annotations` for its
`overlap_cohort_percentage` of tasks, one for the rest.

The cohort is spread evenly by `inner_id` (the task's number within its project): task n
is in it when ⌊n·p/100⌋ > ⌊(n-1)·p/100⌋, so any run of 100 consecutive numbers holds p
of its tasks, and a task keeps its place in (or out of) the cohort as tasks are added. The
rule is written twice, for Python (new rows) and SQL (rows already stored); tests check
that both agree."""

from __future__ import annotations

from django.db.models import BigIntegerField, Case, ExpressionWrapper, F, Value, When
from django.db.models.expressions import Combinable, CombinedExpression
from django.db.models.lookups import GreaterThan

ALL = 100


def in_cohort(inner_id: int, percentage: int) -> bool:
    return inner_id * percentage // ALL > (inner_id - 1) * percentage // ALL


def task_overlap(inner_id: int, maximum: int, percentage: int) -> int:
    """The overlap a task numbered `inner_id` gets from its project's settings."""
    if maximum == 1 or percentage >= ALL or in_cohort(inner_id, percentage):
        return maximum
    return 1


def task_overlaps(first: int, count: int, maximum: int, percentage: int) -> list[int]:
    """task_overlap for `count` tasks numbered from `first`; one list repeat when every
    task gets the maximum (no cohort), as in most projects."""
    if maximum == 1 or percentage >= ALL:
        return [maximum] * count
    return [task_overlap(first + i, maximum, percentage) for i in range(count)]


def _share(number: Combinable, percentage: int) -> ExpressionWrapper[CombinedExpression]:
    """⌊number·p/100⌋: integer division on both databases, every operand an integer."""
    return ExpressionWrapper(
        number * Value(percentage) / Value(ALL), output_field=BigIntegerField()
    )


def overlap_expression(maximum: int, percentage: int) -> Case | Value:
    """task_overlap as an SQL expression over the task's row."""
    if maximum == 1 or percentage >= ALL:
        return Value(maximum)
    previous = ExpressionWrapper(F("inner_id") - Value(1), output_field=BigIntegerField())
    cohort: GreaterThan[int] = GreaterThan(
        _share(F("inner_id"), percentage), _share(previous, percentage)
    )
    return Case(When(cohort, then=Value(maximum)), default=Value(1))

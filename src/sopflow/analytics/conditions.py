"""Conditions on event properties, one rule for ``--where`` and for playbook stages' ``where``.

- ``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=``: when the condition's value reads as a number, both sides
  compare as numbers, and a property that is missing or not a number fails, whatever the operator (``!=``
  included), as a missing value fails every comparison in SQL; otherwise both sides compare as text.
- ``in``: equal (as above) to any of the values; ``contains``: the text contains any of the values.
  A list given to a comparison holds when the comparison holds for any of its values.
- A missing or empty property fails every condition (the importer stores an empty cell as missing).
- Values from a playbook are YAML scalars, written as events carry them: ``true``/``false`` for booleans,
  ``99`` for ``99.0``.

A condition is decided once per distinct value of a column (its dictionary), then looked up per row.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sopflow.analytics.frame import Coded, PersonFrame

if TYPE_CHECKING:
    from sopflow.playbook.model import Condition as PlaybookCondition

Scalar = str | int | float | bool
OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "in", "contains")

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def scalar_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Condition:
    """``prop op value``; ``value`` one scalar or a tuple of them (plain data: cheap to ship to executors)."""

    prop: str
    op: str
    value: Scalar | tuple[Scalar, ...]

    @property
    def values(self) -> tuple[str, ...]:
        raw = self.value if isinstance(self.value, tuple) else (self.value,)
        return tuple(scalar_text(v) for v in raw)

    def __str__(self) -> str:
        joined = ",".join(self.values)
        return (
            f"{self.prop} {self.op} {joined}"
            if self.op in ("in", "contains")
            else f"{self.prop}{self.op}{joined}"
        )


def _compare(op: str, seen: str, wanted: str) -> bool:
    number = _number(wanted)
    if number is None:
        return _COMPARE[op](seen, wanted)
    value = _number(seen)
    return value is not None and _COMPARE[op](value, number)


def holds(condition: Condition, seen: str | None) -> bool:
    if not seen:
        return False
    if condition.op == "contains":
        return any(w in seen for w in condition.values)
    op = "=" if condition.op == "in" else condition.op
    return any(_compare(op, seen, w) for w in condition.values)


def rows_holding(condition: Condition, column: Coded) -> np.ndarray:
    """A bool per row of ``column``: does the row's value satisfy ``condition``?"""
    per_value = np.array([holds(condition, v) for v in column.values] + [False], dtype=bool)
    decided: np.ndarray = per_value[np.asarray(column.codes)]  # code -1 picks the last entry: missing
    return decided


def from_playbook(conditions: Sequence[PlaybookCondition]) -> tuple[Condition, ...]:
    """A playbook stage's ``where`` as plain conditions."""
    out = []
    for c in conditions:
        value = tuple(c.value) if isinstance(c.value, list) else c.value
        out.append(Condition(c.property, c.op, value))
    return tuple(out)


def stage_rows(frame: PersonFrame, *, event: str, conditions: Sequence[Condition]) -> np.ndarray:
    """A bool per row: is it ``event`` with every condition holding?"""
    keep = np.asarray(np.asarray(frame.event) == frame.event_code(event), dtype=bool)
    for condition in conditions:
        keep &= rows_holding(condition, frame.columns[condition.prop])
    return keep

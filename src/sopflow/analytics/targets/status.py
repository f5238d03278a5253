"""A target against its actual value: gap and status.

- ``gap`` = actual − expected; ``relative_gap`` = gap ÷ |expected| (null when expected is 0).
- ``status``: ``met`` when the actual reaches the target in its direction (``at_least``: actual ≥ expected;
  ``at_most``: actual ≤ expected); ``near`` when it misses by at most the target's ``tolerance`` (relative,
  "still on track" in the playbook's words); ``missed`` otherwise; ``no_data`` when the data give no value
  (e.g. a rate whose denominator is 0).
- ``shortfall``: how far behind, relative to |expected| (positive: behind; used to rank findings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sopflow.playbook.model import Target, parse_metric

Status = Literal["met", "near", "missed", "no_data"]
STATUSES: tuple[Status, ...] = ("met", "near", "missed", "no_data")
# Values equal to the target up to float noise count as reaching it (as the plan's check does).
_REL_EPSILON = 1e-9


@dataclass(frozen=True)
class TargetResult:
    id: str
    name: str
    metric: str
    direction: str
    tolerance: float
    expected: float
    planned: float | None
    actual: float | None
    gap: float | None
    relative_gap: float | None
    status: Status

    @property
    def shortfall(self) -> float | None:
        if self.relative_gap is None:
            return None
        return -self.relative_gap if self.direction == "at_least" else self.relative_gap


def check_target(target: Target, *, actual: float | None, planned: float | None) -> TargetResult:
    parsed = parse_metric(target.metric)
    metric = str(parsed) if parsed else target.metric
    direction = target.effective_direction()
    expected = target.expected
    gap = None if actual is None else actual - expected
    relative = None if gap is None or expected == 0 else gap / abs(expected)
    return TargetResult(
        id=target.id,
        name=target.name,
        metric=metric,
        direction=direction,
        tolerance=target.tolerance,
        expected=expected,
        planned=planned,
        actual=actual,
        gap=gap,
        relative_gap=relative,
        status=_status(actual, expected, direction, target.tolerance),
    )


def _status(actual: float | None, expected: float, direction: str, tolerance: float) -> Status:
    if actual is None:
        return "no_data"
    slack = _REL_EPSILON * max(abs(expected), abs(actual), 1.0)
    allowed = tolerance * abs(expected)
    behind = expected - actual if direction == "at_least" else actual - expected
    if behind <= slack:
        return "met"
    return "near" if behind <= allowed + slack else "missed"

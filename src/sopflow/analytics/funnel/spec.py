"""What a funnel asks: steps, conditions, window, order, entry rule, exclusions, breakdown and range.

Parsing of the command-line forms lives here too, each error naming the option and the offending text:
``--where 'pay:amount>=99'`` (STEP is a step name or a 1-based step number), ``--exclude 'refund:3-4'``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sopflow.analytics.conditions import Condition
from sopflow.analytics.timerange import TimeRange
from sopflow.errors import InvalidInput
from sopflow.i18n import N_, _

Order = Literal["ordered", "strict", "unordered"]
Entry = Literal["any", "first"]
ORDERS: tuple[Order, ...] = ("ordered", "strict", "unordered")
ENTRIES: tuple[Entry, ...] = ("any", "first")
OPERATORS = (">=", "<=", "!=", "=", ">", "<")
MAX_STEPS = 20
# Shown in headings, translated there.
LABELS = (N_("ordered"), N_("strict"), N_("unordered"), N_("any"), N_("first"), N_("day"), N_("week"))
MAX_EXCLUSIONS = 32

_WHERE = re.compile(
    r"^\s*(?P<step>[^:]+?)\s*:\s*(?P<prop>[^<>=!]+?)\s*(?P<op>>=|<=|!=|=|>|<)\s*(?P<value>.*?)\s*$"
)
_EXCLUDE = re.compile(r"^\s*(?P<event>.+?)\s*:\s*(?P<start>\d+)\s*-\s*(?P<end>\d+)\s*$")


@dataclass(frozen=True)
class Exclusion:
    """``event`` between step ``start`` and step ``end`` (1-based) discards the attempt."""

    event: str
    start: int
    end: int


@dataclass(frozen=True)
class FunnelSpec:
    steps: tuple[str, ...]
    window_us: int
    order: Order = "ordered"
    entry: Entry = "any"
    where: tuple[tuple[Condition, ...], ...] = ()  # per step (0-based), empty: no condition
    exclusions: tuple[Exclusion, ...] = ()
    by: str | None = None
    top: int = 10
    range: TimeRange | None = None
    trend: Literal["day", "week"] | None = None
    histogram: bool = False
    dropped_at: int | None = None

    def conditions(self, index: int) -> tuple[Condition, ...]:
        return self.where[index] if index < len(self.where) else ()


def parse_steps(text: str) -> tuple[str, ...]:
    steps = tuple(s.strip() for s in text.split(","))
    if not text.strip() or any(not s for s in steps):
        raise InvalidInput(_("--steps: give event names separated by commas, e.g. visit,signup,pay"))
    if len(steps) > MAX_STEPS:
        raise InvalidInput(_("--steps: at most {n} steps", n=MAX_STEPS))
    return steps


def parse_where(items: list[str], steps: tuple[str, ...]) -> tuple[tuple[Condition, ...], ...]:
    per_step: list[list[Condition]] = [[] for _ in steps]
    for item in items:
        match = _WHERE.match(item)
        if not match:
            raise InvalidInput(
                _("--where {item!r}: write STEP:property OP value, e.g. pay:amount>=99", item=item)
            )
        condition = Condition(match["prop"], match["op"], _unquote(match["value"]))
        for index in _step_indexes(match["step"], steps, item):
            per_step[index].append(condition)
    return tuple(tuple(c) for c in per_step)


def _step_indexes(step: str, steps: tuple[str, ...], item: str) -> list[int]:
    if step.isdigit():
        number = int(step)
        if not 1 <= number <= len(steps):
            raise InvalidInput(
                _(
                    "--where {item!r}: step {number} does not exist (1 to {n})",
                    item=item,
                    number=number,
                    n=len(steps),
                )
            )
        return [number - 1]
    found = [i for i, name in enumerate(steps) if name == step]
    if not found:
        raise InvalidInput(
            _(
                "--where {item!r}: {step!r} is not one of the steps ({steps})",
                item=item,
                step=step,
                steps=",".join(steps),
            )
        )
    return found


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_exclusions(items: list[str], steps: tuple[str, ...]) -> tuple[Exclusion, ...]:
    found = []
    for item in items:
        match = _EXCLUDE.match(item)
        if not match:
            raise InvalidInput(_("--exclude {item!r}: write EVENT:i-j, e.g. refund:3-4", item=item))
        start, end = int(match["start"]), int(match["end"])
        if not 1 <= start < end <= len(steps):
            raise InvalidInput(
                _(
                    "--exclude {item!r}: need 1 <= i < j <= {n} (the steps are numbered from 1)",
                    item=item,
                    n=len(steps),
                )
            )
        found.append(Exclusion(match["event"], start, end))
    if len(found) > MAX_EXCLUSIONS:
        raise InvalidInput(_("--exclude: at most {n} exclusions", n=MAX_EXCLUSIONS))
    return tuple(found)


def check_spec(spec: FunnelSpec) -> None:
    if spec.order not in ORDERS:
        raise InvalidInput(_("--order: choose one of {choices}", choices=", ".join(ORDERS)))
    if spec.entry not in ENTRIES:
        raise InvalidInput(_("--entry: choose one of {choices}", choices=", ".join(ENTRIES)))
    if spec.exclusions and spec.order == "unordered":
        raise InvalidInput(
            _("--exclude needs an ordered or strict funnel: unordered steps have no order to exclude between")
        )
    if spec.top < 1:
        raise InvalidInput(_("--top must be at least 1"))
    if spec.dropped_at is not None and not 2 <= spec.dropped_at <= len(spec.steps):
        raise InvalidInput(
            _(
                "--dropped-at: choose a step from 2 to {n} (the persons who reached the step before it)",
                n=len(spec.steps),
            )
        )

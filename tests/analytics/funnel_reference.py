"""A slow, obviously-correct funnel, written straight from the rules in docs/funnels.md.

Nothing here is shared with the product: every engine's answer is checked against this one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

BOOKKEEPING = {"$identify", "$set", "$create_alias"}
CANONICAL = {
    "event_id",
    "event",
    "user_id",
    "channel",
    "campaign",
    "step",
    "variant",
    "inviter_id",
    "currency",
}


@dataclass(frozen=True)
class Ev:
    person: str
    ts: int  # µs
    event: str
    channel: str | None = None
    props: dict[str, Any] = field(default_factory=dict)
    uid: int = 0  # tells equal-looking events apart

    def value(self, prop: str) -> str | None:
        if prop == "event":
            return self.event
        if prop == "user_id":
            return self.person
        if prop == "channel":
            return self.channel
        if prop in CANONICAL:
            return None
        raw = self.props.get(prop)
        if raw is None:
            return None
        if isinstance(raw, bool):
            return "true" if raw else "false"
        return str(raw)


@dataclass(frozen=True)
class Spec:
    steps: tuple[str, ...]
    window: int  # µs
    order: str = "ordered"
    entry: str = "any"
    where: tuple[tuple[str, str, str, str], ...] = ()  # (step name or 1-based number, prop, op, value)
    exclusions: tuple[tuple[str, int, int], ...] = ()
    by: str | None = None
    start: int | None = None
    end: int | None = None


def holds(op: str, seen: str | None, wanted: str) -> bool:
    if seen is None or seen == "":
        return False
    try:
        number = float(wanted)
        numeric = math.isfinite(number)
    except ValueError:
        numeric = False
    if numeric:
        try:
            left: Any = float(seen)
        except ValueError:
            return False
        if not math.isfinite(left):
            return False
        right: Any = number
    else:
        left, right = seen, wanted
    return bool(
        {
            "=": left == right,
            "!=": left != right,
            ">": left > right,
            ">=": left >= right,
            "<": left < right,
            "<=": left <= right,
        }[op]
    )


def fills(spec: Spec, e: Ev, k: int) -> bool:
    if e.event != spec.steps[k]:
        return False
    for step, prop, op, value in spec.where:
        applies = int(step) - 1 == k if step.isdigit() else step == spec.steps[k]
        if applies and not holds(op, e.value(prop), value):
            return False
    return True


def mask(spec: Spec, e: Ev) -> int:
    return sum(1 << k for k in range(len(spec.steps)) if fills(spec, e, k))


def in_range(spec: Spec, ts: int) -> bool:
    return (spec.start is None or ts >= spec.start) and (spec.end is None or ts < spec.end)


def breakdown_key(spec: Spec, e: Ev) -> tuple[int, str]:
    value = e.value(spec.by) if spec.by else None
    return (0, "") if not value else (1, value)


@dataclass
class Attempt:
    level: int
    entry: Ev
    times: list[int]


def ordered_attempt(spec: Spec, events: list[Ev], entry: Ev) -> Attempt | None:
    deadline = entry.ts + spec.window
    used = [entry]
    times = [entry.ts]
    prev = entry
    for k in range(1, len(spec.steps)):
        candidates = [
            x
            for x in events
            if fills(spec, x, k) and all(x is not u for u in used) and prev.ts <= x.ts <= deadline
        ]
        if not candidates:
            break
        chosen = min(candidates, key=lambda x: (x.ts, mask(spec, x)))
        if spec.order == "strict" and any(
            prev.ts < x.ts < chosen.ts and x.event not in BOOKKEEPING and not fills(spec, x, k - 1)
            for x in events
        ):
            break
        used.append(chosen)
        times.append(chosen.ts)
        prev = chosen
    level = len(times)
    for name, i, j in spec.exclusions:
        if level < i:
            continue
        after = times[i - 1]
        for x in events:
            if x.event != name or x.ts <= after:
                continue
            if (level >= j and x.ts < times[j - 1]) or (level < j and x.ts <= deadline):
                return None
    return Attempt(level, entry, times)


def max_matching(spec: Spec, window_events: list[Ev]) -> int:
    n = len(spec.steps)

    def best(k: int, used: frozenset[int]) -> int:
        if k == n:
            return 0
        result = best(k + 1, used)
        for i, x in enumerate(window_events):
            if i not in used and fills(spec, x, k):
                result = max(result, 1 + best(k + 1, used | {i}))
        return result

    return best(0, frozenset())


def person_attempt(spec: Spec, events: list[Ev]) -> Attempt | None:
    unordered = spec.order == "unordered"
    entries = [
        e for e in events if in_range(spec, e.ts) and (mask(spec, e) if unordered else fills(spec, e, 0))
    ]
    if spec.entry == "first" and entries:
        first = min(e.ts for e in entries)
        entries = [e for e in entries if e.ts == first]
    attempts: list[Attempt] = []
    for e in entries:
        if unordered:
            inside = [x for x in events if e.ts <= x.ts <= e.ts + spec.window]
            attempts.append(Attempt(max_matching(spec, inside), e, []))
        else:
            attempt = ordered_attempt(spec, events, e)
            if attempt is not None:
                attempts.append(attempt)
    if not attempts:
        return None
    return min(
        attempts, key=lambda a: (-a.level, a.entry.ts, mask(spec, a.entry), breakdown_key(spec, a.entry))
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def funnel(spec: Spec, events: list[Ev]) -> dict[str, Any]:
    """``{"steps": [...], "breakdown": {value: [users per step]}}`` as ``sopflow funnel --json`` counts them."""
    by_person: dict[str, list[Ev]] = {}
    for e in events:
        by_person.setdefault(e.person, []).append(e)
    counted = {p: a for p, evs in by_person.items() if (a := person_attempt(spec, evs)) is not None}
    steps = []
    n = len(spec.steps)
    users = [sum(1 for a in counted.values() if a.level > k) for k in range(n)]
    for k in range(n):
        deltas = [
            (a.times[k] - a.times[k - 1]) / 1e6 for a in counted.values() if k and a.level > k and a.times
        ]
        steps.append(
            {
                "index": k + 1,
                "name": spec.steps[k],
                "users": users[k],
                "rate_from_previous": 1.0 if k == 0 else (users[k] / users[k - 1] if users[k - 1] else None),
                "rate_from_first": users[k] / users[0] if users[0] else None,
                "median_seconds_from_previous": percentile(deltas, 50) if deltas else None,
                "p90_seconds_from_previous": percentile(deltas, 90) if deltas else None,
            }
        )
    breakdown: dict[str, list[int]] = {}
    if spec.by:
        for a in counted.values():
            value = a.entry.value(spec.by) or "(none)"
            row = breakdown.setdefault(value, [0] * n)
            for k in range(a.level):
                row[k] += 1
    return {"steps": steps, "breakdown": breakdown, "levels": {p: a.level for p, a in counted.items()}}

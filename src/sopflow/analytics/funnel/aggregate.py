"""From one row per person to the funnel's numbers: steps, breakdown, trend, histogram, drop-offs.

Shared by every engine (they only produce the per-person rows). Percentiles interpolate linearly between
order statistics (NumPy's default), over the persons who reached the step, from the attempt that counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

import numpy as np

from sopflow.analytics.frame import Coded, PersonTable
from sopflow.analytics.funnel.spec import FunnelSpec
from sopflow.analytics.timerange import from_micros, to_micros

OTHER = "(other)"
NONE_VALUE = "(none)"
# Time-to-convert histogram bins (seconds): a minute, 5 and 15 minutes, an hour, 6 hours, a day, 3 days, a week.
HISTOGRAM_EDGES = (0, 60, 300, 900, 3600, 21600, 86400, 259200, 604800)


@dataclass(frozen=True)
class StepResult:
    index: int
    name: str
    users: int
    rate_from_previous: float | None
    rate_from_first: float | None
    median_seconds_from_previous: float | None
    p90_seconds_from_previous: float | None
    histogram: list[dict[str, Any]] | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "name": self.name,
            "users": self.users,
            "rate_from_previous": self.rate_from_previous,
            "rate_from_first": self.rate_from_first,
            "median_seconds_from_previous": self.median_seconds_from_previous,
            "p90_seconds_from_previous": self.p90_seconds_from_previous,
        }
        if self.histogram is not None:
            data["histogram"] = self.histogram
        return data


@dataclass
class FunnelResult:
    spec: FunnelSpec
    engine: str
    steps: list[StepResult]
    breakdown: list[tuple[str, list[StepResult]]] = field(default_factory=list)
    trend: list[tuple[str, list[StepResult]]] = field(default_factory=list)
    dropped: list[dict[str, Any]] | None = None

    def as_json(self) -> dict[str, Any]:
        spec = self.spec
        data: dict[str, Any] = {
            "steps": [s.as_json() for s in self.steps],
            "breakdown": [{"value": v, "steps": [s.as_json() for s in steps]} for v, steps in self.breakdown],
            "window_seconds": spec.window_us / 1_000_000,
            "order": spec.order,
            "entry": spec.entry,
            "range": spec.range.as_json() if spec.range else {"from": None, "to": None, "tz": None},
            "engine": self.engine,
        }
        if spec.by:
            data["by"] = spec.by
        if spec.trend:
            data["trend"] = [{"period": p, "steps": [s.as_json() for s in steps]} for p, steps in self.trend]
        return data


def aggregate(table: PersonTable, spec: FunnelSpec, *, engine: str) -> FunnelResult:
    level = np.asarray(table["level"])
    steps = _Steps.of(table, spec, level)
    everyone = level > 0
    result = FunnelResult(spec, engine, steps.results(None))
    if spec.by:
        breakdown = table["breakdown"]
        assert isinstance(breakdown, Coded)
        members = np.flatnonzero(everyone)
        result.breakdown = [
            (value, steps.results(chosen)) for value, chosen in breakdown_groups(breakdown, members, spec.top)
        ]
    if spec.trend:
        assert spec.range is not None
        entry_ts = np.asarray(table["entry_ts"])
        members = np.flatnonzero(everyone)
        result.trend = [
            (label, steps.results(chosen))
            for label, chosen in period_groups(entry_ts, members, spec.trend, spec.range.tz)
        ]
    return result


@dataclass(frozen=True)
class _Steps:
    """Per person: level and, per step, µs from the previous step (computed once for every group)."""

    spec: FunnelSpec
    level: np.ndarray
    gaps: list[np.ndarray | None]

    @classmethod
    def of(cls, table: PersonTable, spec: FunnelSpec, level: np.ndarray) -> _Steps:
        gaps: list[np.ndarray | None] = [None]
        for k in range(1, len(spec.steps)):
            if spec.order == "unordered":
                gaps.append(None)
                continue
            later, earlier = np.asarray(table[f"step_ts_{k + 1}"]), np.asarray(table[f"step_ts_{k}"])
            gaps.append(later - earlier)  # garbage where not reached; only reached persons are read
        return cls(spec, level, gaps)

    def results(self, members: np.ndarray | None) -> list[StepResult]:
        """The steps over ``members`` (person indexes; ``None``: every person)."""
        levels = self.level if members is None else self.level[members]
        users = [int(np.count_nonzero(levels > k)) for k in range(len(self.spec.steps))]
        out = []
        for k, name in enumerate(self.spec.steps):
            median = p90 = None
            histogram = None
            per_person = self.gaps[k]
            if per_person is not None:
                gaps = per_person[levels > k] if members is None else per_person[members[levels > k]]
                if len(gaps):
                    median, p90 = (v / 1_000_000 for v in quantiles(gaps, (50, 90)))
                if self.spec.histogram:
                    histogram = _histogram(gaps / 1_000_000)
            out.append(
                StepResult(
                    index=k + 1,
                    name=name,
                    users=users[k],
                    rate_from_previous=1.0 if k == 0 else _rate(users[k], users[k - 1]),
                    rate_from_first=_rate(users[k], users[0]),
                    median_seconds_from_previous=median,
                    p90_seconds_from_previous=p90,
                    histogram=histogram,
                )
            )
        return out


def quantiles(values: np.ndarray, percents: tuple[float, ...]) -> list[float]:
    """Percentiles with linear interpolation between order statistics (NumPy's default method), from one
    partition of the integers: no float copy of the whole array, one pass for every percentile."""
    last = len(values) - 1
    positions = [last * p / 100 for p in percents]
    below = [int(np.floor(x)) for x in positions]
    above = [min(b + 1, last) for b in below]
    ordered = np.partition(values, sorted(set(below + above)))
    return [
        float(ordered[lo]) + (float(ordered[hi]) - float(ordered[lo])) * (x - lo)
        for x, lo, hi in zip(positions, below, above, strict=True)
    ]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _histogram(seconds: np.ndarray) -> list[dict[str, Any]]:
    edges = list(HISTOGRAM_EDGES)
    counts = np.histogram(seconds, bins=[*edges, np.inf])[0] if len(seconds) else np.zeros(len(edges), int)
    bounds = [*edges[1:], None]
    return [
        {"from_seconds": lo, "to_seconds": hi, "users": int(c)}
        for lo, hi, c in zip(edges, bounds, counts.tolist(), strict=True)
    ]


def breakdown_groups(values: Coded, members: np.ndarray, top: int) -> list[tuple[str, np.ndarray]]:
    """Top ``top`` values by persons (ties by value), then ``(other)``, then ``(none)`` (missing or empty)."""
    codes = np.asarray(values.codes)[members]
    empty = np.array([v == "" for v in values.values] + [True], dtype=bool)
    is_none = empty[codes]  # code -1 picks the last entry: missing
    counts = np.bincount(codes[~is_none], minlength=len(values.values))
    ranked = sorted(
        (c for c in range(len(values.values)) if counts[c]), key=lambda c: (-counts[c], values.values[c])
    )
    shown, rest = ranked[:top], ranked[top:]
    group_of_code = np.full(len(values.values) + 1, len(shown) + 1, dtype=np.int64)  # missing/empty: last
    group_of_code[np.asarray(rest, dtype=np.int64)] = len(shown)
    group_of_code[np.asarray(shown, dtype=np.int64)] = np.arange(len(shown))
    group_of_code[np.flatnonzero(empty[:-1])] = len(shown) + 1
    group = group_of_code[codes]
    labels = [values.values[c] for c in shown] + [OTHER, NONE_VALUE]
    chosen = [(label, members[group == i]) for i, label in enumerate(labels)]
    return [(label, persons) for label, persons in chosen if len(persons)]


def period_groups(
    entry_ts: np.ndarray, members: np.ndarray, period: str, tz: tzinfo
) -> list[tuple[str, np.ndarray]]:
    """Persons by the day or ISO week (Monday first) of their entry, in ``tz`` (DST-safe: real midnights)."""
    if not len(members):
        return []
    stamps = entry_ts[members]
    first = from_micros(int(stamps.min()), tz).date()
    last = from_micros(int(stamps.max()), tz).date()
    step = 7 if period == "week" else 1
    if period == "week":
        first -= timedelta(days=first.weekday())
    starts = []
    day = first
    while day <= last:
        starts.append(day)
        day += timedelta(days=step)
    bounds = np.array(
        [to_micros(datetime(d.year, d.month, d.day, tzinfo=tz)) for d in starts], dtype=np.int64
    )
    bucket = np.searchsorted(bounds, stamps, side="right") - 1
    groups = []
    for i, start in enumerate(starts):
        chosen = members[bucket == i]
        if len(chosen):
            groups.append((start.isoformat(), chosen))
    return groups


def dropped_rows(table: PersonTable, spec: FunnelSpec, tz: tzinfo) -> list[dict[str, Any]]:
    """Persons who reached step ``dropped_at - 1`` but not ``dropped_at``: who to follow up, last step first."""
    assert spec.dropped_at is not None
    level = np.asarray(table["level"])
    reached = spec.dropped_at - 1
    chosen = np.flatnonzero(level == reached)
    last = (
        np.asarray(table[f"step_ts_{reached}"])
        if spec.order != "unordered"
        else np.asarray(table["entry_ts"])
    )
    ids = table["person_id"]
    channels = table["channel"]
    assert isinstance(ids, Coded) and isinstance(channels, Coded)
    chosen = chosen[np.argsort(-last[chosen], kind="stable")]
    id_values, channel_values = ids.take(chosen).decoded(), channels.take(chosen).decoded()
    return [
        {
            "person_id": pid,
            "last_step": spec.steps[reached - 1],
            "last_step_at": from_micros(int(last[i]), tz).isoformat(),
            "channel": channel or "",
        }
        for i, pid, channel in zip(chosen.tolist(), id_values, channel_values, strict=True)
    ]

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
    if spec.by:
        breakdown = table["breakdown"]
        assert isinstance(breakdown, Coded)
        members = np.flatnonzero(everyone)
        labels, group = breakdown_labels(breakdown, members, spec.top)
        overall, groups = steps.grouped(members, group, len(labels))
        result = FunnelResult(spec, engine, overall)
        # a label with no persons (no "(other)" or no "(none)") is not shown
        result.breakdown = [
            (label, found) for label, found in zip(labels, groups, strict=True) if found[0].users
        ]
    else:
        result = FunnelResult(spec, engine, steps.results(None))
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
        gaps: list[np.ndarray | None] = []
        for k, per_person in enumerate(self.gaps):
            if per_person is None:
                gaps.append(None)
            elif members is None:
                gaps.append(per_person[levels > k])
            else:
                gaps.append(per_person[members[levels > k]])
        return self._step_results(users, gaps)

    def grouped(
        self, members: np.ndarray, group: np.ndarray, n_groups: int
    ) -> tuple[list[StepResult], list[list[StepResult]]]:
        """The steps over every counted person (``members``: those with level >= 1) and per group
        (``group``: each member's group, ``0 <= group < n_groups``).

        Members are ordered once by (level, group), so the persons who reached a step are a suffix of
        that order, and a group's among them a few runs of it: no boolean selection per step and group.
        """
        n_steps = len(self.spec.steps)
        everyone = len(members) == len(self.level)  # members ascend: then they are every person, in order
        levels = self.level if everyone else self.level[members]
        buckets = (n_steps + 1) * n_groups
        kind = np.dtype(np.uint16 if buckets <= 1 << 16 else np.int64)  # NumPy sorts 16-bit keys by radix
        key: np.ndarray = levels.astype(kind) * n_groups + group.astype(kind)
        counts = np.bincount(key, minlength=buckets).reshape(n_steps + 1, n_groups)
        order = np.argsort(key, kind="stable")
        if not everyone:
            order = members[order]
        starts = np.concatenate([[0], np.cumsum(counts.ravel())])
        reached = counts[::-1].cumsum(axis=0)[::-1]  # [l, g]: persons of group g with level >= l
        overall_gaps: list[np.ndarray | None] = []
        group_gaps: list[list[np.ndarray | None]] = [[] for _ in range(n_groups)]
        for k, per_person in enumerate(self.gaps):
            if per_person is None:
                overall_gaps.append(None)
                for found in group_gaps:
                    found.append(None)
                continue
            first = int(starts[(k + 1) * n_groups])
            values = per_person[order[first:]]
            for g, found in enumerate(group_gaps):
                runs = [
                    (int(starts[b * n_groups + g]) - first, int(starts[b * n_groups + g + 1]) - first)
                    for b in range(k + 1, n_steps + 1)  # levels above k
                ]
                found.append(np.concatenate([values[a:b] for a, b in runs]))
            overall_gaps.append(values)
        overall = self._step_results([int(reached[k + 1].sum()) for k in range(n_steps)], overall_gaps)
        groups = [
            self._step_results([int(reached[k + 1, g]) for k in range(n_steps)], group_gaps[g])
            for g in range(n_groups)
        ]
        return overall, groups

    def _step_results(self, users: list[int], gaps: list[np.ndarray | None]) -> list[StepResult]:
        """From persons per step and each step's gaps (fresh arrays: they are reordered in place)."""
        out = []
        for k, name in enumerate(self.spec.steps):
            median = p90 = None
            histogram = None
            found = gaps[k]
            if found is not None:
                if self.spec.histogram:
                    histogram = _histogram(found / 1_000_000)
                if len(found):
                    median, p90 = (v / 1_000_000 for v in quantiles(found, (50, 90), overwrite=True))
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


def quantiles(values: np.ndarray, percents: tuple[float, ...], *, overwrite: bool = False) -> list[float]:
    """Percentiles with linear interpolation between order statistics (NumPy's default method), from one
    partition of the integers: no float copy of the whole array, one pass for every percentile.

    The partition fixes the order statistic below each position; the one above it is the smallest value
    after it, up to the next fixed one. ``overwrite``: reorder ``values`` in place instead of a copy.
    """
    last = len(values) - 1
    positions = [last * p / 100 for p in percents]
    below = [int(np.floor(x)) for x in positions]
    fixed = sorted(set(below))
    ordered = values if overwrite else values.copy()
    ordered.partition(fixed)
    above: dict[int, float] = {}
    for i, lo in enumerate(fixed):
        stop = fixed[i + 1] + 1 if i + 1 < len(fixed) else len(ordered)
        above[lo] = float(ordered[lo + 1 : stop].min()) if lo < last else float(ordered[lo])
    return [
        float(ordered[lo]) + (above[lo] - float(ordered[lo])) * (x - lo)
        for x, lo in zip(positions, below, strict=True)
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


def breakdown_labels(values: Coded, members: np.ndarray, top: int) -> tuple[list[str], np.ndarray]:
    """The labels: the top ``top`` values by persons (ties by value), then ``(other)``, then ``(none)``
    (missing or empty); and each member's label index (``members``: ascending person indexes)."""
    codes = np.asarray(values.codes)
    if len(members) != len(codes):  # else every person is a member, in order
        codes = codes[members]
    n_values = len(values.values)
    counts = np.bincount(codes + 1, minlength=n_values + 1)[1:]  # code -1 (missing) counted apart
    empty = [v == "" for v in values.values]
    ranked = sorted(
        (c for c in range(n_values) if counts[c] and not empty[c]),
        key=lambda c: (-counts[c], values.values[c]),
    )
    shown, rest = ranked[:top], ranked[top:]
    group_of_code = np.full(n_values + 1, len(shown) + 1, dtype=np.int64)  # missing/empty: last
    group_of_code[np.asarray(rest, dtype=np.int64)] = len(shown)
    group_of_code[np.asarray(shown, dtype=np.int64)] = np.arange(len(shown))
    return [values.values[c] for c in shown] + [OTHER, NONE_VALUE], group_of_code[codes]


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

"""From one row per person to the funnel's numbers: steps, breakdown, trend, histogram, drop-offs.

Shared by every engine (they only produce the per-person rows). Percentiles interpolate linearly between
order statistics (NumPy's default), over the persons who reached the step, from the attempt that counts.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any

import numpy as np

from sopflow.analytics.frame import Coded, PersonTable
from sopflow.analytics.funnel.spec import FunnelSpec
from sopflow.analytics.kernel.build import load
from sopflow.analytics.kernel.parallel import run_parts, split_evenly
from sopflow.analytics.timerange import from_micros, to_micros

OTHER = "(other)"
NONE_VALUE = "(none)"
# Time-to-convert histogram bins (seconds): a minute, 5 and 15 minutes, an hour, 6 hours, a day, 3 days, a week.
HISTOGRAM_EDGES = (0, 60, 300, 900, 3600, 21600, 86400, 259200, 604800)
_P, _I32, _I64 = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64


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
    level = np.ascontiguousarray(table["level"], dtype=np.int32)
    parts = split_evenly(len(level))
    n_steps = len(spec.steps)
    if spec.by:
        breakdown = table["breakdown"]
        assert isinstance(breakdown, Coded)
        codes = np.ascontiguousarray(breakdown.codes, dtype=np.int32)
        counts = _level_counts(level, codes, len(breakdown.values), n_steps, parts)
        labels, group_of = breakdown_labels(breakdown.values, counts[:, 1:].sum(axis=(0, 1)), spec.top)
        overall, groups = _grouped(table, spec, level, codes, group_of, counts, len(labels), parts)
        result = FunnelResult(spec, engine, overall)
        # a label with no persons (no "(other)" or no "(none)") is not shown
        result.breakdown = [
            (label, found) for label, found in zip(labels, groups, strict=True) if found[0].users
        ]
    else:
        counts = _level_counts(level, None, 0, n_steps, parts)
        overall, _ = _grouped(table, spec, level, None, np.zeros(1, dtype=np.int32), counts, 1, parts)
        result = FunnelResult(spec, engine, overall)
    if spec.trend:
        assert spec.range is not None
        entry_ts = np.asarray(table["entry_ts"])
        members = np.flatnonzero(level > 0)
        steps = _Steps.of(table, spec, level)
        result.trend = [
            (label, steps.results(chosen))
            for label, chosen in period_groups(entry_ts, members, spec.trend, spec.range.tz)
        ]
    return result


def _level_counts(
    level: np.ndarray, codes: np.ndarray | None, n_codes: int, n_steps: int, parts: list[tuple[int, int]]
) -> np.ndarray:
    """Persons by (level, breakdown code) in each part of the persons: ``[part, l, c + 1]`` (column 0:
    missing; no codes: every person)."""
    counts = np.zeros((len(parts), n_steps + 1, n_codes + 1), dtype=np.int64)
    function = _function("sop_funnel_counts", [_I64, _P, _P, _I64, _I32, _P])

    def work(begin: int, end: int) -> None:
        part = parts.index((begin, end))
        code = None if codes is None else _ptr(codes) + 4 * begin
        function(end - begin, _ptr(level) + 4 * begin, code, n_codes, n_steps, _ptr(counts[part]))

    run_parts(work, parts)
    return counts


def _grouped(
    table: PersonTable,
    spec: FunnelSpec,
    level: np.ndarray,
    codes: np.ndarray | None,
    group_of: np.ndarray,
    counts: np.ndarray,
    n_groups: int,
    parts: list[tuple[int, int]],
) -> tuple[list[StepResult], list[list[StepResult]]]:
    """The steps over every counted person and per group (a person's group: ``group_of[code + 1]``).

    One compiled pass writes each step's gaps as one run, the groups' runs one after the other within it:
    no boolean selection or sort per step and group.
    """
    n_steps = len(spec.steps)
    per_group = np.zeros((len(parts), n_steps + 1, n_groups), dtype=np.int64)
    for part in range(len(parts)):
        np.add.at(per_group[part].T, group_of, counts[part].T)  # [l, g]: persons of group g at level l
    reached = per_group[:, ::-1].cumsum(axis=1)[:, ::-1]  # [part, l, g]: persons with level >= l
    runs = _gap_runs(table, spec, level, codes, group_of, reached, parts)
    total = reached.sum(axis=0)
    steps = _Steps(spec)
    groups: list[list[StepResult]] = []
    overall: list[StepResult] = []

    def by_group() -> None:
        for g in range(n_groups if codes is not None else 0):
            found = [None if run is None else run[g] for run in runs.groups]
            groups.append(steps.results_of([int(total[k + 1, g]) for k in range(n_steps)], found))

    def whole() -> None:
        overall.extend(steps.results_of([int(total[k + 1].sum()) for k in range(n_steps)], runs.whole))

    if codes is not None and len(parts) > 1:  # as many gaps each, and percentiles only read them
        run_parts(lambda part, _: whole() if part == 0 else by_group(), [(0, 0), (1, 1)])
    else:
        whole()
        by_group()
    return overall, groups


@dataclass
class _Runs:
    """Per step, the gaps of every person who reached it (``whole``) and its slices per group."""

    whole: list[np.ndarray | None]
    groups: list[list[np.ndarray] | None]


def _gap_runs(
    table: PersonTable,
    spec: FunnelSpec,
    level: np.ndarray,
    codes: np.ndarray | None,
    group_of: np.ndarray,
    reached: np.ndarray,
    parts: list[tuple[int, int]],
) -> _Runs:
    """Each step's gaps in one buffer: group by group, and within a group part by part (person order)."""
    n_steps, n_groups = len(spec.steps), reached.shape[2]
    if spec.order == "unordered" or n_steps == 1:  # no timings
        return _Runs([None] * n_steps, [None] * n_steps)
    sizes = reached[:, 2:].transpose(1, 2, 0).ravel()  # [step, group, part], steps from the second
    starts = np.concatenate([[0], np.cumsum(sizes)])
    cursor = np.zeros((len(parts), n_steps, n_groups), dtype=np.int64)
    cursor[:, 1:] = starts[:-1].reshape(n_steps - 1, n_groups, len(parts)).transpose(2, 0, 1)
    out = np.empty(int(starts[-1]), dtype=np.int64)
    columns = [np.ascontiguousarray(table[f"step_ts_{k + 1}"], dtype=np.int64) for k in range(n_steps)]
    function = _function("sop_funnel_gaps", [_I64, _P, _P, _I64, _P, _P, _I32, _I64, _P, _P])
    group_table = np.ascontiguousarray(group_of, dtype=np.int32)
    mine = cursor.copy()  # the pass moves them

    def work(begin: int, end: int) -> None:
        part = parts.index((begin, end))
        pointers = np.array([_ptr(c) + 8 * begin for c in columns], dtype=np.uint64)
        function(
            end - begin,
            _ptr(level) + 4 * begin,
            None if codes is None else _ptr(codes) + 4 * begin,
            len(group_of) - 1,
            _ptr(group_table),
            _ptr(pointers),
            n_steps,
            n_groups,
            _ptr(mine[part]),
            _ptr(out),
        )

    run_parts(work, parts)
    whole: list[np.ndarray | None] = [None]
    groups: list[list[np.ndarray] | None] = [None]
    for k in range(1, n_steps):
        bounds = [*cursor[0, k].tolist(), int(cursor[0, k, 0]) + int(reached[:, k + 1].sum())]
        whole.append(out[bounds[0] : bounds[-1]])
        groups.append([out[a:b] for a, b in pairwise(bounds)])
    return _Runs(whole, groups)


def _function(name: str, argtypes: list[Any]) -> Any:
    function = getattr(load("funnel"), name)
    function.argtypes = argtypes
    function.restype = None
    return function


def _ptr(array: np.ndarray) -> int:
    assert array.flags.c_contiguous
    return int(array.ctypes.data)


@dataclass(frozen=True)
class _Steps:
    """Per person: level and, per step, µs from the previous step (for the trend's groups of persons)."""

    spec: FunnelSpec
    level: np.ndarray | None = None
    gaps: tuple[np.ndarray | None, ...] = ()

    @classmethod
    def of(cls, table: PersonTable, spec: FunnelSpec, level: np.ndarray) -> _Steps:
        gaps: list[np.ndarray | None] = [None]
        for k in range(1, len(spec.steps)):
            if spec.order == "unordered":
                gaps.append(None)
                continue
            later, earlier = np.asarray(table[f"step_ts_{k + 1}"]), np.asarray(table[f"step_ts_{k}"])
            gaps.append(later - earlier)  # garbage where not reached; only reached persons are read
        return cls(spec, level, tuple(gaps))

    def results(self, members: np.ndarray) -> list[StepResult]:
        """The steps over ``members`` (person indexes)."""
        assert self.level is not None
        levels = self.level[members]
        users = [int(np.count_nonzero(levels > k)) for k in range(len(self.spec.steps))]
        gaps = [None if g is None else g[members[levels > k]] for k, g in enumerate(self.gaps)]
        return self.results_of(users, gaps)

    def results_of(self, users: list[int], gaps: list[np.ndarray | None]) -> list[StepResult]:
        """From persons per step and each step's gaps (only read: groups and the whole share them)."""
        out = []
        for k, name in enumerate(self.spec.steps):
            median = p90 = None
            histogram = None
            found = gaps[k]
            if found is not None:
                if self.spec.histogram:
                    histogram = _histogram(found / 1_000_000)
                if len(found):
                    median, p90 = (v / 1_000_000 for v in quantiles(found, (50, 90)))
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
    """Percentiles with linear interpolation between order statistics (NumPy's default method), from the
    order statistics at and just above each position: no float copy of the whole array.

    64-bit integers (the funnel's gaps) take a compiled selection that leaves them in place; others one
    partition, which fixes the statistic below each position, the one above being the smallest value
    after it, up to the next fixed one. ``overwrite``: a partition may reorder ``values`` in place.
    """
    last = len(values) - 1
    positions = [last * p / 100 for p in percents]
    below = [int(np.floor(x)) for x in positions]
    fixed = sorted(set(below))
    if values.dtype == np.int64 and values.flags.c_contiguous and len(values):
        at, above = _order_stats(values, fixed)
    else:
        ordered = values if overwrite else values.copy()
        ordered.partition(fixed)
        at, above = {lo: float(ordered[lo]) for lo in fixed}, {}
        for i, lo in enumerate(fixed):
            stop = fixed[i + 1] + 1 if i + 1 < len(fixed) else len(ordered)
            above[lo] = float(ordered[lo + 1 : stop].min()) if lo < last else at[lo]
    return [at[lo] + (above[lo] - at[lo]) * (x - lo) for x, lo in zip(positions, below, strict=True)]


def _order_stats(values: np.ndarray, fixed: list[int]) -> tuple[dict[int, float], dict[int, float]]:
    """The values of rank ``lo`` and ``lo + 1`` (``lo`` itself for the last rank), for each ``lo``."""
    last = len(values) - 1
    ranks = np.array(sorted({r for lo in fixed for r in (lo, min(lo + 1, last))}), dtype=np.int64)
    found = np.empty(len(ranks), dtype=np.int64)
    function = load("funnel").sop_order_stats
    function.argtypes = [_I64, _P, _I32, _P, _P]
    function.restype = ctypes.c_int
    if function(len(values), _ptr(values), len(ranks), _ptr(ranks), _ptr(found)) != 0:
        raise MemoryError("funnel percentiles: out of memory")
    value = dict(zip(ranks.tolist(), found.tolist(), strict=True))
    return {lo: float(value[lo]) for lo in fixed}, {lo: float(value[min(lo + 1, last)]) for lo in fixed}


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


def breakdown_labels(values: list[str], persons: np.ndarray, top: int) -> tuple[list[str], np.ndarray]:
    """The labels: the top ``top`` values by persons (ties by value), then ``(other)``, then ``(none)``
    (missing or empty); and each code's label index, at ``code + 1`` (index 0: missing).

    ``persons[c + 1]``: the step-1 persons whose breakdown code is ``c`` (``persons[0]``: missing).
    """
    n_values = len(values)
    counts = persons[1:].tolist()
    ranked = sorted(
        (c for c in range(n_values) if counts[c] and values[c] != ""),
        key=lambda c: (-counts[c], values[c]),
    )
    shown, rest = ranked[:top], ranked[top:]
    group_of = np.full(n_values + 1, len(shown) + 1, dtype=np.int32)  # missing/empty: last
    group_of[np.asarray(rest, dtype=np.int64) + 1] = len(shown)
    group_of[np.asarray(shown, dtype=np.int64) + 1] = np.arange(len(shown))
    return [values[c] for c in shown] + [OTHER, NONE_VALUE], group_of


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

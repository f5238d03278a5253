"""Retention, across persons: the cohort table from the per-person rows (shared by every engine).

- Cohort size: persons whose cohort is that period. ``counts[k]`` (k ≥ 1): members who returned in period
  ``k`` (``on``) or in ``k`` or later (``on_or_after``); ``counts[0]`` is the size (period 0 is the cohort).
- A period is *complete* when it has ended by the data's last event (the last instant of the period is at
  or before the largest ``ts`` of all events). Incomplete periods are ``null``, never 0; period 0 is always
  shown.
- ``overall[k]``: Σ counts ÷ Σ sizes over the cohorts whose period ``k`` is complete (so a cohort weighs by
  its size and young cohorts do not drag late periods down).
- ``--by``: the top ``--top`` values by persons in cohorts (ties by value, ascending), the rest in
  ``"(other)"``, missing or empty values in ``"(none)"``; each value gets the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import numpy as np

from sopflow.analytics.frame import Coded, Engine, PersonTable
from sopflow.analytics.retention.definition import WORD_BITS, RetentionKernel, RetentionSpec
from sopflow.analytics.retention.periods import Period, period_start, period_start_day
from sopflow.analytics.timerange import from_micros

OTHER = "(other)"
NONE = "(none)"


@dataclass(frozen=True)
class Cohort:
    period: int  # the period index (see periods.py)
    label: str  # the period's first local date, ISO (a Monday for weeks)
    size: int
    counts: list[int | None]  # k = 0 … periods; None where period k is not complete
    rates: list[float | None]


@dataclass(frozen=True)
class PeriodTotal:
    period: int  # k
    persons: int  # members of the cohorts whose period k is complete
    returned: int
    rate: float | None


@dataclass(frozen=True)
class RetentionTable:
    cohorts: list[Cohort]
    overall: list[PeriodTotal]

    @property
    def size(self) -> int:
        return sum(c.size for c in self.cohorts)

    def as_json(self) -> dict[str, Any]:
        return {
            "cohorts": [
                {"cohort": c.label, "size": c.size, "counts": c.counts, "rates": c.rates}
                for c in self.cohorts
            ],
            "overall": [
                {"period": t.period, "persons": t.persons, "returned": t.returned, "rate": t.rate}
                for t in self.overall
            ],
        }


@dataclass(frozen=True)
class Breakdown:
    value: str
    table: RetentionTable


@dataclass(frozen=True)
class RetentionResult:
    spec: RetentionSpec
    engine: str
    data_end: int | None  # the largest ts of all events (µs UTC)
    table: RetentionTable
    breakdown: list[Breakdown]

    def as_json(self) -> dict[str, Any]:
        spec = self.spec
        data: dict[str, Any] = {
            "start_event": spec.start_event,
            "return_event": spec.return_event,
            "period": spec.period,
            "periods": spec.periods,
            "mode": spec.mode,
            "by": spec.by,
            "range": spec.range.as_json(),
            "data_end": None
            if self.data_end is None
            else from_micros(self.data_end, spec.range.tz).isoformat(),
            "engine": self.engine,
            "size": self.table.size,
            **self.table.as_json(),
            "breakdown": [
                {"value": b.value, "size": b.table.size, **b.table.as_json()} for b in self.breakdown
            ],
        }
        return data


def compute_retention(engine: Engine, spec: RetentionSpec) -> RetentionResult:
    """Retention of ``spec`` over the events ``engine`` reads."""
    kernel = RetentionKernel(spec)
    rows = engine.map_persons(kernel.request(), kernel)
    bounds = engine.time_bounds()
    return aggregate(rows, spec=spec, data_end=None if bounds is None else bounds[1], engine=engine.name)


def aggregate(
    rows: PersonTable, *, spec: RetentionSpec, data_end: int | None, engine: str
) -> RetentionResult:
    """The result from the per-person rows of :class:`RetentionKernel` (any engine, any row order)."""
    cohort = np.asarray(rows["cohort"], dtype=np.int64) if "cohort" in rows else np.zeros(0, np.int64)
    members = np.flatnonzero(cohort >= 0)
    hits = _Hits(rows, spec, members)
    ends = _PeriodEnds(spec.period, spec.range.tz)
    table = _table(
        cohort[members], hits, np.ones(len(members), dtype=bool), spec=spec, data_end=data_end, ends=ends
    )
    breakdown = []
    if spec.by and "by" in rows:
        by = rows["by"]
        assert isinstance(by, Coded)
        for value, chosen in _groups(by.take(members), top=spec.top):
            breakdown.append(
                Breakdown(
                    value, _table(cohort[members], hits, chosen, spec=spec, data_end=data_end, ends=ends)
                )
            )
    return RetentionResult(spec=spec, engine=engine, data_end=data_end, table=table, breakdown=breakdown)


class _Hits:
    """Whether each cohort member counts for period k, under the spec's mode."""

    def __init__(self, rows: PersonTable, spec: RetentionSpec, members: np.ndarray) -> None:
        self.mode = spec.mode
        self.last = np.asarray(rows.get("last_return", np.zeros(0, np.int64)), dtype=np.int64)[members]
        self.words = [
            np.asarray(rows.get(f"returned_w{w}", np.zeros(0, np.int64)), dtype=np.int64)[members]
            for w in range(spec.words)
        ]

    def at(self, k: int) -> np.ndarray:
        if k == 0:
            return np.ones(len(self.last), dtype=bool)
        if self.mode == "on_or_after":
            return np.asarray(self.last >= k)
        word = self.words[k // WORD_BITS]
        return np.asarray((word >> (k % WORD_BITS)) & 1, dtype=bool)


class _PeriodEnds:
    """The end (µs UTC, exclusive) of period indexes, cached: each is a time zone lookup."""

    def __init__(self, period: Period, tz: tzinfo) -> None:
        self.period, self.tz = period, tz
        self._ends: dict[int, int] = {}

    def end(self, index: int) -> int:
        if index not in self._ends:
            self._ends[index] = period_start(index + 1, period=self.period, tz=self.tz)
        return self._ends[index]


def _table(
    cohort: np.ndarray,
    hits: _Hits,
    chosen: np.ndarray,
    *,
    spec: RetentionSpec,
    data_end: int | None,
    ends: _PeriodEnds,
) -> RetentionTable:
    periods, inverse = np.unique(cohort[chosen], return_inverse=True)
    sizes = np.bincount(inverse, minlength=len(periods))
    counts = [
        np.bincount(inverse, weights=hits.at(k)[chosen], minlength=len(periods))
        for k in range(spec.periods + 1)
    ]
    cohorts: list[Cohort] = []
    for i, index in enumerate(periods.tolist()):
        size = int(sizes[i])
        row: list[int | None] = [
            int(counts[k][i]) if k == 0 or _complete(index + k, data_end, ends) else None
            for k in range(spec.periods + 1)
        ]
        rates: list[float | None] = [None if c is None else round(c / size, 10) for c in row]
        label = period_start_day(index, spec.period).isoformat()
        cohorts.append(Cohort(period=index, label=label, size=size, counts=row, rates=rates))
    overall = []
    for k in range(spec.periods + 1):
        seen = [c for c in cohorts if c.counts[k] is not None]
        persons = sum(c.size for c in seen)
        returned = sum(c.counts[k] or 0 for c in seen)
        overall.append(PeriodTotal(k, persons, returned, round(returned / persons, 10) if persons else None))
    return RetentionTable(cohorts, overall)


def _complete(index: int, data_end: int | None, ends: _PeriodEnds) -> bool:
    return data_end is not None and ends.end(index) - 1 <= data_end


def _groups(by: Coded, *, top: int) -> list[tuple[str, np.ndarray]]:
    """(value, mask over members) for the top values, then "(other)" and "(none)" when they have persons."""
    codes = np.asarray(by.codes)
    blank = np.array([not v.strip() for v in by.values] + [True])  # last slot: code −1
    missing = blank[codes]
    counts = np.bincount(codes[~missing], minlength=len(by.values))
    ranked = sorted(
        (-int(counts[i]), v, i) for i, v in enumerate(by.values) if counts[i] > 0 and not blank[i]
    )
    groups = [(v, codes == i) for _n, v, i in ranked[:top]]
    rest = np.isin(codes, [i for _n, _v, i in ranked[top:]]) & ~missing
    if rest.any():
        groups.append((OTHER, rest))
    if missing.any():
        groups.append((NONE, missing))
    return groups

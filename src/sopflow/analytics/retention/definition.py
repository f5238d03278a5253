"""Retention, per person: the period of the first start event in range, and the periods of return.

Definitions (docs/analytics.md, "Retention"):

- A person's *cohort* is the period (day, or ISO week from Monday, in ``--tz``) of their first start event
  whose time is in the range. A person with no start event in range is in no cohort.
- Period ``k`` is the ``k``-th period after the cohort's (``k = 0`` is the cohort's own period). A return
  event counts for period ``k ≥ 1`` when it falls in period ``k`` (``on``) or in period ``k`` or later
  (``on_or_after``); return events count whenever they happen, also after the range's end.
- Period 0 is the cohort itself (every member, 100%, as PostHog shows it): a return event in period 0
  changes nothing. Hence, when the start and return events are the same, the start event is never its own
  return: it lies in period 0.
- ``--by``: the property on the first start event; when several start events share that first timestamp,
  the smallest non-empty value (text order) wins, so the result does not depend on the order of ties.

The per-person function reads only its own person's rows, so any engine may split persons as it likes.
Its rows: ``cohort`` (period, −1 for none), ``last_return`` (the largest ``k ≥ 1`` of a return, 0 for none),
``returned_w{j}`` (bit ``k % 63`` of word ``k // 63`` set when a return falls in period ``k`` exactly, for
``1 ≤ k ≤ periods``) and ``by`` (Coded) when asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from sopflow.analytics.frame import Coded, FrameRequest, PersonFrame, PersonTable
from sopflow.analytics.retention.periods import PERIODS, Period, period_index
from sopflow.analytics.timerange import TimeRange
from sopflow.errors import InvalidInput
from sopflow.i18n import _

Mode = Literal["on", "on_or_after"]
MODES: tuple[Mode, ...] = ("on", "on_or_after")
MAX_PERIODS = 400
WORD_BITS = 63  # bits per int64 word, the sign bit left alone

_NO_RANK = np.iinfo(np.int64).max


@dataclass(frozen=True)
class RetentionSpec:
    """What to compute; build it with :meth:`make` to get the inputs checked."""

    start_event: str
    return_event: str
    period: Period
    periods: int
    mode: Mode
    by: str | None
    top: int
    range: TimeRange

    @classmethod
    def make(
        cls,
        *,
        start_event: str,
        return_event: str,
        range: TimeRange,
        period: str = "day",
        periods: int = 7,
        mode: str = "on",
        by: str | None = None,
        top: int = 10,
    ) -> RetentionSpec:
        if not start_event.strip() or not return_event.strip():
            raise InvalidInput(_("--start-event and --return-event must name events"))
        if period not in PERIODS:
            raise InvalidInput(
                _("--period must be one of {choices}, got {value!r}", choices="|".join(PERIODS), value=period)
            )
        if mode not in MODES:
            raise InvalidInput(
                _("--mode must be one of {choices}, got {value!r}", choices="|".join(MODES), value=mode)
            )
        if not 1 <= periods <= MAX_PERIODS:
            raise InvalidInput(
                _("--periods must be a whole number from 1 to {most}, got {n}", most=MAX_PERIODS, n=periods)
            )
        if top < 1:
            raise InvalidInput(_("--top must be at least 1, got {n}", n=top))
        return cls(
            start_event=start_event.strip(),
            return_event=return_event.strip(),
            period=period,
            periods=periods,
            mode=mode,
            by=by.strip() if by and by.strip() else None,
            top=top,
            range=range,
        )

    @property
    def words(self) -> int:
        return self.periods // WORD_BITS + 1


@dataclass(frozen=True)
class RetentionKernel:
    """The per-person function of retention (picklable: Spark ships it to the executors)."""

    spec: RetentionSpec

    def request(self) -> FrameRequest:
        spec = self.spec
        columns = (spec.by,) if spec.by else ()
        return FrameRequest(events=frozenset({spec.start_event, spec.return_event}), columns=columns)

    def __call__(self, frame: PersonFrame) -> PersonTable:
        spec, n = self.spec, frame.n_persons
        ts = np.asarray(frame.ts, dtype=np.int64)
        event = np.asarray(frame.event)
        person = frame.person_of_rows()
        cohort = np.full(n, -1, dtype=np.int64)

        starts = np.flatnonzero((event == frame.event_code(spec.start_event)) & _in_range(ts, spec.range))
        # Rows are grouped by person and ascending in time: a person's first start row comes first.
        owners = person[starts]
        head = np.ones(len(starts), dtype=bool)
        head[1:] = owners[1:] != owners[:-1]
        first_rows = starts[head]
        first_ts = np.full(n, -1, dtype=np.int64)
        first_ts[person[first_rows]] = ts[first_rows]
        cohort[person[first_rows]] = period_index(ts[first_rows], period=spec.period, tz=spec.range.tz)

        out: PersonTable = {"cohort": cohort}
        out.update(self._returns(frame, ts, event, person, cohort))
        if spec.by:
            ties = starts[ts[starts] == first_ts[person[starts]]]
            out["by"] = _first_value(frame.columns[spec.by], ties, person[ties], n)
        return out

    def _returns(
        self, frame: PersonFrame, ts: np.ndarray, event: np.ndarray, person: np.ndarray, cohort: np.ndarray
    ) -> PersonTable:
        spec, n = self.spec, frame.n_persons
        rows = np.flatnonzero((event == frame.event_code(spec.return_event)) & (cohort[person] >= 0))
        owners = person[rows]
        offset = period_index(ts[rows], period=spec.period, tz=spec.range.tz) - cohort[owners]
        later = offset >= 1
        owners, offset = owners[later], offset[later]
        last = np.zeros(n, dtype=np.int64)
        np.maximum.at(last, owners, offset)
        out: PersonTable = {"last_return": last}
        inside = offset <= spec.periods
        for word in range(spec.words):
            bits = np.zeros(n, dtype=np.int64)
            chosen = inside & (offset // WORD_BITS == word)
            np.bitwise_or.at(bits, owners[chosen], np.left_shift(1, offset[chosen] % WORD_BITS))
            out[f"returned_w{word}"] = bits
        return out


def _in_range(ts: np.ndarray, range_: TimeRange) -> np.ndarray:
    keep = np.ones(len(ts), dtype=bool)
    if range_.start is not None:
        keep &= ts >= range_.start
    if range_.end is not None:
        keep &= ts < range_.end
    return keep


def _first_value(column: Coded, rows: np.ndarray, owners: np.ndarray, n: int) -> Coded:
    """Per person, the smallest non-empty value of ``column`` over ``rows`` (null when none)."""
    values = column.values
    order = sorted((v, i) for i, v in enumerate(values) if v.strip())
    rank = np.full(len(values) + 1, _NO_RANK, dtype=np.int64)  # last slot: code −1 (null)
    for r, (_value, i) in enumerate(order):
        rank[i] = r
    best = np.full(n, _NO_RANK, dtype=np.int64)
    np.minimum.at(best, owners, rank[np.asarray(column.codes)[rows]])
    by_rank = np.array([i for _value, i in order] + [-1], dtype=np.int32)
    codes = by_rank[np.minimum(best, len(order))]
    return Coded(codes, values)

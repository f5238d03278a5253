"""Referral (裂变), per person: who invited them, when they arrived, what they are worth.

Only the events in the range count (ids, ``$identify`` links included, are read from every event). Per
person the function emits, reading nothing but that person's rows:

- ``person``: the id shown for the person (identity-merged); ``aliases``: the person's other raw ids
  (``user_id`` of their events), joined by :data:`ALIAS_SEP`, null when none — the aggregation needs them
  to find the person an ``inviter_id`` names, since an inviter id may be any of the inviter's ids;
- ``inviter``: the first non-empty ``inviter_id`` by time (among ties, the smallest text), null when none;
- ``first_ts``: the time of the first event in range that is not bookkeeping (``$identify``, ``$set``,
  ``$create_alias``), −1 when none: such a person is not counted as a person (but may be an inviter);
- ``could_invite``: reached the inviters stage (its event with its ``where`` conditions) in range, or
  every counted person when there is no stage;
- ``paid`` (a revenue > 0 in range) and ``revenue`` (its sum; unreadable amounts count as 0).

The join of invitees to inviters happens in the aggregation (:mod:`sopflow.analytics.referral.tree`).
Over a workspace whose analytics cache has the coded inviter and revenue columns, the same numbers come
from one compiled pass over the cache instead (:mod:`sopflow.analytics.referral.cached`, tested equal).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sopflow.analytics.conditions import Condition, stage_rows
from sopflow.analytics.frame import BOOKKEEPING_EVENTS, Coded, FrameRequest, PersonFrame, PersonTable
from sopflow.analytics.timerange import TimeRange

ALIAS_SEP = "\x1f"  # the ASCII unit separator: not found in ids people type
_LAST = np.iinfo(np.int64).max


@dataclass(frozen=True)
class InvitersStage:
    """The playbook stage whose persons could invite: its id (for display), event and conditions."""

    stage: str
    event: str
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class ReferralKernel:
    """The per-person function of referral (picklable: Spark ships it to the executors)."""

    range: TimeRange
    inviters_stage: InvitersStage | None = None

    def request(self) -> FrameRequest:
        columns = ["user_id", "inviter_id", "revenue"]
        if self.inviters_stage is not None:
            columns += [c.prop for c in self.inviters_stage.conditions if c.prop not in columns]
        return FrameRequest(events=None, columns=tuple(columns), person_ids=True)

    def __call__(self, frame: PersonFrame) -> PersonTable:
        n = frame.n_persons
        ts = np.asarray(frame.ts, dtype=np.int64)
        person = frame.person_of_rows()
        in_range = np.ones(len(ts), dtype=bool)
        if self.range.start is not None:
            in_range &= ts >= self.range.start
        if self.range.end is not None:
            in_range &= ts < self.range.end
        ids = list(frame.person_ids or [])
        real = in_range & ~np.isin(np.asarray(frame.event), _codes(frame, BOOKKEEPING_EVENTS))
        first_ts = _first_ts(ts, person, real, n)
        could = first_ts >= 0
        if self.inviters_stage is not None:
            stage = self.inviters_stage
            reached = stage_rows(frame, event=stage.event, conditions=stage.conditions) & in_range
            could &= np.bincount(person[reached], minlength=n) > 0
        paid, revenue = _money(frame.columns["revenue"], person, in_range, n)
        return {
            "person": Coded(np.arange(n, dtype=np.int32), ids),
            "aliases": _aliases(frame.columns["user_id"], person, ids),
            "inviter": _first_text(frame.columns["inviter_id"], ts, person, real, n),
            "first_ts": first_ts,
            "could_invite": could,
            "paid": paid,
            "revenue": revenue,
        }


def _codes(frame: PersonFrame, names: Sequence[str]) -> list[int]:
    return [c for c in (frame.event_code(name) for name in names) if c >= 0]


def _first_ts(ts: np.ndarray, person: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
    rows = np.flatnonzero(keep)
    owners = person[rows]
    head = np.ones(len(rows), dtype=bool)
    head[1:] = owners[1:] != owners[:-1]  # rows are grouped by person, ascending in time
    out = np.full(n, -1, dtype=np.int64)
    out[owners[head]] = ts[rows[head]]
    return out


def _first_text(column: Coded, ts: np.ndarray, person: np.ndarray, keep: np.ndarray, n: int) -> Coded:
    """Per person, the first non-empty value by time; among values at that same time, the smallest."""
    values = column.values
    blank = np.array([not v.strip() for v in values] + [True])  # last slot: code −1 (null)
    codes = np.asarray(column.codes)
    usable = keep & ~blank[codes]
    rows = np.flatnonzero(usable)
    first = _first_ts(ts, person, usable, n)
    ties = rows[ts[rows] == first[person[rows]]]
    order = sorted(range(len(values)), key=values.__getitem__)
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.arange(len(values))
    best = np.full(n, _LAST, dtype=np.int64)
    np.minimum.at(best, person[ties], rank[codes[ties]])
    by_rank = np.array([*order, -1], dtype=np.int32)
    return Coded(by_rank[np.minimum(best, len(values))], values)


def _aliases(column: Coded, person: np.ndarray, ids: list[str]) -> Coded:
    """Each person's raw ids other than the shown one, joined (null when none)."""
    values = column.values
    codes = np.asarray(column.codes).astype(np.int64)
    # Most rows carry the shown id: drop them before looking for distinct (person, raw id) pairs.
    found_at = pc.index_in(pa.array(ids, pa.string()), value_set=pa.array(values, pa.string()))
    shown = np.asarray(found_at.fill_null(-2).to_numpy(zero_copy_only=False), dtype=np.int64)
    other = (codes >= 0) & (codes != shown[person])
    width = len(values) + 1
    pairs = np.unique(person[other] * width + codes[other])
    found: dict[int, list[str]] = {}
    for owner, code in zip((pairs // width).tolist(), (pairs % width).tolist(), strict=True):
        found.setdefault(owner, []).append(values[code])
    joined = [ALIAS_SEP.join(sorted(raw)) for raw in found.values()]
    out = np.full(len(ids), -1, dtype=np.int32)
    out[list(found)] = np.arange(len(joined), dtype=np.int32)
    return Coded(out, joined)


def _money(column: Coded, person: np.ndarray, keep: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    amounts = np.array([_amount(v) for v in column.values] + [0.0], dtype=np.float64)
    codes = np.asarray(column.codes)
    per_row = np.where(keep, amounts[np.where(codes < 0, len(column.values), codes)], 0.0)
    revenue = np.bincount(person, weights=per_row, minlength=n)
    paid = np.bincount(person, weights=(per_row > 0).astype(np.float64), minlength=n) > 0
    return paid, revenue


def _amount(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0

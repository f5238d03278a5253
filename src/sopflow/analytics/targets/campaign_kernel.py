"""Per person, for each step of one campaign: touched, the variant, reacted, converted, revenue credited.

One pass over a person's events (the engine hands them grouped by person, in time order; see
:mod:`sopflow.analytics.frame`). Definitions, with ``W`` the window (the playbook funnel's ``window``):

- a touch of the campaign: a ``sop_touch`` event whose ``campaign_id`` property is the campaign's id, or,
  when it carries none, whose ``campaign`` is the campaign's name; of a step: its ``step`` is the step's id;
- ``t0``: the person's first touch of the step; the variant is that touch's (ties at ``t0``: the smallest
  name, so the result does not depend on the order of ties);
- reacted: the step's reaction event (its stage's event with the stage's ``where``; or any own action, an
  event that is neither a touch nor bookkeeping) in ``t0 ≤ ts ≤ t0 + W``;
- converted: the conversion stage's event (with its ``where``) in ``t0 ≤ ts ≤ t0 + W``;
- revenue: each event's ``revenue`` (in the playbook's currency, or without one) is credited to the
  person's latest touch of the campaign at or before it, if that touch is at most ``W`` earlier (last
  touch: the steps' revenue adds up without counting a payment twice); ties at one moment go to the touch,
  and between touches to the later step of the timeline. Payments of touched persons in another currency
  are left out and counted (``other_currency``).

Every event counts only inside the range. A person id starting ``staff:`` is a touch recorded for the owner
of a task whose audience was unknown: counted apart, never as a person reached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sopflow.analytics.conditions import Condition, stage_rows
from sopflow.analytics.frame import BOOKKEEPING_EVENTS, Coded, FrameRequest, PersonFrame, PersonTable

TOUCH_EVENT = "sop_touch"
STAFF_PREFIX = "staff:"
_NEVER = np.iinfo(np.int64).max
_NO_VARIANT = np.iinfo(np.int32).max


@dataclass(frozen=True)
class Outcome:
    """What a person must do to count: ``event`` with every test holding; ``None``: any own action."""

    event: str | None
    tests: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class StepKernel:
    """The per-person function (a frozen dataclass: hashable for the engine's cache, picklable for Spark)."""

    campaign_id: str
    campaign_name: str
    steps: tuple[str, ...]
    reactions: tuple[Outcome, ...]  # one per step
    conversion: Outcome | None
    window_us: int
    currency: str
    start: int | None = None  # range, µs UTC, [start, end)
    end: int | None = None

    def request(self) -> FrameRequest:
        columns = ["campaign", "campaign_id", "step", "variant", "revenue", "currency"]
        outcomes = [*self.reactions, *([self.conversion] if self.conversion else [])]
        columns += [t.prop for o in outcomes for t in o.tests]
        return FrameRequest(
            events=None, columns=tuple(dict.fromkeys(columns)), person_ids=True, exact_events=False
        )

    def __call__(self, frame: PersonFrame) -> PersonTable:
        n = frame.n_persons
        ts = np.asarray(frame.ts, dtype=np.int64)
        person = frame.person_of_rows()
        in_range = np.ones(len(ts), dtype=bool)
        if self.start is not None:
            in_range &= ts >= self.start
        if self.end is not None:
            in_range &= ts < self.end
        row_step = self._row_steps(frame)
        touches = (np.asarray(frame.event) == frame.event_code(TOUCH_EVENT)) & in_range & (row_step >= 0)
        touches &= self._of_campaign(frame)
        ids = frame.person_ids or [""] * n
        staff = np.array([str(i).startswith(STAFF_PREFIX) for i in ids], dtype=bool)
        ours = touches & ~staff[person]
        variant = frame.columns["variant"]
        out: PersonTable = {
            "staff": (np.bincount(person[touches & staff[person]], minlength=n) > 0).astype(np.int8),
            "touched_any": (np.bincount(person[ours], minlength=n) > 0).astype(np.int8),
        }
        masks: dict[Outcome, np.ndarray] = {}
        firsts = []
        for k, reaction in enumerate(self.reactions):
            rows = np.flatnonzero(ours & (row_step == k))
            t0 = np.full(n, _NEVER, dtype=np.int64)
            np.minimum.at(t0, person[rows], ts[rows])
            firsts.append(t0)
            out[f"touched{k}"] = (t0 < _NEVER).astype(np.int8)
            out[f"variant{k}"] = Coded(_first_variant(rows, ts, person, t0, variant, n), list(variant.values))
            out[f"reacted{k}"] = self._after(self._mask(frame, reaction, masks) & in_range, ts, person, t0, n)
            converted = np.zeros(n, dtype=np.int8)
            if self.conversion is not None:
                mask = self._mask(frame, self.conversion, masks) & in_range
                converted = self._after(mask, ts, person, t0, n)
            out[f"converted{k}"] = converted
        credited, other = self._revenue(frame, ours, row_step, in_range, ts, person, n)
        for k in range(len(self.reactions)):
            out[f"revenue{k}"] = credited[k]
        out["other_currency"] = other
        return out

    def _row_steps(self, frame: PersonFrame) -> np.ndarray:
        """Each row's step index among ``steps`` (-1: another step, or none)."""
        column = frame.columns["step"]
        lookup = np.full(len(column.values) + 1, -1, dtype=np.int64)  # the last slot: code -1, missing
        where = {step: k for k, step in enumerate(self.steps)}
        for code, value in enumerate(column.values):
            lookup[code] = where.get(value, -1)
        found: np.ndarray = lookup[np.asarray(column.codes)]
        return found

    def _of_campaign(self, frame: PersonFrame) -> np.ndarray:
        by_id = frame.columns["campaign_id"]
        without_id = np.asarray(by_id.codes) < 0
        hit: np.ndarray = _is_value(by_id, self.campaign_id) | (
            without_id & _is_value(frame.columns["campaign"], self.campaign_name)
        )
        return hit

    def _mask(self, frame: PersonFrame, outcome: Outcome, cache: dict[Outcome, np.ndarray]) -> np.ndarray:
        if outcome not in cache:
            if outcome.event is None:
                event = np.asarray(frame.event)
                skip = [frame.event_code(e) for e in (TOUCH_EVENT, *BOOKKEEPING_EVENTS)]
                cache[outcome] = ~np.isin(event, [c for c in skip if c >= 0])
            else:
                cache[outcome] = stage_rows(frame, event=outcome.event, conditions=outcome.tests)
        return cache[outcome]

    def _after(
        self, mask: np.ndarray, ts: np.ndarray, person: np.ndarray, t0: np.ndarray, n: int
    ) -> np.ndarray:
        rows = np.flatnonzero(mask & (t0[person] < _NEVER))
        since = ts[rows] - t0[person[rows]]
        inside = (since >= 0) & (since <= self.window_us)
        return (np.bincount(person[rows[inside]], minlength=n) > 0).astype(np.int8)

    def _revenue(
        self,
        frame: PersonFrame,
        ours: np.ndarray,
        row_step: np.ndarray,
        in_range: np.ndarray,
        ts: np.ndarray,
        person: np.ndarray,
        n: int,
    ) -> tuple[list[np.ndarray], np.ndarray]:
        revenue = frame.columns["revenue"]
        currency = frame.columns["currency"]
        paid = (np.asarray(revenue.codes) >= 0) & in_range
        currency_codes = np.asarray(currency.codes)
        mine = (currency_codes < 0) | _is_value(currency, self.currency)
        touched = np.bincount(person[ours], minlength=n) > 0
        # only the payments the table would have credited, were they in the playbook's currency
        other = np.bincount(person[paid & ~mine & touched[person]], minlength=n).astype(np.int64)
        money = np.flatnonzero(paid & mine & touched[person])
        touches = np.flatnonzero(ours)
        credited: list[np.ndarray] = [np.zeros(n, dtype=np.float64) for _ in self.reactions]
        if not len(money) or not len(touches):
            return credited, other
        rows = np.concatenate([touches, money])
        is_money = np.concatenate([np.zeros(len(touches), np.int8), np.ones(len(money), np.int8)])
        step = np.concatenate([row_step[touches], np.zeros(len(money), np.int64)])
        # by person, then time; at one moment touches first (credited to a payment at that moment), the
        # later step last among touches (the one a running maximum picks)
        order = np.lexsort((step, is_money, ts[rows], person[rows]))
        rows, is_money, step = rows[order], is_money[order], step[order]
        position = np.arange(len(rows))
        latest = np.maximum.accumulate(np.where(is_money == 0, position, -1))
        paying = np.flatnonzero(is_money == 1)
        touch_at = latest[paying]
        valid = touch_at >= 0
        paying, touch_at = paying[valid], touch_at[valid]
        same = person[rows[touch_at]] == person[rows[paying]]
        close = ts[rows[paying]] - ts[rows[touch_at]] <= self.window_us
        paying, touch_at = paying[same & close], touch_at[same & close]
        amounts = _numbers(revenue)[rows[paying]]
        owners = person[rows[paying]]
        for k in range(len(self.reactions)):
            chosen = step[touch_at] == k
            credited[k] = np.bincount(owners[chosen], weights=amounts[chosen], minlength=n)
        return credited, other


def _first_variant(
    rows: np.ndarray, ts: np.ndarray, person: np.ndarray, t0: np.ndarray, variant: Coded, n: int
) -> np.ndarray:
    """The variant code of each person's first touch; ties at ``t0`` go to the smallest name."""
    values = variant.values
    by_name = sorted(range(len(values)), key=values.__getitem__)
    rank = np.empty(len(values) + 1, dtype=np.int64)  # the last slot: code -1, no variant
    rank[by_name] = np.arange(len(values))
    rank[-1] = _NO_VARIANT
    first = rows[ts[rows] == t0[person[rows]]]
    best = np.full(n, _NO_VARIANT, dtype=np.int64)
    np.minimum.at(best, person[first], rank[np.asarray(variant.codes)[first]])
    chosen = np.full(n, -1, dtype=np.int32)
    has = best < _NO_VARIANT
    chosen[has] = np.asarray(by_name, dtype=np.int64)[best[has]]
    return chosen


def _is_value(column: Coded, value: str) -> np.ndarray:
    try:
        code = column.values.index(value)
    except ValueError:
        return np.zeros(len(column), dtype=bool)
    hit: np.ndarray = np.asarray(column.codes) == code
    return hit


def _numbers(column: Coded) -> np.ndarray:
    """Each row's revenue as a number (0 where missing or not finite): the engines hand it as text."""
    table = np.zeros(len(column.values) + 1, dtype=np.float64)
    for i, text in enumerate(column.values):
        try:
            table[i] = float(text)
        except ValueError:
            table[i] = 0.0
    table[~np.isfinite(table)] = 0.0
    numbers: np.ndarray = table[np.asarray(column.codes)]
    return numbers

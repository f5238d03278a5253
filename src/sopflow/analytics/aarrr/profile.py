"""The person profile: what AARRR, ROI and targets read of each person, as one per-person function.

:class:`PersonProfile` is the function both engines run (see :mod:`sopflow.analytics.frame`). Per person it
returns:

- ``channel``: the channel of the person's first event that has one (all events, whatever the range:
  where the person came from); at equal timestamps the smallest channel id, so the order of same-time
  events never matters. ``channel_ts``: that event's time.
- ``stage_ts_K`` (K = 1 … number of funnel stages): the time of the person's first event *in the range*
  that fills stage K (the stage's event, meeting its ``where``); ``NONE`` when there is none.
- with ``invitations``: ``inviter`` (the ``inviter_id`` of the person's first event that carries one, ties
  by the smallest id) and ``invited_ts`` (that event's time, ``NONE`` when never invited);
- with ``aliases``: every raw id of the person (their events' ``user_id`` values, sorted, one per line),
  so that an ``inviter_id`` naming any of them finds the person;
- with ``revenue``: the person's revenue events in the range as JSON text
  ``[[ts, amount, currency, first_touch, last_touch], …]`` (amount as the exact text the engine gives,
  e.g. ``"99.0000"``; the touches are the channels of the person's first event with a channel, and of the
  last one at or before the revenue event, ``null`` when none; ties by the smallest channel id).

Cross-person relations (who invited whom) are joined in the aggregation, never here: a frame may hold any
subset of persons.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from itertools import pairwise

import numpy as np

from sopflow.analytics.aarrr.remember import remembered
from sopflow.analytics.aarrr.revenue import LineCodes, RevenueRows, in_range
from sopflow.analytics.conditions import Condition, from_playbook, rows_holding
from sopflow.analytics.frame import Coded, FrameRequest, PersonFrame, PersonTable
from sopflow.playbook.model import Playbook

NONE = np.iinfo(np.int64).min  # "no such event", the funnel's sentinel too
_NO_RANK = np.iinfo(np.int64).max


@dataclass(frozen=True)
class StageRule:
    """A funnel stage as the profile matches it: its event and the tests of its ``where``."""

    id: str
    event: str
    tests: tuple[Condition, ...] = ()


def stage_rules(playbook: Playbook) -> tuple[StageRule, ...]:
    return tuple(StageRule(s.id, s.event, from_playbook(s.where)) for s in playbook.funnel.stages)


@dataclass(frozen=True)
class ProfileSpec:
    stages: tuple[StageRule, ...]
    start: int | None = None  # range, µs UTC, [start, end)
    end: int | None = None
    invitations: bool = False
    aliases: bool = False
    revenue: bool = False

    def request(self) -> FrameRequest:
        columns = ["channel"]
        for rule in self.stages:
            columns += [t.prop for t in rule.tests if t.prop not in columns]
        wanted = [
            ("inviter_id", self.invitations),
            ("user_id", self.aliases),
            ("revenue", self.revenue),
            ("currency", self.revenue),
        ]
        columns += [name for name, on in wanted if on and name not in columns]
        # Every event: a person's channel is that of their first event with one, whatever its name.
        return FrameRequest(events=None, columns=tuple(columns))


@dataclass(frozen=True)
class PersonProfile:
    spec: ProfileSpec

    def __call__(self, frame: PersonFrame) -> PersonTable:
        # What does not depend on the range is kept with the frame (see ``remember.py``): a new range
        # filters rows found once per snapshot instead of passing over every event again.
        spec, n = self.spec, frame.n_persons
        person = remembered(frame, "person", frame.person_of_rows)
        ts = np.asarray(frame.ts, dtype=np.int64)
        channel, channel_ts = remembered(
            frame, ("first", "channel"), lambda: first_values(person, ts, frame.columns["channel"], n)
        )
        table: PersonTable = {"channel": channel, "channel_ts": channel_ts}
        event = np.asarray(frame.event)
        for k, rule in enumerate(spec.stages, start=1):
            idx = remembered(
                frame, ("stage", rule.event, rule.tests), partial(_stage_idx, frame, rule, event)
            )
            within = idx[in_range(ts[idx], spec.start, spec.end)]
            table[f"stage_ts_{k}"] = first_ts_at(person, ts, within, n)
        if spec.invitations:
            table["inviter"], table["invited_ts"] = remembered(
                frame,
                ("first", "inviter_id"),
                lambda: first_values(person, ts, frame.columns["inviter_id"], n),
            )
        if spec.aliases:
            table["aliases"] = remembered(
                frame, "aliases", lambda: aliases(person, frame.columns["user_id"], n)
            )
        if spec.revenue:
            found = remembered(frame, "revenue", lambda: revenue_rows(frame, person, ts, channel, channel_ts))
            table["revenue"] = found.within(spec.start, spec.end, n)
        return table


def _stage_idx(frame: PersonFrame, rule: StageRule, event: np.ndarray) -> np.ndarray:
    found: np.ndarray = np.flatnonzero(stage_rows(frame, rule, event))
    return found


def stage_rows(frame: PersonFrame, rule: StageRule, event: np.ndarray) -> np.ndarray:
    code = frame.event_code(rule.event)
    if code < 0:
        return np.zeros(len(event), dtype=bool)
    rows: np.ndarray = event == code
    for test in rule.tests:
        rows &= rows_holding(test, frame.columns[test.prop])
    return rows


def first_ts(person: np.ndarray, ts: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """Per person, the time of their first row where ``rows`` holds (rows come by person, time ascending)."""
    return first_ts_at(person, ts, np.flatnonzero(rows), n)


def first_ts_at(person: np.ndarray, ts: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    """:func:`first_ts` of the rows numbered ``idx`` (ascending)."""
    out = np.full(n, NONE, dtype=np.int64)
    if len(idx):
        p = person[idx]
        first = np.r_[True, p[1:] != p[:-1]]
        out[p[first]] = ts[idx[first]]
    return out


def text_ranks(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each code's rank among the values sorted as text, and the code of each rank."""
    order = np.array(sorted(range(len(values)), key=values.__getitem__), dtype=np.int64)
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.arange(len(values), dtype=np.int64)
    return rank, order


def first_values(person: np.ndarray, ts: np.ndarray, column: Coded, n: int) -> tuple[Coded, np.ndarray]:
    """Per person, the value of their first row that has one (ties at that time: the smallest text)."""
    codes = np.asarray(column.codes)
    out_code = np.full(n, -1, dtype=np.int32)
    out_ts = np.full(n, NONE, dtype=np.int64)
    idx = np.flatnonzero(codes >= 0)
    if len(idx):
        p, t = person[idx], ts[idx]
        starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
        first = np.repeat(t[starts], np.diff(np.r_[starts, len(idx)]))
        rank, by_rank = text_ranks(column.values)
        best = np.minimum.reduceat(np.where(t == first, rank[codes[idx]], _NO_RANK), starts)
        out_code[p[starts]] = by_rank[best]
        out_ts[p[starts]] = t[starts]
    return Coded(out_code, column.values), out_ts


def aliases(person: np.ndarray, user_ids: Coded, n: int) -> Coded:
    """Per person, their raw ids: the single id's own code, or a new value of the sorted ids, one a line."""
    codes = np.asarray(user_ids.codes).astype(np.int64)
    idx = np.flatnonzero(codes >= 0)
    out = np.full(n, -1, dtype=np.int32)
    if not len(idx):
        return Coded(out, list(user_ids.values))
    owner = person[idx]
    starts = np.r_[True, owner[1:] != owner[:-1]]
    out[owner[starts]] = codes[idx[starts]]
    # Most persons have one id: only the rows with another id than the person's first need grouping.
    other = idx[codes[idx] != out[owner]]
    values = list(user_ids.values)
    if len(other):
        width = len(values) + 1
        many = np.unique(person[other].astype(np.int64))
        pairs = np.unique(
            np.r_[person[other].astype(np.int64) * width + codes[other], many * width + out[many]]
        )
        holders, held = pairs // width, pairs % width
        bounds = [*np.flatnonzero(np.r_[True, holders[1:] != holders[:-1]]).tolist(), len(pairs)]
        for s, e in pairwise(bounds):
            out[holders[s]] = len(values)
            values.append("\n".join(sorted(user_ids.values[c] for c in held[s:e].tolist())))
    return Coded(out, values)


def revenue_rows(
    frame: PersonFrame, person: np.ndarray, ts: np.ndarray, channel: Coded, channel_ts: np.ndarray
) -> RevenueRows:
    """Every revenue event of ``frame`` whatever the range, with both touches (see ``revenue.py``)."""
    revenue, currency, channels = (
        frame.columns["revenue"],
        frame.columns["currency"],
        frame.columns["channel"],
    )
    rows = np.flatnonzero(np.asarray(revenue.codes) >= 0)
    owners = person[rows]
    first_code = np.asarray(channel.codes)[owners]
    first_code = np.where((first_code >= 0) & (channel_ts[owners] <= ts[rows]), first_code, -1)
    last_code = _last_touch(person, ts, channels, rows) if len(rows) else np.zeros(0, dtype=np.int64)
    # ``channel`` (the profile's) and the frame's channel column share their values.
    codes = LineCodes(
        ts=ts[rows],
        amount=np.asarray(revenue.codes)[rows],
        currency=np.asarray(currency.codes)[rows],
        first=first_code,
        last=last_code,
        amounts=revenue.values,
        currencies=currency.values,
        channels=channels.values,
    )
    return RevenueRows.of(owners, codes)


def _last_touch(person: np.ndarray, ts: np.ndarray, column: Coded, rows: np.ndarray) -> np.ndarray:
    """For each of ``rows``, the channel code of the same person's last event with a channel at or before it.

    Events are grouped by (person, ts); a group's channel is the smallest of its channels, so ties at the same
    timestamp never depend on their order.
    """
    starts = np.flatnonzero(np.r_[True, (person[1:] != person[:-1]) | (ts[1:] != ts[:-1])])
    group = np.cumsum(np.r_[True, (person[1:] != person[:-1]) | (ts[1:] != ts[:-1])]) - 1
    codes = np.asarray(column.codes)
    if not column.values:
        return np.full(len(rows), -1, dtype=np.int64)
    rank, by_rank = text_ranks(column.values)
    best = np.minimum.reduceat(np.where(codes >= 0, rank[np.maximum(codes, 0)], _NO_RANK), starts)
    has = best != _NO_RANK
    last = np.maximum.accumulate(np.where(has, np.arange(len(starts)), -1))
    candidate = last[group[rows]]
    safe = np.maximum(candidate, 0)
    same_person = (candidate >= 0) & (person[starts[safe]] == person[rows])
    found: np.ndarray = np.where(same_person, by_rank[np.where(has[safe], best[safe], 0)], -1)
    return found


def profile_rows(table: PersonTable, spec: ProfileSpec) -> PersonTable:
    """``table`` as read, or the profile of nobody when the engine returned no columns at all (no persons)."""
    if table:
        return table
    request = spec.request()
    empty = PersonFrame(
        offsets=np.zeros(1, dtype=np.int64),
        ts=np.zeros(0, dtype=np.int64),
        event=np.zeros(0, dtype=np.int32),
        event_names=[],
        columns={name: Coded(np.zeros(0, dtype=np.int32), []) for name in request.columns},
    )
    return PersonProfile(spec)(empty)

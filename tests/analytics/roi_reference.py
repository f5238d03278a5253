"""The per-row profile revenue and ROI ledger as they were before the vectorised path: the reference the
parity tests hold the library to (tests/analytics/test_roi_parity.py). Kept as written then; only the helpers
that did not change (first values, stage rows, aliases, last touch) come from the library."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, tzinfo
from decimal import Decimal

import numpy as np

from sopflow.analytics.aarrr.channels import NO_CHANNEL, channel_ids, count_by_channel
from sopflow.analytics.aarrr.invitations import invited_within
from sopflow.analytics.aarrr.profile import (
    NONE,
    ProfileSpec,
    _last_touch,
    aliases,
    first_ts,
    first_values,
    stage_rows,
)
from sopflow.analytics.frame import Coded, PersonFrame, PersonTable
from sopflow.analytics.roi.costs import CostRow
from sopflow.analytics.roi.definition import Attribution, Ledger, _add_fixed_costs, local_days, money
from sopflow.errors import InvalidInput
from sopflow.playbook.estimate import REFERRAL_CHANNEL, revenue_stage
from sopflow.playbook.model import Playbook


def reference_profile(spec: ProfileSpec, frame: PersonFrame) -> PersonTable:
    n = frame.n_persons
    person = frame.person_of_rows()
    ts = np.asarray(frame.ts, dtype=np.int64)
    inside = np.ones(len(ts), dtype=bool)
    if spec.start is not None:
        inside &= ts >= spec.start
    if spec.end is not None:
        inside &= ts < spec.end
    channel, channel_ts = first_values(person, ts, frame.columns["channel"], n)
    table: PersonTable = {"channel": channel, "channel_ts": channel_ts}
    event = np.asarray(frame.event)
    for k, rule in enumerate(spec.stages, start=1):
        table[f"stage_ts_{k}"] = first_ts(person, ts, stage_rows(frame, rule, event) & inside, n)
    if spec.invitations:
        table["inviter"], table["invited_ts"] = first_values(person, ts, frame.columns["inviter_id"], n)
    if spec.aliases:
        table["aliases"] = aliases(person, frame.columns["user_id"], n)
    if spec.revenue:
        table["revenue"] = reference_revenue_lines(frame, person, ts, inside, channel, channel_ts)
    return table


def reference_revenue_lines(
    frame: PersonFrame,
    person: np.ndarray,
    ts: np.ndarray,
    inside: np.ndarray,
    channel: Coded,
    channel_ts: np.ndarray,
) -> Coded:
    revenue, currency = frame.columns["revenue"], frame.columns["currency"]
    rows = np.flatnonzero((np.asarray(revenue.codes) >= 0) & inside)
    codes = np.full(frame.n_persons, -1, dtype=np.int32)
    if not len(rows):
        return Coded(codes, [])
    owners = person[rows]
    first_code = np.asarray(channel.codes)[owners]
    first_code = np.where((first_code >= 0) & (channel_ts[owners] <= ts[rows]), first_code, -1)
    last_code = _last_touch(person, ts, frame.columns["channel"], rows)
    names = frame.columns["channel"].values
    amounts, currencies = revenue.take(rows).decoded(), currency.take(rows).decoded()
    stamps, first, last = ts[rows].tolist(), first_code.tolist(), last_code.tolist()
    lines: dict[int, list[list[object]]] = {}
    for i, owner in enumerate(owners.tolist()):
        lines.setdefault(owner, []).append(
            [
                stamps[i],
                amounts[i],
                currencies[i],
                channel.values[first[i]] if first[i] >= 0 else None,
                names[last[i]] if last[i] >= 0 else None,
            ]
        )
    values: list[str] = []
    for owner, items in lines.items():
        codes[owner] = len(values)
        values.append(json.dumps(items, ensure_ascii=False, separators=(",", ":")))
    return Coded(codes, values)


def reference_ledger(
    table: PersonTable,
    *,
    playbook: Playbook,
    spec: ProfileSpec,
    attribution: Attribution,
    tz: tzinfo,
    bounds: tuple[date, date] | None,
    cost_rows: list[CostRow] | None,
) -> Ledger:
    ledger = Ledger()
    if bounds is not None:
        ledger.first_day, ledger.last_day = bounds
    channel = table["channel"]
    assert isinstance(channel, Coded)
    ids = channel_ids(channel)
    new = np.asarray(table["stage_ts_1"]) != NONE
    ledger.new_users = count_by_channel(ids[new])
    paying = revenue_stage(playbook)
    if paying is not None:
        reached = np.asarray(table[f"stage_ts_{paying + 1}"]) != NONE
        ledger.paying_users = count_by_channel(ids[reached])
    _add_revenue(ledger, table, playbook, attribution, tz)
    if bounds is not None:
        _add_fixed_costs(ledger, playbook, bounds[0], cost_rows)
    funnel = playbook.funnel
    for item in playbook.costs:
        if item.per != "user" or item.stage is None or not item.amount:
            continue
        at = np.asarray(table[f"stage_ts_{funnel.index(item.stage) + 1}"])
        hit = at != NONE
        _add_each(ledger, ids[hit], at[hit], money(item.amount), "per_user", tz)
    referral = playbook.funnel.referral
    if referral is not None and referral.reward_per_invitee:
        invited = invited_within(table, spec.start, spec.end)
        at = np.asarray(table["invited_ts"])[invited]
        rids = np.full(len(at), REFERRAL_CHANNEL, dtype=object)
        _add_each(ledger, rids, at, money(referral.reward_per_invitee), "rewards", tz)
    return ledger


def _add_revenue(
    ledger: Ledger, table: PersonTable, playbook: Playbook, attribution: Attribution, tz: tzinfo
) -> None:
    column = table["revenue"]
    assert isinstance(column, Coded)
    lines = []
    for code in np.asarray(column.codes)[np.asarray(column.codes) >= 0].tolist():
        lines += json.loads(column.values[code])
    currency = playbook.meta.currency
    found: dict[str, int] = defaultdict(int)
    for line in lines:
        found[line[2] or currency] += 1
    if set(found) - {currency}:
        listed = ", ".join(f"{c} ({n})" for c, n in sorted(found.items()))
        raise InvalidInput(f"currencies: {listed}")
    days = local_days(np.array([line[0] for line in lines], dtype=np.int64), tz)
    touch = 3 if attribution == "first" else 4
    for line, day in zip(lines, days, strict=True):
        ledger.revenue[(line[touch] or NO_CHANNEL, day)] += Decimal(line[1])


def _add_each(
    ledger: Ledger, ids: np.ndarray, at: np.ndarray, amount: Decimal, part: str, tz: tzinfo
) -> None:
    counts: dict[tuple[str, date], int] = defaultdict(int)
    for cid, day in zip(ids.tolist(), local_days(at, tz), strict=True):
        counts[(str(cid), day)] += 1
    for (cid, day), n in counts.items():
        ledger.add_cost(cid, day, amount * n, part)

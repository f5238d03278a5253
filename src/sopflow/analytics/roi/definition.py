"""ROI (投产比): which money counts, on which channel and on which day.

Per person (the profile, :mod:`sopflow.analytics.aarrr.profile`): channel (of the first event with one),
the first event of each funnel stage in the range, the first invitation, and the revenue events in the range
with their first and last touch. Shared aggregation from there:

- Revenue: the ``revenue`` of every event in the range, summed as exact decimals; an event without
  ``currency`` is in the playbook's currency, and any other currency is refused (costs are in the
  playbook's currency). Attributed to a channel by ``first`` touch (the channel of the person's first
  event that has one, if at or before the revenue event) or ``last`` touch (the channel of the person's
  last event with one at or before it); ``"(none)"`` when there is no such event.
- Costs, the plan's cost rules (:mod:`sopflow.playbook.estimate`) applied to actual counts:
  fixed costs — each channel's ``cost`` on its channel and the ``per: campaign`` items on the campaign,
  incurred on the first day — unless a costs file is given, whose rows then are the fixed costs
  (on their date and channel; a blank channel is the campaign's); per-user items (``amount`` × persons
  reaching the item's stage in the range, on the day each reached it, on each person's channel); referral
  rewards (``reward_per_invitee`` × persons invited in the range, on the day of the invitation, on the
  ``referral`` channel).
- New persons: persons whose first-stage event is in the range; paying persons: at the revenue stage (the
  first stage tagged ``revenue``, else the first with a value, as in the plan), both by their channel.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, tzinfo
from decimal import Decimal
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sopflow.analytics.aarrr.channels import NO_CHANNEL, channel_ids, count_by_channel
from sopflow.analytics.aarrr.invitations import invited_within
from sopflow.analytics.aarrr.profile import NONE, PersonProfile, ProfileSpec, stage_rules
from sopflow.analytics.frame import Coded, PersonTable
from sopflow.analytics.roi.costs import CostRow
from sopflow.analytics.timerange import TimeRange
from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.playbook.estimate import REFERRAL_CHANNEL, revenue_stage
from sopflow.playbook.model import Playbook

Attribution = Literal["first", "last"]
ATTRIBUTIONS: tuple[Attribution, ...] = ("first", "last")
CAMPAIGN = "(campaign)"  # the bucket of costs that belong to no channel


def roi_profile(playbook: Playbook, time_range: TimeRange | None) -> ProfileSpec:
    return ProfileSpec(
        stages=stage_rules(playbook),
        start=time_range.start if time_range else None,
        end=time_range.end if time_range else None,
        invitations=True,
        revenue=True,
    )


def person_function(spec: ProfileSpec) -> PersonProfile:
    return PersonProfile(spec)


@dataclass
class Ledger:
    """Money by (channel or campaign, day), persons by channel: everything the ROI numbers come from."""

    revenue: dict[tuple[str, date], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    cost: dict[tuple[str, date], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    cost_parts: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    new_users: dict[str, int] = field(default_factory=dict)
    paying_users: dict[str, int] = field(default_factory=dict)
    first_day: date | None = None
    last_day: date | None = None

    def add_cost(self, bucket: str, day: date, amount: Decimal, part: str) -> None:
        self.cost[(bucket, day)] += amount
        self.cost_parts[(bucket, part)] += amount


def local_days(ts: np.ndarray, tz: tzinfo) -> list[date]:
    """The day in ``tz`` of each µs timestamp."""
    if not len(ts):
        return []
    stamps = pa.array(np.asarray(ts, dtype=np.int64), pa.timestamp("us", tz=str(tz)))
    days: list[date] = pc.local_timestamp(stamps).cast(pa.date32()).to_pylist()
    return days


def build_ledger(
    table: PersonTable,
    *,
    playbook: Playbook,
    spec: ProfileSpec,
    attribution: Attribution,
    tz: tzinfo,
    bounds: tuple[date, date] | None,
    cost_rows: list[CostRow] | None,
) -> Ledger:
    """Every amount of revenue and cost, on its channel and day (definitions in the module docstring).

    ``bounds``: the first and last day of the analysis (fixed costs fall on the first); ``None`` when
    there are no events and no cost rows.
    """
    ledger = Ledger()
    if bounds is not None:
        ledger.first_day, ledger.last_day = bounds
    channel = table["channel"]
    assert isinstance(channel, Coded)
    ids = channel_ids(channel)
    _count_persons(ledger, table, playbook, ids)
    _add_revenue(ledger, table, playbook, attribution, tz)
    if bounds is not None:
        _add_fixed_costs(ledger, playbook, bounds[0], cost_rows)
    _add_per_user_costs(ledger, table, playbook, ids, tz)
    _add_rewards(ledger, table, playbook, spec, tz)
    return ledger


def _count_persons(ledger: Ledger, table: PersonTable, playbook: Playbook, ids: np.ndarray) -> None:
    new = np.asarray(table["stage_ts_1"]) != NONE
    ledger.new_users = count_by_channel(ids[new])
    paying = revenue_stage(playbook)
    if paying is not None:
        reached = np.asarray(table[f"stage_ts_{paying + 1}"]) != NONE
        ledger.paying_users = count_by_channel(ids[reached])


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
        raise InvalidInput(
            _(
                "revenue comes in several currencies or not in the playbook's: {found} revenue events; "
                "ROI compares revenue with costs in {currency}, so convert the other currencies first",
                found=listed,
                currency=currency,
            )
        )
    days = local_days(np.array([line[0] for line in lines], dtype=np.int64), tz)
    touch = 3 if attribution == "first" else 4
    for line, day in zip(lines, days, strict=True):
        ledger.revenue[(line[touch] or NO_CHANNEL, day)] += Decimal(line[1])


def _add_fixed_costs(ledger: Ledger, playbook: Playbook, first_day: date, rows: list[CostRow] | None) -> None:
    if rows is not None:
        for row in rows:
            ledger.add_cost(row.channel or CAMPAIGN, row.day, row.amount, "fixed")
        return
    for channel in playbook.channels:
        if channel.cost:
            ledger.add_cost(channel.id, first_day, money(channel.cost), "fixed")
    for item in playbook.costs:
        if item.per == "campaign" and item.amount:
            ledger.add_cost(CAMPAIGN, first_day, money(item.amount), "fixed")


def _add_per_user_costs(
    ledger: Ledger, table: PersonTable, playbook: Playbook, ids: np.ndarray, tz: tzinfo
) -> None:
    funnel = playbook.funnel
    for item in playbook.costs:
        if item.per != "user" or item.stage is None or not item.amount:
            continue
        at = np.asarray(table[f"stage_ts_{funnel.index(item.stage) + 1}"])
        reached = at != NONE
        _add_each(ledger, ids[reached], at[reached], money(item.amount), "per_user", tz)


def _add_rewards(
    ledger: Ledger, table: PersonTable, playbook: Playbook, spec: ProfileSpec, tz: tzinfo
) -> None:
    referral = playbook.funnel.referral
    if referral is None or not referral.reward_per_invitee:
        return
    invited = invited_within(table, spec.start, spec.end)
    at = np.asarray(table["invited_ts"])[invited]
    ids = np.full(len(at), REFERRAL_CHANNEL, dtype=object)
    _add_each(ledger, ids, at, money(referral.reward_per_invitee), "rewards", tz)


def _add_each(
    ledger: Ledger, ids: np.ndarray, at: np.ndarray, amount: Decimal, part: str, tz: tzinfo
) -> None:
    """``amount`` once per person, on their channel and on the day of ``at``."""
    counts: dict[tuple[str, date], int] = defaultdict(int)
    for cid, day in zip(ids.tolist(), local_days(at, tz), strict=True):
        counts[(str(cid), day)] += 1
    for (cid, day), n in counts.items():
        ledger.add_cost(cid, day, amount * n, part)


def money(value: float) -> Decimal:
    """A playbook amount (a YAML number) as the decimal written: 12.5 → Decimal("12.5")."""
    return Decimal(repr(float(value)))

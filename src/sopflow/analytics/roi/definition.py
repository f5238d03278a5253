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
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, tzinfo
from decimal import Decimal
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sopflow.analytics.aarrr.channels import NO_CHANNEL
from sopflow.analytics.aarrr.invitations import invited_within
from sopflow.analytics.aarrr.profile import NONE, PersonProfile, ProfileSpec, stage_rules
from sopflow.analytics.aarrr.revenue import LineCodes, RevenueLines
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


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def local_day_numbers(ts: np.ndarray, tz: tzinfo) -> np.ndarray:
    """:func:`local_days` as int64 day numbers (days since 1970-01-01), without a Python object per row."""
    if not len(ts):
        return np.zeros(0, dtype=np.int64)
    stamps = pa.array(np.asarray(ts, dtype=np.int64), pa.timestamp("us", tz=str(tz)))
    days = pc.local_timestamp(stamps).cast(pa.date32()).cast(pa.int32())
    return np.asarray(days.to_numpy(zero_copy_only=False), dtype=np.int64)


def day_of(number: int) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + number)


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
    # Channels as codes into ``names`` (the last one: no channel), grouped as numbers; by name at the end.
    names = [*channel.values, NO_CHANNEL]
    codes = np.asarray(channel.codes).astype(np.int64)
    codes = np.where(codes >= 0, codes, len(channel.values))
    _count_persons(ledger, table, playbook, codes, names)
    _add_revenue(ledger, table, playbook, attribution, tz)
    if bounds is not None:
        _add_fixed_costs(ledger, playbook, bounds[0], cost_rows)
    _add_per_user_costs(ledger, table, playbook, codes, names, tz)
    _add_rewards(ledger, table, playbook, spec, tz)
    return ledger


def _count_persons(
    ledger: Ledger, table: PersonTable, playbook: Playbook, codes: np.ndarray, names: list[str]
) -> None:
    new = np.asarray(table["stage_ts_1"]) != NONE
    ledger.new_users = _count_by_name(codes[new], names)
    paying = revenue_stage(playbook)
    if paying is not None:
        reached = np.asarray(table[f"stage_ts_{paying + 1}"]) != NONE
        ledger.paying_users = _count_by_name(codes[reached], names)


def _count_by_name(codes: np.ndarray, names: list[str]) -> dict[str, int]:
    """Persons per channel id (as :func:`count_by_channel`: ids sorted, none without persons)."""
    counts: dict[str, int] = defaultdict(int)
    for code, n in enumerate(np.bincount(codes, minlength=len(names)).tolist()):
        if n:
            counts[names[code]] += n
    return dict(sorted(counts.items()))


def revenue_line_items(column: Coded) -> list[list[object]]:
    """Every revenue line of the profile's ``revenue`` column, persons in row order: one JSON parse."""
    codes = np.asarray(column.codes)
    present = codes[codes >= 0].tolist()
    if not present:
        return []
    values = column.values
    persons: list[list[list[object]]] = json.loads("[" + ",".join([values[c] for c in present]) + "]")
    return [line for items in persons for line in items]


def _add_revenue(
    ledger: Ledger, table: PersonTable, playbook: Playbook, attribution: Attribution, tz: tzinfo
) -> None:
    column = table["revenue"]
    assert isinstance(column, Coded)
    if isinstance(column, RevenueLines) and column.lines is not None:
        sums = _revenue_of_codes(column.lines, playbook.meta.currency, attribution, tz)
    else:
        sums = _revenue_of_text(revenue_line_items(column), playbook.meta.currency, attribution, tz)
    for key, amount in sums.items():
        ledger.revenue[key] += amount


def _revenue_of_text(
    lines: list[list[object]], currency: str, attribution: Attribution, tz: tzinfo
) -> dict[tuple[str, date], Decimal]:
    """Revenue by (touch, day) from the lines as parsed from the profile's JSON."""
    found: dict[str, int] = defaultdict(int)
    for line in lines:
        found[str(line[2] or currency)] += 1
    _one_currency(found, currency)
    days = local_day_numbers(np.array([line[0] for line in lines], dtype=np.int64), tz).tolist()
    touch = 3 if attribution == "first" else 4
    # Equal amounts on one (channel, day) are counted, then multiplied: exact decimals either way.
    counts = Counter((line[touch] or NO_CHANNEL, day, line[1]) for line, day in zip(lines, days, strict=True))
    sums: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for (bucket, day, amount), n in counts.items():
        sums[(str(bucket), day_of(day))] += Decimal(str(amount)) * n
    return sums


def _revenue_of_codes(
    lines: LineCodes, currency: str, attribution: Attribution, tz: tzinfo
) -> dict[tuple[str, date], Decimal]:
    """:func:`_revenue_of_text` of the same lines held as codes (the embedded engine's): no JSON, no row loop."""
    found: dict[str, int] = defaultdict(int)
    per_code = np.bincount(lines.currency + 1, minlength=len(lines.currencies) + 1).tolist()
    for code, n in enumerate(per_code):
        if n:
            found[(lines.currencies[code - 1] if code else None) or currency] += n
    _one_currency(found, currency)
    sums: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    if not len(lines.ts):
        return sums
    touch = (lines.first if attribution == "first" else lines.last).astype(np.int64) + 1
    days = local_day_numbers(lines.ts, tz)
    low = int(days.min())
    span_day, span_amount = int(days.max()) - low + 1, len(lines.amounts)
    keys = (touch * span_day + (days - low)) * span_amount + lines.amount.astype(np.int64)
    unique, counts = np.unique(keys, return_counts=True)
    for key, n in zip(unique.tolist(), counts.tolist(), strict=True):
        rest, amount = divmod(key, span_amount)
        code, day = divmod(rest, span_day)
        bucket = (lines.channels[code - 1] if code else None) or NO_CHANNEL
        sums[(bucket, day_of(low + day))] += Decimal(lines.amounts[amount]) * n
    return sums


def _one_currency(found: dict[str, int], currency: str) -> None:
    """Refuse revenue in another currency than the playbook's (``found``: revenue events per currency)."""
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
    ledger: Ledger, table: PersonTable, playbook: Playbook, codes: np.ndarray, names: list[str], tz: tzinfo
) -> None:
    funnel = playbook.funnel
    for item in playbook.costs:
        if item.per != "user" or item.stage is None or not item.amount:
            continue
        at = np.asarray(table[f"stage_ts_{funnel.index(item.stage) + 1}"])
        reached = at != NONE
        _add_each(ledger, codes[reached], names, at[reached], money(item.amount), "per_user", tz)


def _add_rewards(
    ledger: Ledger, table: PersonTable, playbook: Playbook, spec: ProfileSpec, tz: tzinfo
) -> None:
    referral = playbook.funnel.referral
    if referral is None or not referral.reward_per_invitee:
        return
    invited = invited_within(table, spec.start, spec.end)
    at = np.asarray(table["invited_ts"])[invited]
    codes = np.zeros(len(at), dtype=np.int64)
    _add_each(ledger, codes, [REFERRAL_CHANNEL], at, money(referral.reward_per_invitee), "rewards", tz)


def _add_each(
    ledger: Ledger,
    codes: np.ndarray,
    names: list[str],
    at: np.ndarray,
    amount: Decimal,
    part: str,
    tz: tzinfo,
) -> None:
    """``amount`` once per person, on their channel (``names[code]``) and on the day of ``at``."""
    if not len(at):
        return
    days = local_day_numbers(at, tz)
    low = int(days.min())
    span = int(days.max()) - low + 1
    keys, counts = np.unique(codes * span + (days - low), return_counts=True)
    per: dict[tuple[str, date], int] = defaultdict(int)
    for key, n in zip(keys.tolist(), counts.tolist(), strict=True):
        code, day = divmod(key, span)
        per[(names[code], day_of(low + day))] += n
    for (cid, day), n in per.items():
        ledger.add_cost(cid, day, amount * n, part)


def money(value: float) -> Decimal:
    """A playbook amount (a YAML number) as the decimal written: 12.5 → Decimal("12.5")."""
    return Decimal(repr(float(value)))

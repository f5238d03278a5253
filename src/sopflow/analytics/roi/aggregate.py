"""ROI numbers from the ledger: per channel and overall, with the plan's numbers beside.

- ``roi`` (投产比) = revenue ÷ cost; ``cac`` = cost ÷ paying persons (the plan's definition of the target
  metric ``cac``); ``cost_per_new_user`` = cost ÷ new persons; ``revenue_per_user`` = revenue ÷ new persons;
  ``profit`` = revenue − cost. A division by zero gives ``null``.
- ``payback_days``: days from the first day of the analysis to the first day from which cumulative revenue
  stays at or above cumulative cost (> 0) through the last day; ``null`` if that never holds (or there is no
  cost). Per channel with the channel's own revenue and costs; overall with every cost.
- A channel's numbers use its own costs (fixed, per-user, rewards); campaign-level costs appear in the
  totals only (``campaign_cost``), so the channels' costs plus ``campaign_cost`` make the total.

``--json`` shape of ``sopflow roi`` (money as numbers in ``currency``, exact sums of decimals)::

    {"playbook": {"id", "name", "version"}, "currency", "attribution": "first"|"last",
     "costs": {"source": "playbook"|"file", "file": null|PATH},
     "days": {"first", "last"} (ISO dates, null without data),
     "totals": {"new_users", "paying_users", "revenue", "cost", "campaign_cost", "profit", "roi", "cac",
                "cost_per_new_user", "revenue_per_user", "payback_days", "payback_date",
                "plan": {"new_users", "revenue", "cost", "roi", "cac", "cost_per_new_user", "revenue_per_user"}},
     "channels": [{"channel", "name", "new_users", "paying_users", "revenue", "cost",
                   "cost_parts": {"fixed", "per_user", "rewards"}, "roi", "cac", "cost_per_new_user",
                   "revenue_per_user", "payback_days", "payback_date", "plan": null | {as in totals}}],
     "range": {"from", "to", "tz"}, "engine"}
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, tzinfo
from decimal import Decimal
from typing import Any

import numpy as np

from sopflow.analytics.aarrr.channels import channel_name, ordered_channels
from sopflow.analytics.aarrr.profile import PersonProfile, ProfileSpec, profile_rows
from sopflow.analytics.aarrr.session import whole_range
from sopflow.analytics.frame import Engine, PersonTable
from sopflow.analytics.roi.costs import CostRow
from sopflow.analytics.roi.definition import (
    CAMPAIGN,
    Attribution,
    Ledger,
    build_ledger,
    local_days,
    roi_profile,
)
from sopflow.analytics.timerange import TimeRange
from sopflow.playbook.estimate import REFERRAL_CHANNEL, Plan, clean_numbers, estimate
from sopflow.playbook.model import Playbook

COST_PARTS = ("fixed", "per_user", "rewards")


@dataclass(frozen=True)
class Numbers:
    """One group's numbers (a channel, or everything)."""

    new_users: int
    paying_users: int
    revenue: Decimal
    cost: Decimal
    roi: float | None
    cac: float | None
    cost_per_new_user: float | None
    revenue_per_user: float | None
    payback_days: int | None
    payback_date: str | None


@dataclass(frozen=True)
class ChannelRoi:
    channel: str
    name: str
    numbers: Numbers
    cost_parts: dict[str, Decimal]
    plan: dict[str, float | None] | None

    def as_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "name": self.name,
            **_numbers_json(self.numbers),
            "cost_parts": dict(self.cost_parts),
            "plan": self.plan,
        }


@dataclass(frozen=True)
class RoiResult:
    playbook: dict[str, str]
    currency: str
    attribution: str
    costs: dict[str, str | None]
    days: dict[str, str | None]
    totals: Numbers
    campaign_cost: Decimal
    plan: dict[str, float | None]
    channels: list[ChannelRoi]
    range: dict[str, Any] = field(default_factory=dict)
    engine: str = ""

    @property
    def profit(self) -> Decimal:
        return self.totals.revenue - self.totals.cost

    def as_json(self) -> dict[str, Any]:
        totals = _numbers_json(self.totals)
        totals |= {
            "campaign_cost": float(self.campaign_cost),
            "profit": float(self.profit),
            "plan": self.plan,
        }
        data = {
            "playbook": self.playbook,
            "currency": self.currency,
            "attribution": self.attribution,
            "costs": self.costs,
            "days": self.days,
            "totals": totals,
            "channels": [c.as_json() for c in self.channels],
            "range": self.range,
            "engine": self.engine,
        }
        exact: dict[str, Any] = money_numbers(clean_numbers(data))
        return exact


def money_numbers(value: Any) -> Any:
    """Decimal sums as JSON numbers, after :func:`clean_numbers` (whose rounding is for ratios, not money):
    exact up to 15 significant digits."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: money_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [money_numbers(v) for v in value]
    return value


def _numbers_json(numbers: Numbers) -> dict[str, Any]:
    return asdict(numbers)


def compute_roi(
    *,
    engine: Engine,
    playbook: Playbook,
    time_range: TimeRange | None = None,
    attribution: Attribution = "first",
    cost_rows: list[CostRow] | None = None,
    costs_file: str | None = None,
) -> RoiResult:
    """Revenue, cost, ROI, CAC and payback of ``playbook`` on the engine's events, overall and per channel
    (``time_range``: every event, days in the playbook's time zone, when not given)."""
    time_range = time_range or whole_range(playbook)
    spec = roi_profile(playbook, time_range)
    table = engine.map_persons(spec.request(), PersonProfile(spec))
    return aggregate_roi(
        table,
        playbook=playbook,
        spec=spec,
        time_range=time_range,
        attribution=attribution,
        event_bounds=engine.time_bounds(),
        cost_rows=cost_rows,
        costs_file=costs_file,
        engine=engine.name,
    )


def aggregate_roi(
    table: PersonTable,
    *,
    playbook: Playbook,
    spec: ProfileSpec,
    time_range: TimeRange,
    attribution: Attribution,
    event_bounds: tuple[int, int] | None,
    cost_rows: list[CostRow] | None,
    costs_file: str | None = None,
    engine: str = "",
) -> RoiResult:
    tz = time_range.tz
    bounds = analysis_days(time_range, event_bounds, cost_rows)
    if bounds is not None and cost_rows is not None:
        cost_rows = [r for r in cost_rows if bounds[0] <= r.day <= bounds[1]]
    ledger = build_ledger(
        profile_rows(table, spec),
        playbook=playbook,
        spec=spec,
        attribution=attribution,
        tz=tz,
        bounds=bounds,
        cost_rows=cost_rows,
    )
    plan = estimate(playbook)
    return RoiResult(
        playbook={"id": playbook.meta.id, "name": playbook.meta.name, "version": playbook.meta.version},
        currency=playbook.meta.currency,
        attribution=attribution,
        costs={"source": "playbook" if cost_rows is None else "file", "file": costs_file},
        days={
            "first": bounds[0].isoformat() if bounds else None,
            "last": bounds[1].isoformat() if bounds else None,
        },
        totals=_numbers(ledger, None),
        campaign_cost=sum((v for (b, _d), v in ledger.cost.items() if b == CAMPAIGN), Decimal(0)),
        plan=_plan_totals(plan),
        channels=[
            ChannelRoi(
                channel=cid,
                name=channel_name(playbook, cid),
                numbers=_numbers(ledger, cid),
                cost_parts={part: ledger.cost_parts.get((cid, part), Decimal(0)) for part in COST_PARTS},
                plan=_plan_channel(plan, cid),
            )
            for cid in _channels(ledger, playbook)
        ],
        range=time_range.as_json(),
        engine=engine,
    )


def analysis_days(
    time_range: TimeRange, event_bounds: tuple[int, int] | None, cost_rows: list[CostRow] | None
) -> tuple[date, date] | None:
    """First and last day: the range's when given, else those of the events and cost rows."""
    tz = time_range.tz
    firsts: list[date] = []
    lasts: list[date] = []
    if event_bounds is not None:
        lo, hi = local_days_of(event_bounds, tz)
        firsts.append(lo)
        lasts.append(hi)
    if cost_rows:
        firsts.append(min(r.day for r in cost_rows))
        lasts.append(max(r.day for r in cost_rows))
    if time_range.start is not None:
        firsts = [local_days_of((time_range.start, time_range.start), tz)[0]]
    if time_range.end is not None:
        lasts = [local_days_of((time_range.end - 1, time_range.end - 1), tz)[0]]
    if not firsts or not lasts:
        return None
    first, last = min(firsts), max(lasts)
    return (first, last) if first <= last else (first, first)


def local_days_of(bounds: tuple[int, int], tz: tzinfo) -> tuple[date, date]:
    lo, hi = local_days(np.array(bounds, dtype=np.int64), tz)
    return lo, hi


def _channels(ledger: Ledger, playbook: Playbook) -> list[str]:
    seen = set(ledger.new_users) | {b for b, _d in ledger.revenue} | {b for b, _d in ledger.cost}
    seen.discard(CAMPAIGN)
    if playbook.funnel.referral is not None:
        seen.add(REFERRAL_CHANNEL)
    return ordered_channels(playbook, seen, ledger.new_users)


def _numbers(ledger: Ledger, bucket: str | None) -> Numbers:
    """``bucket``'s numbers, or everything's when ``None``."""

    def mine(b: str) -> bool:
        return bucket is None or b == bucket

    revenue_by_day: dict[date, Decimal] = defaultdict(Decimal)
    cost_by_day: dict[date, Decimal] = defaultdict(Decimal)
    for (b, day), amount in ledger.revenue.items():
        if mine(b):
            revenue_by_day[day] += amount
    for (b, day), amount in ledger.cost.items():
        if mine(b):
            cost_by_day[day] += amount
    revenue, cost = sum(revenue_by_day.values(), Decimal(0)), sum(cost_by_day.values(), Decimal(0))
    new = sum(n for b, n in ledger.new_users.items() if mine(b))
    paying = sum(n for b, n in ledger.paying_users.items() if mine(b))
    back = payback(revenue_by_day, cost_by_day)
    return Numbers(
        new_users=new,
        paying_users=paying,
        revenue=revenue,
        cost=cost,
        roi=_ratio(revenue, cost),
        cac=_ratio(cost, paying),
        cost_per_new_user=_ratio(cost, new),
        revenue_per_user=_ratio(revenue, new),
        payback_days=(back - ledger.first_day).days if back and ledger.first_day else None,
        payback_date=back.isoformat() if back else None,
    )


def payback(revenue: dict[date, Decimal], cost: dict[date, Decimal]) -> date | None:
    """The first day from which cumulative revenue stays ≥ cumulative cost (> 0) through the last day."""
    total_revenue = total_cost = Decimal(0)
    since: date | None = None
    for day in sorted(set(revenue) | set(cost)):
        total_revenue += revenue.get(day, Decimal(0))
        total_cost += cost.get(day, Decimal(0))
        paid_back = total_cost > 0 and total_revenue >= total_cost
        since = (since or day) if paid_back else None
    return since


def _ratio(numerator: Decimal | int, denominator: Decimal | int) -> float | None:
    return float(Decimal(numerator) / Decimal(denominator)) if denominator else None


def _plan_totals(plan: Plan) -> dict[str, float | None]:
    t = plan.totals
    return {
        "new_users": t.new_users,
        "revenue": t.revenue,
        "cost": t.cost,
        "roi": t.roi,
        "cac": t.cac,
        "cost_per_new_user": t.cost / t.new_users if t.new_users else None,
        "revenue_per_user": t.revenue_per_user,
    }


def _plan_channel(plan: Plan, channel: str) -> dict[str, float | None] | None:
    found = next((c for c in plan.channels if c.id == channel), None)
    if found is None:
        return None
    return {
        "new_users": found.entrants,
        "revenue": found.revenue,
        "cost": found.cost,
        "roi": found.roi,
        "cac": found.cac,
        "cost_per_new_user": found.cost / found.entrants if found.entrants else None,
        "revenue_per_user": found.revenue / found.entrants if found.entrants else None,
    }

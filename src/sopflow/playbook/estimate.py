"""The estimate (测算): the numbers a playbook expects before launch, and whether its targets are reachable.

Definitions (all counts are expected values kept as floats; they are rounded only for display):

- Channels (generation 0). For channel c: ``reach_c = channel.reach()``, ``entrants_c = reach_c × entry_rate_c``.
  Stage rates ``r_{c,i} = c.rates.get(stage_i.id, stage_i.expected_rate)`` for i ≥ 1 (stage 0 has none; a
  missing ``expected_rate``, which ``validate`` reports, counts as 0). ``users_{c,0} = entrants_c`` and
  ``users_{c,i} = users_{c,i-1} × r_{c,i}``.
- Referral (``funnel.referral``, optional): inviters stage I and entry stage E (both default to the first stage).
  Generation 0 is every channel user. ``invitees_{g+1} = users_at_I(generation g) × referral.k_for(g)`` for
  g = 0 … max_generations − 1. Invitees are counted at every stage up to and including E, then follow the
  funnel's own expected rates (no channel overrides). Referred users appear as the pseudo-channel ``referral``.
- Totals per stage = channels + every referral generation. ``new_users`` = users at the first stage (all),
  ``referred_users`` = Σ invitees, K-factor = Σ invitees ÷ Σ users at I over generations 0 … max_generations − 1.
- Revenue = Σ_i users_i × stage_i.value. Cost = Σ channel.cost + Σ ``costs`` items (``per: campaign``: the
  amount; ``per: user``: amount × users at its stage) + referral.reward_per_invitee × Σ invitees.
- The revenue stage is the first stage tagged ``aarrr: revenue``, else the first with a value > 0, else none.
  CAC = cost ÷ users at the revenue stage; ROI (投产比) = revenue ÷ cost; profit = revenue − cost;
  revenue_per_user = revenue ÷ new_users. A division by zero gives ``None`` (JSON ``null``).
- Per channel: reach, entrants, users per stage, cost, manpower, revenue, ROI and CAC. A channel's cost is its
  own ``cost`` plus the per-user cost items for its users; the referral pseudo-channel carries the rewards and
  the per-user items for referred users; campaign-level cost items appear only in the total (so channels +
  referral + campaign items = total cost).
- Break-even: the revenue stage's conversion from the previous stage at which ROI = 1 (profit = 0), every other
  number held fixed, found by bisection over [0, 1] re-running the whole plan (so referral and per-user costs
  move with it). The rate is applied to everyone reaching that stage: channel overrides of that stage are
  replaced too, so the answer is one conversion rate. ``None`` when there is no revenue stage, when it is the
  first stage (no rate to move), or when even a rate of 1 does not break even; ``already_above`` is true when
  every rate in [0, 1] breaks even (the reported rate is then 0).
- ``metrics``: every name of the target grammar (:mod:`sopflow.playbook.model.targets`) with the plan's value:
  ``users.STAGE``, ``rate.STAGE`` (``None`` for the first stage), ``rate_from_first.STAGE``,
  ``channel_users.CHANNEL`` (entrants; ``channel_users.referral`` = Σ invitees when the playbook has a referral
  and no channel of its own is called ``referral``), ``new_users``, ``referred_users``, ``revenue``, ``cost``,
  ``roi``, ``cac``, ``k_factor`` (0 without a referral).
- Targets: planned value, ``target.effective_direction()``, reachable (at_least: planned ≥ expected; at_most:
  planned ≤ expected; ``None`` when the plan gives no value) and a message when not reachable.

JSON shape of ``sopflow playbook plan --json`` (numbers rounded to 10 significant digits)::

    {"playbook": {"id", "name", "version"}, "currency",
     "stages": [{"index" (1-based), "id", "name", "aarrr", "users", "rate_from_previous" (null on stage 1),
                 "rate_from_first", "value", "revenue"}],
     "channels": [{"id", "name", "kind", "reach", "entrants", "users": [per stage], "cost",
                   "manpower": {"people", "hours"}, "revenue", "roi", "cac"}],     (then "referral" if any)
     "referral": null | {"k_factor", "invitees",
                         "generations": [{"generation" (1-based: the invitees' generation), "k",
                                          "inviters" (users at I in generation − 1), "invitees"}]},
     "totals": {"new_users", "referred_users", "revenue", "cost", "profit", "roi", "cac", "revenue_per_user"},
     "break_even": null | {"stage", "rate_from_previous", "rate_from_first", "already_above"},
     "metrics": {"users.STAGE": …, …},
     "targets": [{"id", "name", "metric", "expected", "planned", "direction", "reachable", "message"}],
     "simulations": null | {"n", "seed", "metrics": {"NAME": {"p10", "p50", "p90"}}}}

The arithmetic runs on NumPy arrays over runs (one run here; many in :mod:`sopflow.playbook.montecarlo`) with a
:class:`Flow` deciding how people move between stages, so the plan and the simulation share one definition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from sopflow.i18n import _
from sopflow.playbook.labels import label
from sopflow.playbook.model import Playbook, Target, parse_metric

Array = npt.NDArray[np.float64]

REFERRAL_CHANNEL = "referral"
_BISECTION_STEPS = 60
# Planned values equal to the target up to float noise count as reaching it.
_REL_EPSILON = 1e-9


# the flow of people ----------------------------------------------------------------------------------
class Flow(Protocol):
    """How people move: expected values here, random draws in the Monte Carlo."""

    def entrants(self, reach: Array, rate: Array) -> Array: ...

    def advance(self, users: Array, rate: Array) -> Array: ...

    def invite(self, inviters: Array, k: Array) -> Array: ...


class ExpectedFlow:
    def entrants(self, reach: Array, rate: Array) -> Array:
        return reach * rate

    def advance(self, users: Array, rate: Array) -> Array:
        return users * rate

    def invite(self, inviters: Array, k: Array) -> Array:
        return inviters * k


@dataclass(frozen=True)
class Inputs:
    """The plan's parameters, each an array over runs."""

    reach: list[Array]  # per channel
    entry_rate: list[Array]  # per channel
    rates: list[list[Array]]  # per channel, per stage (stage 0: ones)
    funnel_rates: list[Array]  # per stage (stage 0: ones), for referred users
    k: list[Array]  # per generation step


@dataclass
class Flows:
    channels: list[list[Array]]  # users per channel per stage (empty when not kept)
    entrants: list[Array]  # per channel
    referral: list[Array]  # referred users per stage, all generations together
    inviters: list[Array]  # users at the inviters stage, generation g = 0 … G−1
    invitees: list[Array]  # invitees of generation g + 1
    totals: list[Array]  # per stage


def stage_rates(playbook: Playbook) -> list[float]:
    """The funnel's expected rate per stage (1 for the first stage, 0 where missing)."""
    return [1.0] + [s.expected_rate or 0.0 for s in playbook.funnel.stages[1:]]


def channel_rates(playbook: Playbook) -> list[list[float]]:
    funnel = stage_rates(playbook)
    stages = playbook.funnel.stages
    return [
        [1.0] + [c.rates.get(s.id, funnel[i]) for i, s in enumerate(stages) if i] for c in playbook.channels
    ]


def generation_ks(playbook: Playbook) -> list[float]:
    referral = playbook.funnel.referral
    return [referral.k_for(g) for g in range(referral.max_generations)] if referral else []


def referral_stages(playbook: Playbook) -> tuple[int, int]:
    """Indexes of the inviters stage I and the entry stage E."""
    referral, funnel = playbook.funnel.referral, playbook.funnel
    if referral is None:
        return 0, 0
    inviters = funnel.index(referral.inviters_stage) if referral.inviters_stage else 0
    entry = funnel.index(referral.entry_stage) if referral.entry_stage else 0
    return inviters, entry


def expected_inputs(playbook: Playbook, *, stage_rate: tuple[int, float] | None = None) -> Inputs:
    """One run of expected values; ``stage_rate=(i, x)`` sets stage i's rate to x for everyone."""
    funnel, per_channel = stage_rates(playbook), channel_rates(playbook)
    if stage_rate is not None:
        index, rate = stage_rate
        funnel[index] = rate
        for rates in per_channel:
            rates[index] = rate
    return Inputs(
        reach=[_one(c.reach()) for c in playbook.channels],
        entry_rate=[_one(c.entry_rate) for c in playbook.channels],
        rates=[[_one(r) for r in rates] for rates in per_channel],
        funnel_rates=[_one(r) for r in funnel],
        k=[_one(k) for k in generation_ks(playbook)],
    )


def run_flows(playbook: Playbook, inputs: Inputs, flow: Flow, *, keep_channels: bool = True) -> Flows:
    count = len(playbook.funnel.stages)
    shape = inputs.reach[0].shape
    totals = [np.zeros(shape) for _ in range(count)]
    channels: list[list[Array]] = []
    entrants: list[Array] = []
    for reach, entry_rate, rates in zip(inputs.reach, inputs.entry_rate, inputs.rates, strict=True):
        users = [flow.entrants(reach, entry_rate)]
        for i in range(1, count):
            users.append(flow.advance(users[-1], rates[i]))
        entrants.append(users[0])
        totals = [t + u for t, u in zip(totals, users, strict=True)]
        if keep_channels:
            channels.append(users)
    flows = Flows(channels, entrants, [np.zeros(shape) for _ in range(count)], [], [], totals)
    if playbook.funnel.referral is not None:
        _run_referral(playbook, inputs, flow, flows)
    return flows


def _run_referral(playbook: Playbook, inputs: Inputs, flow: Flow, flows: Flows) -> None:
    at_i, at_e = referral_stages(playbook)
    inviters = flows.totals[at_i]
    for k in inputs.k:
        invitees = flow.invite(inviters, k)
        flows.inviters.append(inviters)
        flows.invitees.append(invitees)
        generation: list[Array] = []
        for j, rate in enumerate(inputs.funnel_rates):
            generation.append(invitees if j <= at_e else flow.advance(generation[-1], rate))
        flows.referral = [r + g for r, g in zip(flows.referral, generation, strict=True)]
        inviters = generation[at_i]
    flows.totals = [t + r for t, r in zip(flows.totals, flows.referral, strict=True)]


# money and metrics -----------------------------------------------------------------------------------
def group_money(
    playbook: Playbook, users: Sequence[Array], *, fixed: float, rewarded: Array | None = None
) -> tuple[Array, Array]:
    """Revenue and cost of a group of users: ``fixed`` cost, per-user cost items, referral rewards."""
    funnel = playbook.funnel
    revenue = np.zeros(users[0].shape)
    for stage_users, stage in zip(users, funnel.stages, strict=True):
        revenue = revenue + stage_users * stage.value
    cost = np.full(users[0].shape, float(fixed))
    for item in playbook.costs:
        if item.per == "user" and item.stage is not None:
            cost = cost + item.amount * users[funnel.index(item.stage)]
    if rewarded is not None and funnel.referral is not None:
        cost = cost + funnel.referral.reward_per_invitee * rewarded
    return revenue, cost


def total_money(playbook: Playbook, flows: Flows) -> tuple[Array, Array]:
    fixed = sum(c.cost for c in playbook.channels) + sum(
        i.amount for i in playbook.costs if i.per == "campaign"
    )
    return group_money(playbook, flows.totals, fixed=fixed, rewarded=_total(flows.invitees, flows.totals[0]))


def revenue_stage(playbook: Playbook) -> int | None:
    stages = playbook.funnel.stages
    tagged = next((i for i, s in enumerate(stages) if s.aarrr == "revenue"), None)
    return tagged if tagged is not None else next((i for i, s in enumerate(stages) if s.value > 0), None)


def metric_values(playbook: Playbook, flows: Flows, *, revenue: Array, cost: Array) -> dict[str, Array]:
    """Every metric of the target grammar, in the grammar's order."""
    stages, totals = playbook.funnel.stages, flows.totals
    nothing = np.full(totals[0].shape, np.nan)
    values: dict[str, Array] = {f"users.{s.id}": totals[i] for i, s in enumerate(stages)}
    values |= {
        f"rate.{s.id}": ratio(totals[i], totals[i - 1]) if i else nothing for i, s in enumerate(stages)
    }
    values |= {f"rate_from_first.{s.id}": ratio(totals[i], totals[0]) for i, s in enumerate(stages)}
    values |= {f"channel_users.{c.id}": e for c, e in zip(playbook.channels, flows.entrants, strict=True)}
    referred = _total(flows.invitees, totals[0])
    # Without a referral nobody is invited: K is 0 over the users there are.
    could_invite = _total(flows.inviters, totals[0]) if playbook.funnel.referral else totals[0]
    if playbook.funnel.referral and REFERRAL_CHANNEL not in {c.id for c in playbook.channels}:
        values[f"channel_users.{REFERRAL_CHANNEL}"] = referred
    paying = revenue_stage(playbook)
    values |= {
        "new_users": totals[0],
        "referred_users": referred,
        "revenue": revenue,
        "cost": cost,
        "roi": ratio(revenue, cost),
        "cac": ratio(cost, totals[paying]) if paying is not None else nothing,
        "k_factor": ratio(referred, could_invite),
    }
    return values


def ratio(numerator: Array, denominator: Array) -> Array:
    """numerator ÷ denominator, NaN where the denominator is 0."""
    out = np.full(np.shape(numerator), np.nan)
    with np.errstate(over="ignore"):
        np.divide(numerator, denominator, out=out, where=denominator != 0)
    out[~np.isfinite(out)] = np.nan  # a vanishing denominator is as undefined as a zero one
    return out


def _total(arrays: Sequence[Array], like: Array) -> Array:
    out = np.zeros(like.shape)
    for array in arrays:
        out = out + array
    return out


def _one(value: float) -> Array:
    return np.array([value], dtype=np.float64)


def _scalar(value: Array) -> float | None:
    number = float(value[0])
    return None if math.isnan(number) else number


# the plan --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StagePlan:
    index: int
    id: str
    name: str
    aarrr: str
    users: float
    rate_from_previous: float | None
    rate_from_first: float | None
    value: float
    revenue: float


@dataclass(frozen=True)
class ChannelPlan:
    id: str
    name: str
    kind: str
    reach: float
    entrants: float
    users: list[float]
    cost: float
    manpower: dict[str, float]
    revenue: float
    roi: float | None
    cac: float | None


@dataclass(frozen=True)
class Generation:
    generation: int
    k: float
    inviters: float
    invitees: float


@dataclass(frozen=True)
class ReferralPlan:
    k_factor: float | None
    invitees: float
    generations: list[Generation]


@dataclass(frozen=True)
class Totals:
    new_users: float
    referred_users: float
    revenue: float
    cost: float
    profit: float
    roi: float | None
    cac: float | None
    revenue_per_user: float | None


@dataclass(frozen=True)
class BreakEven:
    stage: str
    rate_from_previous: float
    rate_from_first: float | None
    already_above: bool


@dataclass(frozen=True)
class TargetCheck:
    id: str
    name: str
    metric: str
    expected: float
    planned: float | None
    direction: str
    reachable: bool | None
    message: str | None


@dataclass(frozen=True)
class Plan:
    playbook: dict[str, str]
    currency: str
    stages: list[StagePlan]
    channels: list[ChannelPlan]
    referral: ReferralPlan | None
    totals: Totals
    break_even: BreakEven | None
    metrics: dict[str, float | None]
    targets: list[TargetCheck] = field(default_factory=list)

    def as_json(self, simulations: dict[str, Any] | None = None) -> dict[str, Any]:
        data = asdict(self)
        data["simulations"] = simulations
        cleaned: dict[str, Any] = clean_numbers(data)
        return cleaned


def clean_numbers(value: Any) -> Any:
    """Floats rounded to 10 significant digits (no float noise in JSON); NaN and infinities become None."""
    if isinstance(value, float):
        return float(f"{value:.10g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_numbers(v) for v in value]
    return value


def estimate(playbook: Playbook) -> Plan:
    """The expected plan of ``playbook`` (see the module docstring for every definition)."""
    flows = run_flows(playbook, expected_inputs(playbook), ExpectedFlow())
    revenue, cost = total_money(playbook, flows)
    metrics = {
        name: _scalar(v) for name, v in metric_values(playbook, flows, revenue=revenue, cost=cost).items()
    }
    meta = playbook.meta
    return Plan(
        playbook={"id": meta.id, "name": meta.name, "version": meta.version},
        currency=meta.currency,
        stages=_stage_plans(playbook, flows),
        channels=_channel_plans(playbook, flows),
        referral=_referral_plan(playbook, flows, metrics["k_factor"]),
        totals=_totals(revenue, cost, metrics),
        break_even=break_even(playbook),
        metrics=metrics,
        targets=check_targets(playbook, metrics),
    )


def _stage_plans(playbook: Playbook, flows: Flows) -> list[StagePlan]:
    totals = flows.totals
    rows = []
    for i, stage in enumerate(playbook.funnel.stages):
        users = float(totals[i][0])
        rows.append(
            StagePlan(
                index=i + 1,
                id=stage.id,
                name=stage.name,
                aarrr=stage.aarrr,
                users=users,
                rate_from_previous=_scalar(ratio(totals[i], totals[i - 1])) if i else None,
                rate_from_first=_scalar(ratio(totals[i], totals[0])),
                value=stage.value,
                revenue=users * stage.value,
            )
        )
    return rows


def _channel_plans(playbook: Playbook, flows: Flows) -> list[ChannelPlan]:
    rows = []
    for channel, users in zip(playbook.channels, flows.channels, strict=True):
        revenue, cost = group_money(playbook, users, fixed=channel.cost)
        rows.append(ChannelPlan(
            id=channel.id, name=channel.name, kind=channel.kind, reach=channel.reach(),
            manpower={"people": channel.manpower.people, "hours": channel.manpower.hours},
            **_group_fields(playbook, users, revenue, cost),
        ))  # fmt: skip
    if playbook.funnel.referral is not None:
        invitees = _total(flows.invitees, flows.totals[0])
        revenue, cost = group_money(playbook, flows.referral, fixed=0.0, rewarded=invitees)
        rows.append(ChannelPlan(
            id=REFERRAL_CHANNEL, name=label("channel_kind", "referral"), kind="referral", reach=float(invitees[0]),
            manpower={"people": 0, "hours": 0.0}, **_group_fields(playbook, flows.referral, revenue, cost),
        ))  # fmt: skip
    return rows


def _group_fields(playbook: Playbook, users: list[Array], revenue: Array, cost: Array) -> dict[str, Any]:
    paying = revenue_stage(playbook)
    return {
        "entrants": float(users[0][0]),
        "users": [float(u[0]) for u in users],
        "cost": float(cost[0]),
        "revenue": float(revenue[0]),
        "roi": _scalar(ratio(revenue, cost)),
        "cac": _scalar(ratio(cost, users[paying])) if paying is not None else None,
    }


def _referral_plan(playbook: Playbook, flows: Flows, k_factor: float | None) -> ReferralPlan | None:
    if playbook.funnel.referral is None:
        return None
    ks = generation_ks(playbook)
    generations = [
        Generation(generation=g + 1, k=ks[g], inviters=float(inviters[0]), invitees=float(invitees[0]))
        for g, (inviters, invitees) in enumerate(zip(flows.inviters, flows.invitees, strict=True))
    ]
    return ReferralPlan(
        k_factor=k_factor, invitees=sum(g.invitees for g in generations), generations=generations
    )


def _totals(revenue: Array, cost: Array, metrics: dict[str, float | None]) -> Totals:
    new_users = metrics["new_users"] or 0.0
    return Totals(
        new_users=new_users,
        referred_users=metrics["referred_users"] or 0.0,
        revenue=float(revenue[0]),
        cost=float(cost[0]),
        profit=float(revenue[0] - cost[0]),
        roi=metrics["roi"],
        cac=metrics["cac"],
        revenue_per_user=float(revenue[0]) / new_users if new_users else None,
    )


# break-even ------------------------------------------------------------------------------------------
def break_even(playbook: Playbook) -> BreakEven | None:
    """The revenue stage's rate where profit crosses 0 (see the module docstring)."""
    paying = revenue_stage(playbook)
    if not paying:  # no revenue stage, or the first stage: no rate to move
        return None
    stage_id = playbook.funnel.stages[paying].id
    low, high = _profit(playbook, paying, 0.0), _profit(playbook, paying, 1.0)
    if low[0] >= 0 and high[0] >= 0:
        return BreakEven(stage_id, 0.0, low[1], already_above=True)
    if low[0] < 0 and high[0] < 0:
        return None
    # Keep `lo` on the losing side and `hi` on the winning side; works whichever way profit moves.
    lo, hi = (0.0, 1.0) if low[0] < 0 else (1.0, 0.0)
    for _step in range(_BISECTION_STEPS):
        mid = (lo + hi) / 2
        if _profit(playbook, paying, mid)[0] >= 0:
            hi = mid
        else:
            lo = mid
    return BreakEven(stage_id, hi, _profit(playbook, paying, hi)[1], already_above=False)


def _profit(playbook: Playbook, stage: int, rate: float) -> tuple[float, float | None]:
    """Profit, and the stage's rate from the first stage, when ``stage`` converts at ``rate``."""
    flows = run_flows(
        playbook, expected_inputs(playbook, stage_rate=(stage, rate)), ExpectedFlow(), keep_channels=False
    )
    revenue, cost = total_money(playbook, flows)
    return float(revenue[0] - cost[0]), _scalar(ratio(flows.totals[stage], flows.totals[0]))


# targets ---------------------------------------------------------------------------------------------
def check_targets(playbook: Playbook, metrics: dict[str, float | None]) -> list[TargetCheck]:
    return [_check_target(target, metrics) for target in playbook.targets]


def _check_target(target: Target, metrics: dict[str, float | None]) -> TargetCheck:
    parsed = parse_metric(target.metric)
    metric = str(parsed) if parsed else target.metric
    planned = metrics.get(metric)
    direction = target.effective_direction()
    reachable: bool | None = None
    message: str | None = None
    shown = {"name": target.name, "metric": metric, "expected": format_metric(metric, target.expected)}
    if planned is None:
        message = _("target {name} ({metric}) {expected}: the plan gives no value for it", **shown)
    else:
        slack = _REL_EPSILON * max(abs(target.expected), abs(planned), 1.0)
        reachable = (
            planned >= target.expected - slack
            if direction == "at_least"
            else (planned <= target.expected + slack)
        )
        if not reachable:
            shown["planned"] = format_metric(metric, planned, unlike=shown["expected"])
            message = (
                _("target {name} ({metric}) {expected}, plan gives {planned}", **shown)
                if direction == "at_least"
                else _("target {name} ({metric}) at most {expected}, plan gives {planned}", **shown)
            )
    return TargetCheck(
        id=target.id,
        name=target.name,
        metric=metric,
        expected=target.expected,
        planned=planned,
        direction=direction,
        reachable=reachable,
        message=message,
    )


def format_metric(metric: str, value: float | None, *, unlike: str | None = None) -> str:
    """A metric's value for people: rates in percent, other numbers rounded (more digits if equal to ``unlike``)."""
    if value is None:
        return "—"
    parsed = parse_metric(metric)
    if parsed is not None and parsed.is_rate:
        text = f"{value:.2%}" if abs(value) < 0.01 else f"{value:.1%}"
        return f"{value:.4%}" if text == unlike else text
    text = format_number(value)
    return f"{value:,.4f}".rstrip("0").rstrip(".") if text == unlike else text


def format_number(value: float) -> str:
    """Whole numbers from 100 up, else up to two decimals: 312, 1,250, 2.35, 0.5."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")

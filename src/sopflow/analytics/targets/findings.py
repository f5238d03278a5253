"""The three biggest findings, in plain words: where the campaign is furthest behind its plan and why.

1. Targets that are missed or near, the furthest behind first (relative shortfall). For each, when the
   metric depends on funnel stages (``users``/``rate``/``rate_from_first`` of a stage; ``revenue``, ``roi``,
   ``cac`` through the revenue stage), the stage transition up to that stage whose actual conversion is
   furthest below the plan's (actual ÷ planned rate); and the channel furthest below its own plan on that
   metric (conversion from the first stage to the stage; ROI for money; new persons for ``new_users``;
   planned ÷ actual cost for ``cost``). A transition or channel at or above plan is not named, nor one an
   earlier finding named already.
2. When fewer than three targets are behind, the stage transitions furthest below the plan's rate fill the
   list (each with its worst channel), skipping those already named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sopflow.analytics.roi.aggregate import RoiResult
from sopflow.analytics.targets.stages import StageCounts
from sopflow.analytics.targets.status import TargetResult
from sopflow.i18n import _
from sopflow.playbook.estimate import ChannelPlan, Plan, format_metric, revenue_stage
from sopflow.playbook.model import Playbook, parse_metric

MAX_FINDINGS = 3
STAGE_KINDS = ("users", "rate", "rate_from_first")
MONEY_METRICS = ("revenue", "roi", "cac")


@dataclass(frozen=True)
class Transition:
    from_stage: str
    to_stage: str
    rate: float
    plan_rate: float


@dataclass(frozen=True)
class ChannelNote:
    channel: str
    name: str
    actual: float
    plan: float


@dataclass(frozen=True)
class Finding:
    kind: str  # "target" | "stage"
    target: str | None
    metric: str | None
    text: str
    transition: Transition | None
    channel: ChannelNote | None


@dataclass(frozen=True)
class Context:
    playbook: Playbook
    plan: Plan
    stages: StageCounts
    roi: RoiResult


def find(context: Context, results: list[TargetResult]) -> list[Finding]:
    behind = [r for r in results if r.status in ("missed", "near") and r.shortfall is not None]
    behind.sort(key=lambda r: (-(r.shortfall or 0.0), r.id))
    out: list[Finding] = []
    named: set[tuple[str, str]] = set()
    blamed: set[str] = set()
    for result in behind[:MAX_FINDINGS]:
        finding = _target_finding(context, result, named, blamed)
        if finding.transition:
            named.add((finding.transition.from_stage, finding.transition.to_stage))
        if finding.channel:
            blamed.add(finding.channel.channel)
        out.append(finding)
    for index, transition in _transitions_by_gap(context, range(1, len(context.stages.users))):
        if len(out) >= MAX_FINDINGS:
            break
        if (transition.from_stage, transition.to_stage) in named:
            continue
        out.append(_stage_finding(context, index, transition))
    return out


def _target_finding(
    context: Context, result: TargetResult, named: set[tuple[str, str]], blamed: set[str]
) -> Finding:
    """The finding of a target; a transition or channel an earlier finding named is not repeated."""
    parsed = parse_metric(result.metric)
    stage = _stage_of(context, result.metric)
    transition = None
    if stage is not None and parsed is not None and parsed.kind != "rate":
        found = _transitions_by_gap(context, range(1, stage + 1))
        transition = found[0][1] if found else None
    if transition is not None and (transition.from_stage, transition.to_stage) in named:
        transition = None
    channel = _worst_channel(context, result.metric, stage)
    if channel is not None and channel.channel in blamed:
        channel = None
    head = _(
        "{name} {actual} vs expected {expected}",
        name=result.name,
        actual=format_metric(result.metric, result.actual),
        expected=format_metric(result.metric, result.expected),
    )
    return Finding(
        "target", result.id, result.metric, _sentence(head, transition, channel), transition, channel
    )


def _stage_finding(context: Context, index: int, transition: Transition) -> Finding:
    channel = _channel_on_stages(context, index, from_first=False)
    head = _(
        "{from_stage}→{to_stage} converts {rate} vs expected {plan_rate}",
        from_stage=transition.from_stage,
        to_stage=transition.to_stage,
        rate=_pct(transition.rate),
        plan_rate=_pct(transition.plan_rate),
    )
    return Finding("stage", None, None, _sentence(head, None, channel), transition, channel)


def _sentence(head: str, transition: Transition | None, channel: ChannelNote | None) -> str:
    drop = worst = None
    if transition is not None:
        drop = _(
            "largest drop at {from_stage}→{to_stage} ({rate} vs {plan_rate})",
            from_stage=transition.from_stage,
            to_stage=transition.to_stage,
            rate=_pct(transition.rate),
            plan_rate=_pct(transition.plan_rate),
        )
    if channel is not None:
        worst = _("worst channel {channel}", channel=channel.name)
    if drop and worst:
        return _("{head}: {drop}; {worst}", head=head, drop=drop, worst=worst)
    if drop or worst:
        return _("{head}: {detail}", head=head, detail=drop or worst)
    return head


def _pct(value: float) -> str:
    return format_metric("rate.x", value)


def _stage_of(context: Context, metric: str) -> int | None:
    parsed = parse_metric(metric)
    if parsed is None:
        return None
    ids = [s.id for s in context.playbook.funnel.stages]
    if parsed.kind in STAGE_KINDS and parsed.subject in ids:
        return ids.index(parsed.subject)
    if parsed.kind in MONEY_METRICS:
        return revenue_stage(context.playbook)
    return None


def _transitions_by_gap(context: Context, indexes: range) -> list[tuple[int, Transition]]:
    """Transitions into the stages of ``indexes`` converting below plan, furthest below first."""
    users, stages = context.stages.users, context.playbook.funnel.stages
    found = []
    for i in indexes:
        planned = context.plan.stages[i].rate_from_previous
        if not users[i - 1] or not planned:
            continue
        rate = users[i] / users[i - 1]
        if rate < planned:
            found.append((rate / planned, i, Transition(stages[i - 1].name, stages[i].name, rate, planned)))
    found.sort(key=lambda item: (item[0], item[1]))
    return [(i, t) for _score, i, t in found]


def _worst_channel(context: Context, metric: str, stage: int | None) -> ChannelNote | None:
    parsed = parse_metric(metric)
    if parsed is None:
        return None
    if parsed.kind in STAGE_KINDS and stage is not None:
        return _channel_on_stages(context, stage, from_first=parsed.kind != "rate")
    roi = {c.channel: c for c in context.roi.channels}
    if parsed.kind in MONEY_METRICS:
        return _lowest(context, lambda c: roi[c].numbers.roi if c in roi else None, lambda p: p.roi)
    if parsed.kind == "new_users":
        return _lowest(
            context, lambda c: float(roi[c].numbers.new_users) if c in roi else None, lambda p: p.entrants
        )
    if parsed.kind == "cost":
        return _lowest(
            context,
            lambda c: 1 / float(roi[c].numbers.cost) if c in roi and roi[c].numbers.cost else None,
            lambda p: 1 / p.cost if p.cost else None,
        )
    return None


def _channel_on_stages(context: Context, stage: int, *, from_first: bool) -> ChannelNote | None:
    """The channel furthest below its plan in conversion to ``stage`` (from the first or previous stage)."""
    base = 0 if from_first else stage - 1

    def actual(channel: str) -> float | None:
        users = context.stages.by_channel.get(channel)
        return users[stage] / users[base] if users and users[base] else None

    def planned(plan: ChannelPlan) -> float | None:
        users = plan.users
        return users[stage] / users[base] if users and users[base] else None

    return _lowest(context, actual, planned)


def _lowest(
    context: Context,
    actual: Callable[[str], float | None],
    planned: Callable[[ChannelPlan], float | None],
) -> ChannelNote | None:
    """The channel with the lowest actual ÷ planned below 1 (channels of the plan only)."""
    best: tuple[float, str, float, float] | None = None
    for plan in context.plan.channels:
        value, target = actual(plan.id), planned(plan)
        if value is None or not target:
            continue
        score = value / target
        if score < 1 and (best is None or (score, plan.id) < (best[0], best[1])):
            best = (score, plan.id, value, target)
    if best is None:
        return None
    name = next(p.name for p in context.plan.channels if p.id == best[1])
    return ChannelNote(best[1], name, best[2], best[3])

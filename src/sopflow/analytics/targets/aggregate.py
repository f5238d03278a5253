"""Targets (预期) against the actual data: expected, planned, actual, gap and status, and the findings.

``--json`` shape of ``sopflow targets``::

    {"playbook": {"id", "name", "version"}, "currency",
     "targets": [{"id", "name", "metric", "direction", "tolerance", "expected", "planned", "actual", "gap",
                  "relative_gap", "status": "met"|"near"|"missed"|"no_data"}],
     "findings": [{"kind": "target"|"stage", "target", "metric", "text",
                   "transition": null | {"from_stage", "to_stage", "rate", "plan_rate"},
                   "channel": null | {"channel", "name", "actual", "plan"}}],        (at most 3)
     "stages": [{"index", "id", "name", "users", "rate_from_previous", "rate_from_first",
                 "plan_users", "plan_rate_from_previous"}],
     "metrics": {"users.STAGE": …, …} (every actual value, the plan's metric names),
     "range": {"from", "to", "tz"}, "engine"}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sopflow.analytics.aarrr.profile import PersonProfile, profile_rows
from sopflow.analytics.aarrr.session import whole_range
from sopflow.analytics.frame import Engine
from sopflow.analytics.referral import ReferralSpec, compute_referral
from sopflow.analytics.roi.aggregate import aggregate_roi
from sopflow.analytics.roi.costs import CostRow
from sopflow.analytics.roi.definition import Attribution, roi_profile
from sopflow.analytics.targets.actuals import actual_metrics, ratio
from sopflow.analytics.targets.findings import Context, Finding, find
from sopflow.analytics.targets.stages import StageCounts, count_stages
from sopflow.analytics.targets.status import TargetResult, check_target
from sopflow.analytics.timerange import TimeRange
from sopflow.playbook.estimate import Plan, clean_numbers, estimate
from sopflow.playbook.model import Playbook, parse_metric


@dataclass(frozen=True)
class StageRow:
    index: int
    id: str
    name: str
    users: int
    rate_from_previous: float | None
    rate_from_first: float | None
    plan_users: float
    plan_rate_from_previous: float | None


@dataclass(frozen=True)
class TargetsResult:
    playbook: dict[str, str]
    currency: str
    targets: list[TargetResult]
    findings: list[Finding]
    stages: list[StageRow]
    metrics: dict[str, float | None]
    range: dict[str, Any] = field(default_factory=dict)
    engine: str = ""

    def as_json(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = clean_numbers(asdict(self))
        return cleaned


def compute_targets(
    *,
    engine: Engine,
    playbook: Playbook,
    time_range: TimeRange | None = None,
    cost_rows: list[CostRow] | None = None,
    attribution: Attribution = "first",
) -> TargetsResult:
    """Every target of ``playbook`` against the engine's events (definitions: ``actuals``, ``status``;
    ``time_range``: every event, days in the playbook's time zone, when not given)."""
    time_range = time_range or whole_range(playbook)
    stages = count_stages(engine=engine, playbook=playbook, time_range=time_range)
    spec = roi_profile(playbook, time_range)
    table = profile_rows(engine.map_persons(spec.request(), PersonProfile(spec)), spec)
    roi = aggregate_roi(
        table,
        playbook=playbook,
        spec=spec,
        time_range=time_range,
        attribution=attribution,
        event_bounds=engine.time_bounds(),
        cost_rows=cost_rows,
        engine=engine.name,
    )
    referral = compute_referral(engine, ReferralSpec.from_playbook(playbook, range=time_range))
    metrics = actual_metrics(playbook=playbook, stages=stages, roi=roi, referral=referral)
    plan = estimate(playbook)
    results = []
    for target in playbook.targets:
        parsed = parse_metric(target.metric)
        name = str(parsed) if parsed else target.metric
        results.append(check_target(target, actual=metrics.get(name), planned=plan.metrics.get(name)))
    return TargetsResult(
        playbook={"id": playbook.meta.id, "name": playbook.meta.name, "version": playbook.meta.version},
        currency=playbook.meta.currency,
        targets=results,
        findings=find(Context(playbook, plan, stages, roi), results),
        stages=_stage_rows(playbook, plan, stages),
        metrics=metrics,
        range=time_range.as_json(),
        engine=engine.name,
    )


def _stage_rows(playbook: Playbook, plan: Plan, stages: StageCounts) -> list[StageRow]:
    users = stages.users
    return [
        StageRow(
            index=i + 1,
            id=stage.id,
            name=stage.name,
            users=users[i],
            rate_from_previous=ratio(users[i], users[i - 1]) if i else None,
            rate_from_first=ratio(users[i], users[0]),
            plan_users=plan.stages[i].users,
            plan_rate_from_previous=plan.stages[i].rate_from_previous,
        )
        for i, stage in enumerate(playbook.funnel.stages)
    ]

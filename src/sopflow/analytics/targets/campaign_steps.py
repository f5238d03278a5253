"""The per-step table of one campaign run (``sopflow targets|report --campaign ID``): for each step, the
task executed, its audience, persons touched → reacted → converted, and revenue, per script variant.

The tasks come from the app database (the campaign's frozen playbook version, its tasks' states and
audience sizes); the touches and what persons did after them from the event store, through the engine, by
the definitions in :mod:`.campaign_kernel`. What a step's reaction is, in order: the stage the step drives
(``stage:``), else the stage its audience has not reached yet (``audience.not_reached``), else its
``exit_when`` (a stage or an event), else any own action. The conversion stage is the playbook's revenue
stage (the first tagged ``revenue``, else the first with a value, as the plan), else the funnel's last.
The window is the funnel's ``window``. Rates divide by the persons touched by the step.

``--json`` shape (the ``campaign`` key of ``targets --json``; the report's ``campaign`` section)::

    {"campaign": {"id", "name", "playbook_id", "version", "timezone"}, "currency", "window_seconds",
     "conversion": {"kind": "stage", "id", "name"} | null,
     "steps": [{"position", "step", "name", "task_id", "owner", "state", "tasks", "executed", "executed_at",
                "audience_size", "reaction": {"kind": "stage"|"event"|"any", "id", "name"},
                "touched", "reacted", "converted", "revenue", "reaction_rate", "conversion_rate",
                "variants": [{"variant" (null: no variant), "touched", "reacted", "converted", "revenue",
                              "reaction_rate", "conversion_rate"}]}],
     "totals": {"tasks", "executed", "touched", "revenue", "staff_records", "other_currency_events"},
     "range": {"from", "to", "tz"}, "engine"}

Rates are ``reacted ÷ touched`` and ``converted ÷ touched`` (null when nobody was touched).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from sopflow.analytics.conditions import from_playbook
from sopflow.analytics.frame import Coded, Engine, PersonTable
from sopflow.analytics.targets.campaign_kernel import Outcome, StepKernel
from sopflow.analytics.timerange import TimeRange
from sopflow.playbook.model import Playbook, Stage, Step
from sopflow.playbook.timenode import parse_duration

EXECUTED = ("sent", "done")


@dataclass(frozen=True)
class CampaignTask:
    step: str
    name: str
    position: int
    task_id: int
    owner: str
    state: str
    executed_at: str | None
    audience_size: int | None


@dataclass(frozen=True)
class CampaignRun:
    """What the table needs of a campaign, read from the app database."""

    id: int
    name: str
    playbook_id: str
    version: int
    timezone: str
    playbook: Playbook
    tasks: tuple[CampaignTask, ...]


@dataclass(frozen=True)
class Numbers:
    touched: int
    reacted: int
    converted: int
    revenue: float
    reaction_rate: float | None
    conversion_rate: float | None


@dataclass(frozen=True)
class VariantRow(Numbers):
    variant: str | None


@dataclass(frozen=True)
class StepRow(Numbers):
    position: int
    step: str
    name: str
    task_id: int
    owner: str
    state: str
    tasks: int
    executed: int
    executed_at: str | None
    audience_size: int | None
    reaction: dict[str, str | None]
    variants: list[VariantRow]


@dataclass(frozen=True)
class CampaignSteps:
    campaign: dict[str, Any]
    currency: str
    window_seconds: int
    conversion: dict[str, str | None] | None
    steps: list[StepRow]
    totals: dict[str, Any]
    range: dict[str, Any]
    engine: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def load_campaign_run(*, session: Session, campaign_id: int) -> CampaignRun:
    from sopflow.campaign.start import frozen_playbook
    from sopflow.campaign.status import executed_at, find_campaign
    from sopflow.store.runs import PlaybookVersion, Staff, Task

    campaign = find_campaign(session=session, campaign_id=campaign_id)
    version = session.get(PlaybookVersion, campaign.playbook_version_id)
    assert version is not None  # a foreign key
    names = {s.id: s.name for s in session.scalars(select(Staff))}
    tasks = session.scalars(
        select(Task).where(Task.campaign_id == campaign.id).order_by(Task.position, Task.id)
    )
    return CampaignRun(
        id=campaign.id,
        name=campaign.name,
        playbook_id=campaign.playbook_id,
        version=campaign.version,
        timezone=campaign.timezone,
        playbook=frozen_playbook(version),
        tasks=tuple(
            CampaignTask(
                step=t.step_id,
                name=t.name,
                position=t.position,
                task_id=t.id,
                owner=names.get(t.owner_id, ""),
                state=t.state,
                executed_at=_iso(executed_at(t)),
                audience_size=t.audience_size,
            )
            for t in tasks
        ),
    )


def read_campaign_run(*, workspace: Path | None, campaign_id: int) -> CampaignRun:
    """The campaign from the workspace's app database (``SOPFLOW_DATABASE_URL`` when set)."""
    from sopflow.store.cli import app_session

    with app_session(workspace) as session:
        return load_campaign_run(session=session, campaign_id=campaign_id)


def reaction_of(playbook: Playbook, step: Step) -> tuple[dict[str, str | None], Outcome]:
    """What counts as reacting to ``step`` (see the module docstring), described and as a rule."""
    stages = {s.id: s for s in playbook.funnel.stages}
    audience, exit_when = step.audience, step.exit_when
    for stage_id in (
        step.stage,
        audience.not_reached if audience else None,
        exit_when.stage if exit_when else None,
    ):
        if stage_id is not None and stage_id in stages:
            return _stage_json(stages[stage_id]), _stage_rule(stages[stage_id])
    if exit_when is not None and exit_when.event is not None:
        return {"kind": "event", "id": exit_when.event, "name": exit_when.event}, Outcome(exit_when.event)
    return {"kind": "any", "id": None, "name": None}, Outcome(None)


def conversion_stage(playbook: Playbook) -> Stage | None:
    from sopflow.playbook.estimate import revenue_stage

    stages = playbook.funnel.stages
    index = revenue_stage(playbook)
    if index is not None:
        return stages[index]
    return stages[-1] if stages else None


def compute_campaign_steps(*, engine: Engine, run: CampaignRun, time_range: TimeRange) -> CampaignSteps:
    playbook = run.playbook
    steps = {s.id: s for s in playbook.timeline.steps()}
    tasks = [t for t in run.tasks if t.step in steps]
    described = [reaction_of(playbook, steps[t.step]) for t in tasks]
    final = conversion_stage(playbook)
    window = parse_duration(playbook.funnel.window)
    kernel = StepKernel(
        campaign_id=str(run.id),
        campaign_name=run.name,
        steps=tuple(t.step for t in tasks),
        reactions=tuple(rule for _described, rule in described),
        conversion=_stage_rule(final) if final is not None else None,
        window_us=window * 1_000_000,
        currency=playbook.meta.currency,
        start=time_range.start,
        end=time_range.end,
    )
    table = engine.map_persons(kernel.request(), kernel)
    rows = []
    for k, (task, (reaction, _rule)) in enumerate(zip(tasks, described, strict=True)):
        executed = int(task.state in EXECUTED)
        rows.append(
            StepRow(
                **asdict(_numbers(table, k, None)),
                position=task.position,
                step=task.step,
                name=task.name,
                task_id=task.task_id,
                owner=task.owner,
                state=task.state,
                tasks=1,
                executed=executed,
                executed_at=task.executed_at,
                audience_size=task.audience_size,
                reaction=reaction,
                variants=_variants(table, k),
            )
        )
    return CampaignSteps(
        campaign={
            "id": run.id,
            "name": run.name,
            "playbook_id": run.playbook_id,
            "version": run.version,
            "timezone": run.timezone,
        },
        currency=playbook.meta.currency,
        window_seconds=window,
        conversion=_stage_json(final) if final is not None else None,
        steps=rows,
        totals={
            "tasks": len(rows),
            "executed": sum(r.executed for r in rows),
            "touched": _count(table, "touched_any"),
            "revenue": round(sum(r.revenue for r in rows), 4),
            "staff_records": _count(table, "staff"),
            "other_currency_events": int(_column(table, "other_currency").sum()),
        },
        range=time_range.as_json(),
        engine=engine.name,
    )


def _numbers(table: PersonTable, k: int, chosen: np.ndarray | None) -> Numbers:
    touched = _column(table, f"touched{k}") > 0
    if chosen is not None:
        touched &= chosen
    reacted = int((_column(table, f"reacted{k}")[touched] > 0).sum())
    converted = int((_column(table, f"converted{k}")[touched] > 0).sum())
    count = int(touched.sum())
    return Numbers(
        touched=count,
        reacted=reacted,
        converted=converted,
        revenue=round(float(_column(table, f"revenue{k}", float)[touched].sum()), 4),
        reaction_rate=reacted / count if count else None,
        conversion_rate=converted / count if count else None,
    )


def _variants(table: PersonTable, k: int) -> list[VariantRow]:
    column = table.get(f"variant{k}")
    if not isinstance(column, Coded):
        return []
    codes = np.asarray(column.codes)
    touched = _column(table, f"touched{k}") > 0
    present = sorted(set(codes[touched].tolist()), key=lambda c: (c < 0, column.values[c] if c >= 0 else ""))
    if present in ([], [-1]):
        return []  # no variant on any touch: the step's row says it all
    rows = []
    for code in present:
        numbers = _numbers(table, k, codes == code)
        rows.append(VariantRow(**asdict(numbers), variant=column.values[code] if code >= 0 else None))
    return rows


def _column(table: PersonTable, name: str, dtype: type = np.int64) -> np.ndarray:
    """A numeric column, empty when the engine saw no persons at all (it then returns no columns)."""
    value = table.get(name)
    if value is None or isinstance(value, Coded):
        return np.zeros(0, dtype=dtype)
    return np.asarray(value, dtype=dtype)


def _count(table: PersonTable, name: str) -> int:
    return int((_column(table, name) > 0).sum())


def _stage_rule(stage: Stage) -> Outcome:
    return Outcome(stage.event, from_playbook(stage.where))


def _stage_json(stage: Stage) -> dict[str, str | None]:
    return {"kind": "stage", "id": stage.id, "name": stage.name}


def _iso(value: Any) -> str | None:
    from datetime import UTC

    return value.astimezone(UTC).isoformat() if value is not None else None

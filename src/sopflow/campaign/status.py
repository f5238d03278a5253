"""Where a campaign stands at a moment: progress against its timeline, execution and on-time rates.

Definitions (every rate carries its numerator and denominator, so a reader can check it):

- *due*: a task whose due time has come (``due_at`` ≤ now), whatever its state; ``after:`` steps still
  waiting for the step they follow have no due time and are not due.
- *executed*: sent or done (:data:`~sopflow.campaign.tasks.EXECUTED`); its time is the first of
  ``sent_at`` / ``done_at``.
- 执行率 (execution rate), the SCRM tools' headline metric: executed ÷ due, over the due tasks, per step,
  per person (the owner) and for the campaign. Skipped, failed and missed tasks stay in the denominator:
  they were due and not carried out.
- On-time rate: executed no later than the deadline ÷ executed (a task without a deadline is on time).
- Overdue: a task still open (pending, due, sending or uncertain) whose deadline has passed; how late is
  counted from its due time, and past the deadline.
- Next due: the first tasks whose due time is still ahead; uncertain tasks wait for a person to say
  whether the message arrived (a worker died while sending it to a receiver that cannot deduplicate).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopflow.campaign.tasks import EXECUTED, STATES
from sopflow.errors import NotFound
from sopflow.i18n import _
from sopflow.store.runs import Campaign, Staff, Task

OPEN_STATES = frozenset({"pending", "due", "sending", "uncertain"})
NEXT_DUE = 5
EXECUTION_RATE = "executed / due"
ON_TIME_RATE = "executed by the deadline / executed"


@dataclass(frozen=True)
class Rate:
    """``numerator ÷ denominator``; ``value`` is null when nothing is in the denominator yet."""

    numerator: int
    denominator: int
    value: float | None
    definition: str

    @classmethod
    def of(cls, numerator: int, denominator: int, definition: str) -> Rate:
        value = numerator / denominator if denominator else None
        return cls(numerator, denominator, value, definition)


@dataclass(frozen=True)
class StepStatus:
    task_id: int
    step: str
    name: str
    position: int
    owner: str
    state: str
    due_at: str | None
    due_local: str
    deadline_at: str | None
    executed_at: str | None
    on_time: bool | None  # null until executed
    execution_rate: Rate


@dataclass(frozen=True)
class PersonStatus:
    owner: str
    tasks: int
    due: int
    executed: int
    overdue: int
    execution_rate: Rate
    on_time_rate: Rate


@dataclass(frozen=True)
class TaskLine:
    """One task in the overdue, next-due and uncertain lists."""

    task_id: int
    step: str
    name: str
    owner: str
    state: str
    due_at: str | None
    due_local: str
    deadline_at: str | None
    late_seconds: int | None  # now − due time (overdue list)
    past_deadline_seconds: int | None  # now − deadline (overdue list)
    last_error: str | None


@dataclass(frozen=True)
class Progress:
    steps: int  # tasks of the campaign, one per step
    due: int
    executed: int  # among the due ones
    not_yet_due: int  # with a due time still ahead
    waiting: int  # after: steps whose step to follow is not done yet (no due time)


@dataclass(frozen=True)
class CampaignStatus:
    campaign: dict[str, Any]
    now: str
    timezone: str
    progress: Progress
    execution_rate: Rate
    on_time_rate: Rate
    states: dict[str, int]
    steps: list[StepStatus]
    people: list[PersonStatus]
    overdue: list[TaskLine]
    next_due: list[TaskLine]
    uncertain: list[TaskLine]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def find_campaign(*, session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(
            _("no campaign with id {id} (see `sopflow campaign list`)", id=campaign_id),
            code="unknown_campaign",
        )
    return campaign


def executed_at(task: Task) -> datetime | None:
    if task.state not in EXECUTED:
        return None
    moments = [m for m in (task.sent_at, task.done_at) if m is not None]
    return min(moments) if moments else task.updated_at


def on_time(task: Task) -> bool | None:
    moment = executed_at(task)
    if moment is None:
        return None
    return task.deadline_at is None or moment <= task.deadline_at


def is_due(task: Task, now: datetime) -> bool:
    return task.due_at is not None and task.due_at <= now


def is_overdue(task: Task, now: datetime) -> bool:
    return task.state in OPEN_STATES and task.deadline_at is not None and task.deadline_at <= now


def shown_state(task: Task, now: datetime) -> str:
    """A pending task whose time came is due, even before a worker has run to say so."""
    return "due" if task.state == "pending" and is_due(task, now) else task.state


def campaign_status(*, session: Session, campaign_id: int, now: datetime) -> CampaignStatus:
    campaign = find_campaign(session=session, campaign_id=campaign_id)
    zone = ZoneInfo(campaign.timezone)
    tasks = list(
        session.scalars(select(Task).where(Task.campaign_id == campaign.id).order_by(Task.position, Task.id))
    )
    owner_ids = {t.owner_id for t in tasks}
    names = (
        {s.id: s.name for s in session.scalars(select(Staff).where(Staff.id.in_(owner_ids)))}
        if owner_ids
        else {}
    )
    due = [t for t in tasks if is_due(t, now)]
    done = [t for t in due if t.state in EXECUTED]
    executed_all = [t for t in tasks if t.state in EXECUTED]
    counts = Counter(shown_state(t, now) for t in tasks)

    def line(task: Task, *, late: bool = False) -> TaskLine:
        return TaskLine(
            task_id=task.id,
            step=task.step_id,
            name=task.name,
            owner=names.get(task.owner_id, ""),
            state=shown_state(task, now),
            due_at=_iso(task.due_at),
            due_local=_local(task.due_at, zone),
            deadline_at=_iso(task.deadline_at),
            late_seconds=_seconds(now, task.due_at) if late else None,
            past_deadline_seconds=_seconds(now, task.deadline_at) if late else None,
            last_error=task.last_error,
        )

    ahead = sorted(
        (t for t in tasks if t.due_at is not None and t.due_at > now and t.state in OPEN_STATES),
        key=lambda t: (t.due_at, t.position),
    )
    return CampaignStatus(
        campaign={
            "id": campaign.id,
            "name": campaign.name,
            "playbook_id": campaign.playbook_id,
            "version": campaign.version,
            "status": campaign.status,
            "starts_at": _iso(campaign.starts_at),
        },
        now=now.astimezone(UTC).isoformat(),
        timezone=campaign.timezone,
        progress=Progress(
            steps=len(tasks),
            due=len(due),
            executed=len(done),
            not_yet_due=sum(1 for t in tasks if t.due_at is not None and t.due_at > now),
            waiting=sum(1 for t in tasks if t.due_at is None and t.state in OPEN_STATES),
        ),
        execution_rate=Rate.of(len(done), len(due), EXECUTION_RATE),
        on_time_rate=Rate.of(sum(1 for t in executed_all if on_time(t)), len(executed_all), ON_TIME_RATE),
        states={state: counts[state] for state in STATES if counts[state]},
        steps=[_step(t, names, zone, now) for t in tasks],
        people=_people(tasks, names, now),
        overdue=[line(t, late=True) for t in sorted(tasks, key=_by_due) if is_overdue(t, now)],
        next_due=[line(t) for t in ahead[:NEXT_DUE]],
        uncertain=[line(t) for t in tasks if t.state == "uncertain"],
    )


def _step(task: Task, names: dict[int, str], zone: ZoneInfo, now: datetime) -> StepStatus:
    due = is_due(task, now)
    return StepStatus(
        task_id=task.id,
        step=task.step_id,
        name=task.name,
        position=task.position,
        owner=names.get(task.owner_id, ""),
        state=shown_state(task, now),
        due_at=_iso(task.due_at),
        due_local=_local(task.due_at, zone),
        deadline_at=_iso(task.deadline_at),
        executed_at=_iso(executed_at(task)),
        on_time=on_time(task),
        execution_rate=Rate.of(int(due and task.state in EXECUTED), int(due), EXECUTION_RATE),
    )


def _people(tasks: list[Task], names: dict[int, str], now: datetime) -> list[PersonStatus]:
    out = []
    for owner_id in sorted({t.owner_id for t in tasks}, key=lambda i: names.get(i, "")):
        mine = [t for t in tasks if t.owner_id == owner_id]
        due = [t for t in mine if is_due(t, now)]
        executed = [t for t in mine if t.state in EXECUTED]
        out.append(
            PersonStatus(
                owner=names.get(owner_id, ""),
                tasks=len(mine),
                due=len(due),
                executed=len(executed),
                overdue=sum(1 for t in mine if is_overdue(t, now)),
                execution_rate=Rate.of(sum(1 for t in due if t.state in EXECUTED), len(due), EXECUTION_RATE),
                on_time_rate=Rate.of(sum(1 for t in executed if on_time(t)), len(executed), ON_TIME_RATE),
            )
        )
    return out


def _by_due(task: Task) -> tuple[datetime, int]:
    return (task.due_at or task.created_at, task.position)


def _seconds(now: datetime, moment: datetime | None) -> int | None:
    return None if moment is None else int((now - moment).total_seconds())


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    return f"{value.astimezone(zone):%Y-%m-%d %H:%M}" if value is not None else "—"

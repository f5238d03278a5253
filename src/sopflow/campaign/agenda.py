"""A campaign's tasks as the console and the API lay them out: a calendar of days in the campaign's time
zone, and a board with a column per owner. The same tasks the ``.ics`` file of
:mod:`sopflow.campaign.calendar` holds (a task without a due time — an ``after:`` step still waiting for the
step it follows — is listed apart as *unscheduled*).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopflow.campaign.calendar import DEFAULT_LENGTH
from sopflow.campaign.public import effective_state
from sopflow.campaign.status import find_campaign, is_overdue
from sopflow.store.runs import Staff, Task

# The order of a board's card groups: what needs a person first, finished work last.
BOARD_ORDER = ("uncertain", "due", "pending", "sending", "failed", "missed", "sent", "done", "skipped")


@dataclass(frozen=True)
class AgendaTask:
    task_id: int
    step: str
    name: str
    owner: str
    channel: str
    state: str
    overdue: bool
    start: str | None  # UTC, ISO
    end: str | None  # the deadline, else 30 minutes after the start
    start_local: str  # HH:MM in the campaign's zone ("" when unscheduled)
    note: str | None
    audience_size: int | None  # decided at the due time; None before


@dataclass(frozen=True)
class AgendaDay:
    date: str  # YYYY-MM-DD in the campaign's zone
    weekday: int  # 0 = Monday
    tasks: list[AgendaTask]


@dataclass(frozen=True)
class CampaignAgenda:
    campaign_id: int
    name: str
    timezone: str
    days: list[AgendaDay]
    unscheduled: list[AgendaTask]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def campaign_agenda(*, session: Session, campaign_id: int, now: datetime | None = None) -> CampaignAgenda:
    now = now or datetime.now(UTC)
    campaign = find_campaign(session=session, campaign_id=campaign_id)
    zone = ZoneInfo(campaign.timezone)
    rows = session.execute(
        select(Task, Staff.name)
        .join(Staff, Task.owner_id == Staff.id)
        .where(Task.campaign_id == campaign.id)
        .order_by(Task.due_at.is_(None), Task.due_at, Task.position, Task.id)
    ).all()
    by_day: dict[str, list[AgendaTask]] = defaultdict(list)
    unscheduled = []
    for task, owner in rows:
        entry = _entry(task, owner, zone, now)
        if task.due_at is None:
            unscheduled.append(entry)
        else:
            by_day[f"{task.due_at.astimezone(zone):%Y-%m-%d}"].append(entry)
    days = [
        AgendaDay(date=day, weekday=datetime.fromisoformat(day).weekday(), tasks=tasks)
        for day, tasks in sorted(by_day.items())
    ]
    return CampaignAgenda(
        campaign_id=campaign.id,
        name=campaign.name,
        timezone=campaign.timezone,
        days=days,
        unscheduled=unscheduled,
    )


def board_columns(agenda: CampaignAgenda) -> dict[str, list[AgendaTask]]:
    """``owner → tasks``, owners by name, each owner's tasks by :data:`BOARD_ORDER` then due time."""
    columns: dict[str, list[AgendaTask]] = defaultdict(list)
    for day in agenda.days:
        for task in day.tasks:
            columns[task.owner].append(task)
    for task in agenda.unscheduled:
        columns[task.owner].append(task)
    rank = {state: i for i, state in enumerate(BOARD_ORDER)}
    return {
        owner: sorted(tasks, key=lambda t: (rank.get(t.state, len(rank)), t.start or "~", t.task_id))
        for owner, tasks in sorted(columns.items())
    }


def _entry(task: Task, owner: str, zone: ZoneInfo, now: datetime) -> AgendaTask:
    start = task.due_at.astimezone(UTC) if task.due_at is not None else None
    end = None
    if start is not None:
        end = task.deadline_at.astimezone(UTC) if task.deadline_at is not None else start + DEFAULT_LENGTH
        end = max(end, start + DEFAULT_LENGTH) if end <= start else end
    return AgendaTask(
        task_id=task.id,
        step=task.step_id,
        name=task.name,
        owner=owner,
        channel=task.channel,
        state=effective_state(task, now),
        overdue=is_overdue(task, now),
        start=start.isoformat() if start is not None else None,
        end=end.isoformat() if end is not None else None,
        start_local=f"{start.astimezone(zone):%H:%M}" if start is not None else "",
        note=task.note,
        audience_size=task.audience_size,
    )

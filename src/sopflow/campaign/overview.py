"""What the console's Overview shows of the campaigns at a glance: the running campaigns with their execution
rate, today's tasks of every owner, and the overdue tasks.

It runs on every load of the Overview page, so it reads only through indexes: campaigns by ``status``,
tasks by ``campaign_id`` (one grouped count for all running campaigns), and tasks by ``(state, due_at)``
for today's and the overdue lists (every state is named, so the index's leading column is used). The
definitions are those of :mod:`sopflow.campaign.status`: execution rate = executed ÷ due; overdue = still
open (pending, due, sending, uncertain) with its deadline passed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from sopflow.campaign.status import EXECUTION_RATE, OPEN_STATES, Rate
from sopflow.campaign.tasks import EXECUTED, STATES
from sopflow.store.runs import Campaign, Staff, Task

DEFAULT_ZONE = "Asia/Shanghai"
DEFAULT_LIMIT = 200
ACTIVE = ("running", "paused")  # campaigns whose tasks people still work on


@dataclass(frozen=True)
class RunningCampaign:
    id: int
    name: str
    playbook_id: str
    version: int
    starts_at: str | None
    timezone: str
    execution_rate: Rate


@dataclass(frozen=True)
class OverviewTask:
    task_id: int
    campaign_id: int
    campaign: str
    step: str
    name: str
    owner: str
    state: str
    due_at: str | None
    due_local: str  # in the campaign's time zone
    deadline_at: str | None
    overdue: bool


@dataclass(frozen=True)
class CampaignOverview:
    now: str
    timezone: str  # the zone "today" is counted in
    day: str  # today's date in it
    running: list[RunningCampaign]
    today: list[OverviewTask]
    overdue: list[OverviewTask]
    truncated: bool  # a list reached ``limit``

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def campaign_overview(
    *,
    session: Session,
    now: datetime | None = None,
    zone: ZoneInfo | None = None,
    limit: int = DEFAULT_LIMIT,
) -> CampaignOverview:
    """Running campaigns (with executed ÷ due as of ``now``), tasks due today in ``zone`` (default
    Asia/Shanghai) of running or paused campaigns, and their overdue tasks; each list at most ``limit``."""
    now = now or datetime.now(UTC)
    zone = zone or ZoneInfo(DEFAULT_ZONE)
    day = now.astimezone(zone).date()
    day_start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)

    # Plain columns, not ORM entities: the page loads this on every visit, and entities cost ~10× more.
    campaigns = session.execute(
        select(
            Campaign.id,
            Campaign.name,
            Campaign.playbook_id,
            Campaign.version,
            Campaign.starts_at,
            Campaign.timezone,
        )
        .where(Campaign.status == "running")
        .order_by(Campaign.id)
    ).all()
    rates = execution_rates(session, [c.id for c in campaigns], now)
    running = [
        RunningCampaign(
            id=c.id,
            name=c.name,
            playbook_id=c.playbook_id,
            version=c.version,
            starts_at=_iso(c.starts_at),
            timezone=c.timezone,
            execution_rate=Rate.of(*rates.get(c.id, (0, 0)), EXECUTION_RATE),
        )
        for c in campaigns
    ]
    base = (
        select(
            Task.id,
            Task.campaign_id,
            Task.step_id,
            Task.name,
            Task.state,
            Task.due_at,
            Task.deadline_at,
            Staff.name.label("owner"),
            Campaign.name.label("campaign"),
            Campaign.timezone,
        )
        .join(Staff, Task.owner_id == Staff.id)
        .join(Campaign, Task.campaign_id == Campaign.id)
        .where(Campaign.status.in_(ACTIVE))
    )
    today_rows = session.execute(
        base.where(Task.state.in_(STATES), Task.due_at >= day_start, Task.due_at < day_end)
        .order_by(Task.due_at, Task.id)
        .limit(limit)
    ).all()
    # Overdue needs a passed deadline, and a deadline comes after the due time: open tasks already due.
    overdue_rows = session.execute(
        base.where(
            Task.state.in_(sorted(OPEN_STATES)),
            Task.due_at <= now,
            Task.deadline_at.is_not(None),
            Task.deadline_at <= now,
        )
        .order_by(Task.deadline_at, Task.id)
        .limit(limit)
    ).all()
    return CampaignOverview(
        now=now.astimezone(UTC).isoformat(),
        timezone=zone.key,
        day=day.isoformat(),
        running=running,
        today=[_line(row, now) for row in today_rows],
        overdue=[_line(row, now) for row in overdue_rows],
        truncated=len(today_rows) >= limit or len(overdue_rows) >= limit,
    )


def execution_rates(session: Session, campaign_ids: list[int], now: datetime) -> dict[int, tuple[int, int]]:
    """``campaign id → (executed, due)`` over the tasks due by ``now``, in one grouped query."""
    if not campaign_ids:
        return {}
    executed = func.sum(case((Task.state.in_(sorted(EXECUTED)), 1), else_=0))
    rows = session.execute(
        select(Task.campaign_id, executed, func.count())
        .where(Task.campaign_id.in_(campaign_ids), Task.due_at <= now)
        .group_by(Task.campaign_id)
    ).all()
    return {int(cid): (int(done or 0), int(due)) for cid, done, due in rows}


def _line(row: Any, now: datetime) -> OverviewTask:
    """One row of the today or overdue query (a SQLAlchemy Row of the selected columns)."""
    zone = ZoneInfo(row.timezone)
    due_at: datetime | None = row.due_at
    deadline_at: datetime | None = row.deadline_at
    # As effective_state: a pending task whose due time came is due, before a worker says so.
    state = "due" if row.state == "pending" and due_at is not None and due_at <= now else str(row.state)
    return OverviewTask(
        task_id=row.id,
        campaign_id=row.campaign_id,
        campaign=row.campaign,
        step=row.step_id,
        name=row.name,
        owner=row.owner,
        state=state,
        due_at=_iso(due_at),
        due_local=f"{due_at.astimezone(zone):%Y-%m-%d %H:%M}" if due_at is not None else "—",
        deadline_at=_iso(deadline_at),
        overdue=state in OPEN_STATES and deadline_at is not None and deadline_at <= now,
    )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None

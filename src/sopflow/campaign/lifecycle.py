"""List, show, pause, resume and cancel campaigns, and list their tasks.

- Pause: the campaign stops delivering; its tasks keep their times. Resume: tasks that came due while it
  was paused are due at the moment of resuming (recorded with the time they were planned), so a pause
  never turns them into ``missed``.
- Cancel: the campaign ends; every open task (pending, due, uncertain) ends ``skipped`` with the reason.
Each change is recorded in the tasks' history with who did it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopflow.accounts.audit import record_audit
from sopflow.campaign.public import CampaignPublic, TaskPublic, campaign_public, effective_state, task_public
from sopflow.campaign.tasks import OPEN, transition
from sopflow.errors import InvalidInput, NotFound
from sopflow.i18n import _
from sopflow.store.runs import Campaign, Staff, Task, TaskEvent

CAMPAIGN_STATUSES = ("running", "paused", "cancelled", "finished")


def get_campaign(*, session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(_("no campaign with id {id}", id=campaign_id), code="unknown_campaign")
    return campaign


def state_counts(*, session: Session, campaign_id: int, now: datetime) -> dict[str, int]:
    tasks = session.scalars(select(Task).where(Task.campaign_id == campaign_id)).all()
    return dict(sorted(Counter(effective_state(t, now) for t in tasks).items()))


def describe(*, session: Session, campaign: Campaign, now: datetime | None = None) -> CampaignPublic:
    now = now or datetime.now(UTC)
    return campaign_public(campaign, states=state_counts(session=session, campaign_id=campaign.id, now=now))


def list_campaigns(
    *, session: Session, status: str | None = None, now: datetime | None = None
) -> list[CampaignPublic]:
    if status is not None and status not in CAMPAIGN_STATUSES:
        raise InvalidInput(
            _(
                "--status {value!r}: choose one of {choices}",
                value=status,
                choices=", ".join(CAMPAIGN_STATUSES),
            ),
            code="invalid_option",
        )
    query = select(Campaign).order_by(Campaign.id)
    if status is not None:
        query = query.where(Campaign.status == status)
    return [describe(session=session, campaign=c, now=now) for c in session.scalars(query)]


def _task_events(session: Session, task_ids: Sequence[int]) -> dict[int, list[TaskEvent]]:
    events: dict[int, list[TaskEvent]] = {i: [] for i in task_ids}
    if task_ids:
        query = select(TaskEvent).where(TaskEvent.task_id.in_(task_ids)).order_by(TaskEvent.id)
        for event in session.scalars(query):
            events[event.task_id].append(event)
    return events


@dataclass(frozen=True)
class TaskFilter:
    campaign_id: int | None = None
    owner: str | None = None
    state: str | None = None
    today: bool = False
    open_only: bool = False


def list_tasks(
    *,
    session: Session,
    where: TaskFilter,
    now: datetime | None = None,
    zone: ZoneInfo | None = None,
    history: bool = False,
) -> list[TaskPublic]:
    """Tasks in due order. ``today``: due on today's date in each campaign's timezone (or ``zone``)."""
    now = now or datetime.now(UTC)
    query = select(Task, Staff, Campaign).join(Staff, Task.owner_id == Staff.id)
    query = query.join(Campaign, Task.campaign_id == Campaign.id)
    if where.campaign_id is not None:
        get_campaign(session=session, campaign_id=where.campaign_id)
        query = query.where(Task.campaign_id == where.campaign_id)
    if where.owner is not None:
        if session.scalar(select(Staff.id).where(Staff.name == where.owner)) is None:
            raise NotFound(_("no staff member named {name!r}", name=where.owner), code="unknown_staff")
        query = query.where(Staff.name == where.owner)
    rows = session.execute(query.order_by(Task.due_at.is_(None), Task.due_at, Task.id)).all()
    selected = []
    for task, owner, campaign in rows:
        tz = zone or ZoneInfo(campaign.timezone)
        state = effective_state(task, now)
        if where.state is not None and state != where.state:
            continue
        if where.open_only and state not in OPEN:
            continue
        if where.today and (
            task.due_at is None or task.due_at.astimezone(tz).date() != now.astimezone(tz).date()
        ):
            continue
        selected.append((task, owner, tz))
    events = _task_events(session, [t.id for t, _o, _z in selected]) if history else {}
    return [
        task_public(task, owner=owner, zone=tz, now=now, history=events.get(task.id))
        for task, owner, tz in selected
    ]


def pause_campaign(*, session: Session, campaign_id: int, by: str, now: datetime | None = None) -> Campaign:
    campaign = get_campaign(session=session, campaign_id=campaign_id)
    if campaign.status != "running":
        raise InvalidInput(
            _(
                "campaign {id} is {status}; only a running campaign can be paused",
                id=campaign.id,
                status=campaign.status,
            ),
            code="campaign_not_running",
        )
    campaign.status = "paused"
    _record(session, campaign, by=by, reason=_("campaign paused"), now=now or datetime.now(UTC))
    return campaign


def resume_campaign(*, session: Session, campaign_id: int, by: str, now: datetime | None = None) -> Campaign:
    now = now or datetime.now(UTC)
    campaign = get_campaign(session=session, campaign_id=campaign_id)
    if campaign.status != "paused":
        raise InvalidInput(
            _(
                "campaign {id} is {status}; only a paused campaign can be resumed",
                id=campaign.id,
                status=campaign.status,
            ),
            code="campaign_not_paused",
        )
    campaign.status = "running"
    zone = ZoneInfo(campaign.timezone)
    late = session.scalars(
        select(Task).where(
            Task.campaign_id == campaign.id,
            Task.state.in_(("pending", "due")),
            Task.due_at.is_not(None),
            Task.due_at < now,
        )
    ).all()
    for task in late:
        assert task.due_at is not None
        planned = task.due_at
        task.due_at = now
        if task.deadline_seconds is not None:
            task.deadline_at = now + timedelta(seconds=task.deadline_seconds)
        session.add(
            TaskEvent(
                task_id=task.id,
                at=now,
                from_state=task.state,
                to_state=task.state,
                actor=by,
                reason=_(
                    "campaign resumed: due now (planned {planned})",
                    planned=f"{planned.astimezone(zone):%Y-%m-%d %H:%M}",
                ),
            )
        )
        task.updated_at = now
    _record(session, campaign, by=by, reason=_("campaign resumed"), now=now, skip={t.id for t in late})
    return campaign


def cancel_campaign(
    *, session: Session, campaign_id: int, by: str, why: str = "", now: datetime | None = None
) -> Campaign:
    now = now or datetime.now(UTC)
    campaign = get_campaign(session=session, campaign_id=campaign_id)
    if campaign.status in ("cancelled", "finished"):
        raise InvalidInput(
            _("campaign {id} has already ended ({status})", id=campaign.id, status=campaign.status),
            code="campaign_ended",
        )
    busy = session.scalar(
        select(func.count()).select_from(Task).where(Task.campaign_id == campaign.id, Task.state == "sending")
    )
    if busy:
        raise InvalidInput(
            _(
                "{count} task(s) of campaign {id} are being sent right now; try again in a moment",
                count=busy,
                id=campaign.id,
            ),
            code="campaign_busy",
        )
    campaign.status = "cancelled"
    campaign.ended_at = now
    reason = _("campaign cancelled: {why}", why=why) if why else _("campaign cancelled")
    record_audit(
        session=session,
        actor=by,
        action="campaign.cancel",
        target_kind="campaign",
        target_id=campaign.id,
        details={"why": why},
        now=now,
    )
    for task in session.scalars(select(Task).where(Task.campaign_id == campaign.id, Task.state.in_(OPEN))):
        transition(session, task, "skipped", actor=by, reason=reason, now=now)
    return campaign


def _record(
    session: Session, campaign: Campaign, *, by: str, reason: str, now: datetime, skip: set[int] | None = None
) -> None:
    """A campaign-level change in the audit log and in the history of each of its open tasks (their state
    does not change)."""
    action = "campaign.pause" if campaign.status == "paused" else "campaign.resume"
    record_audit(
        session=session, actor=by, action=action, target_kind="campaign", target_id=campaign.id, now=now
    )
    for task in session.scalars(select(Task).where(Task.campaign_id == campaign.id, Task.state.in_(OPEN))):
        if skip and task.id in skip:
            continue
        session.add(
            TaskEvent(
                task_id=task.id, at=now, from_state=task.state, to_state=task.state, actor=by, reason=reason
            )
        )

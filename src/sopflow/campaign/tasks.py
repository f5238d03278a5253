"""Task states and the changes people make to them: done, skip, confirm; ``after:`` chains.

States: ``pending`` (not yet due, or waiting for the step it follows) → ``due`` (its time came: the owner
has it to do, or a delivery will be retried) → ``sending`` (a worker began delivering it) → ``sent`` /
``done`` / ``skipped`` / ``failed`` / ``missed``; ``uncertain`` when a worker died while sending to a
receiver that cannot deduplicate, until a person confirms. ``overdue_at`` marks a task whose deadline
passed before it was executed (sent or done). Every change is a row in ``task_events``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopflow.campaign.timing import Quiet, after_quiet_hours
from sopflow.errors import InvalidInput, NotFound
from sopflow.i18n import _
from sopflow.store.runs import Campaign, Task, TaskEvent

STATES = ("pending", "due", "sending", "sent", "done", "skipped", "failed", "missed", "uncertain")
EXECUTED = frozenset({"sent", "done"})
FINAL = frozenset({"sent", "done", "skipped", "failed", "missed"})
OPEN = frozenset({"pending", "due", "uncertain"})


def transition(
    session: Session, task: Task, to: str, *, actor: str, reason: str = "", now: datetime | None = None
) -> None:
    now = now or datetime.now(UTC)
    session.add(
        TaskEvent(task_id=task.id, at=now, from_state=task.state, to_state=to, actor=actor, reason=reason)
    )
    task.state = to
    task.updated_at = now


def get_task(*, session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(_("no task with id {id}", id=task_id), code="unknown_task")
    return task


def release_dependents(
    *, session: Session, task: Task, at: datetime, quiet: Quiet | None, zone: ZoneInfo
) -> list[Task]:
    """Give the ``after:`` steps that follow ``task`` their due time: ``at`` plus their delay."""
    waiting = session.scalars(
        select(Task).where(
            Task.campaign_id == task.campaign_id,
            Task.after_step == task.step_id,
            Task.due_at.is_(None),
        )
    ).all()
    for dependent in waiting:
        planned = at + timedelta(seconds=dependent.after_delay)
        dependent.planned_at = planned
        dependent.due_at = after_quiet_hours(planned, quiet, zone)
        if dependent.deadline_seconds is not None:
            dependent.deadline_at = dependent.due_at + timedelta(seconds=dependent.deadline_seconds)
        dependent.updated_at = at
        session.add(
            TaskEvent(
                task_id=dependent.id,
                at=at,
                from_state=dependent.state,
                to_state=dependent.state,
                actor="system",
                reason=_(
                    "due {due}: {delay} after {step}",
                    due=f"{dependent.due_at.astimezone(zone):%Y-%m-%d %H:%M}",
                    delay=_delay_text(dependent.after_delay),
                    step=task.step_id,
                ),
            )
        )
    return list(waiting)


def _delay_text(seconds: int) -> str:
    from sopflow.playbook.timenode import format_duration

    return format_duration(seconds)


def campaign_policies(session: Session, campaign: Campaign) -> tuple[Quiet | None, ZoneInfo]:
    from sopflow.campaign.start import frozen_playbook
    from sopflow.store.runs import PlaybookVersion

    version = session.get(PlaybookVersion, campaign.playbook_version_id)
    assert version is not None
    return Quiet.of(frozen_playbook(version).policies.quiet_hours), ZoneInfo(campaign.timezone)


def executed(session: Session, task: Task, *, state: str, actor: str, reason: str, now: datetime) -> None:
    """Mark ``task`` sent or done and release the steps that follow it."""
    transition(session, task, state, actor=actor, reason=reason, now=now)
    if state == "sent":
        task.sent_at = now
    else:
        task.done_at = now
    campaign = session.get(Campaign, task.campaign_id)
    assert campaign is not None
    quiet, zone = campaign_policies(session, campaign)
    release_dependents(session=session, task=task, at=now, quiet=quiet, zone=zone)


def mark_done(
    *, session: Session, task_id: int, by: str, note: str = "", now: datetime | None = None
) -> Task:
    now = now or datetime.now(UTC)
    task = get_task(session=session, task_id=task_id)
    if task.state in ("done", "skipped"):
        raise InvalidInput(
            _("task {id} is already {state}", id=task.id, state=task.state), code="task_closed"
        )
    if task.state == "sending":
        raise InvalidInput(
            _("task {id} is being sent by a worker right now; try again in a moment", id=task.id),
            code="task_busy",
        )
    if note:
        task.note = note
    executed(session, task, state="done", actor=by, reason=note, now=now)
    return task


def skip_task(*, session: Session, task_id: int, why: str, by: str, now: datetime | None = None) -> Task:
    now = now or datetime.now(UTC)
    if not why.strip():
        raise InvalidInput(_("say why the task is skipped (--why)"), code="missing_reason")
    task = get_task(session=session, task_id=task_id)
    if task.state in FINAL or task.state == "sending":
        raise InvalidInput(
            _("task {id} is {state} and cannot be skipped", id=task.id, state=task.state), code="task_closed"
        )
    task.note = why
    transition(session, task, "skipped", actor=by, reason=why, now=now)
    campaign = session.get(Campaign, task.campaign_id)
    assert campaign is not None
    quiet, zone = campaign_policies(session, campaign)
    # The timeline goes on: the steps that follow a skipped one are timed from the skip.
    release_dependents(session=session, task=task, at=now, quiet=quiet, zone=zone)
    return task


def confirm_task(
    *, session: Session, task_id: int, arrived: bool, by: str, now: datetime | None = None
) -> Task:
    """A person's answer for an ``uncertain`` task: it arrived (sent), or it did not (delivered again)."""
    now = now or datetime.now(UTC)
    task = get_task(session=session, task_id=task_id)
    if task.state != "uncertain":
        raise InvalidInput(
            _("task {id} is {state}; only uncertain tasks are confirmed", id=task.id, state=task.state),
            code="not_uncertain",
        )
    if arrived:
        executed(session, task, state="sent", actor=by, reason=_("confirmed as arrived"), now=now)
    else:
        task.next_attempt_at = now
        transition(session, task, "due", actor=by, reason=_("confirmed as not arrived: sent again"), now=now)
    return task

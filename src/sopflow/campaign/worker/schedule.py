"""Before delivering: end the open tasks of cancelled campaigns, and make the tasks whose time came due.

- Cancelled campaign: its ``pending``, ``due`` and ``uncertain`` tasks end as ``skipped`` with the reason.
  A task being sent right now finishes (its request may already be out).
- Paused campaign: nothing moves; its tasks wait.
- Running campaign: a ``pending`` task whose due time came becomes ``due``, unless it has an endpoint and
  its due time passed more than the campaign's ``max_late`` ago (no worker ran in time): then ``missed``,
  with how late it was, and listed in the worker's report. A task without an endpoint becomes due for its
  owner to do by hand whatever the hour: nothing is sent late on anyone's behalf.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from sopflow.campaign.tasks import OPEN
from sopflow.campaign.worker.context import Context
from sopflow.campaign.worker.report import Notice, WorkerReport
from sopflow.campaign.worker.states import move
from sopflow.i18n import _
from sopflow.playbook.timenode import format_duration
from sopflow.store.runs import Campaign, Task

PROMOTE_BATCH = 2000


def late_reason(late: timedelta, max_late: int) -> str:
    return _(
        "not delivered: due {late} ago, more than the campaign's max_late of {max_late} (no worker was "
        "running at its time)",
        late=format_duration(int(late.total_seconds())),
        max_late=format_duration(max_late),
    )


def end_cancelled(ctx: Context, *, now: datetime, report: WorkerReport) -> None:
    with ctx.database.sessions.begin() as session:
        rows = session.execute(
            select(Task.id, Task.state, Task.campaign_id, Task.step_id)
            .join(Campaign, Campaign.id == Task.campaign_id)
            .where(Campaign.status == "cancelled", Task.state.in_(sorted(OPEN)))
        ).all()
        reason = _("the campaign was cancelled")
        for state in sorted({row.state for row in rows}):
            ids = [row.id for row in rows if row.state == state]
            moved = set(
                move(
                    session,
                    task_ids=ids,
                    from_state=state,
                    to="skipped",
                    actor=ctx.actor,
                    now=now,
                    reason=reason,
                    values={"note": reason, "lease_owner": None, "lease_expires_at": None},
                )
            )
            for row in rows:
                if row.id in moved:
                    report.notice(Notice(row.id, row.campaign_id, row.step_id, "skipped", reason))


def promote(ctx: Context, *, now: datetime, report: WorkerReport) -> list[int]:
    """Pending → due (or missed); returns the ids of tasks made due that have no endpoint."""
    by_hand: list[int] = []
    while True:
        with ctx.database.sessions.begin() as session:
            rows = session.execute(
                select(
                    Task.id,
                    Task.endpoint_id,
                    Task.due_at,
                    Task.campaign_id,
                    Task.step_id,
                    Campaign.max_late_seconds,
                )
                .join(Campaign, Campaign.id == Task.campaign_id)
                .where(Task.state == "pending", Task.due_at <= now, Campaign.status == "running")
                .order_by(Task.due_at)
                .limit(PROMOTE_BATCH)
                # Several workers promote at once: on PostgreSQL each takes the rows no other holds, instead of
                # waiting for the others' transactions to end (the UPDATE below re-checks the state anyway).
                .with_for_update(of=Task, skip_locked=True)
            ).all()
            late = {
                row.id: row
                for row in rows
                if row.endpoint_id is not None and now - row.due_at > timedelta(seconds=row.max_late_seconds)
            }
            due = [row.id for row in rows if row.id not in late]
            moved = move(
                session,
                task_ids=due,
                from_state="pending",
                to="due",
                actor=ctx.actor,
                now=now,
                reason=_("its due time came"),
            )
            report.add("promoted", len(moved))
            hand = {row.id for row in rows if row.endpoint_id is None}
            by_hand += [i for i in moved if i in hand]

            reasons = {i: late_reason(now - row.due_at, row.max_late_seconds) for i, row in late.items()}
            missed = move(
                session,
                task_ids=list(late),
                from_state="pending",
                to="missed",
                actor=ctx.actor,
                now=now,
                reason=reasons.__getitem__,
            )
            for task_id in missed:
                row = late[task_id]
                report.notice(Notice(task_id, row.campaign_id, row.step_id, "missed", reasons[task_id]))
        if len(rows) < PROMOTE_BATCH:
            return by_hand

"""Overdue tasks: the deadline passed while the task was not executed (sent or done).

``overdue_at`` is set once, with an event in the task's history. Then the owner's manager is told: at once,
then once a day while the task stays open and the campaign runs (``escalations`` counts them,
``escalated_at`` is the last). The manager is the owner's ``manager`` in the staff list, else the person
holding the role the playbook names in ``escalate_to``; the message goes to the endpoint the campaign
notifies for the manager's role (``--notify``), else the ``*`` one, else the task's own endpoint.

Each escalation is claimed by a conditional UPDATE of ``escalations``/``escalated_at`` together with a
``deliveries`` row (purpose ``escalation``) before the request, so two workers never send the same one;
a refused or lost escalation is logged and the next one follows a day later.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from sopflow.campaign.reminder import escalation_message
from sopflow.campaign.start import ALL_ROLES
from sopflow.campaign.worker.context import Context
from sopflow.campaign.worker.ratelimit import reserve_slot
from sopflow.campaign.worker.report import WorkerReport
from sopflow.campaign.worker.states import record
from sopflow.channels.base import DeliveryError
from sopflow.i18n import _
from sopflow.store.delivery import Delivery, Endpoint
from sopflow.store.runs import Campaign, Staff, Task

NOT_EXECUTED = ("pending", "due", "sending", "uncertain", "failed", "missed")
EVERY = timedelta(days=1)


def mark_overdue(ctx: Context, *, now: datetime, report: WorkerReport) -> None:
    with ctx.database.sessions.begin() as session:
        rows = session.execute(
            update(Task)
            .where(Task.deadline_at < now, Task.overdue_at.is_(None), Task.state.in_(NOT_EXECUTED))
            .values(overdue_at=now)
            .returning(Task.id, Task.state)
            .execution_options(synchronize_session=False)
        ).all()
        for state in {row.state for row in rows}:
            record(
                session,
                task_ids=[row.id for row in rows if row.state == state],
                from_state=state,
                to=state,
                actor=ctx.actor,
                now=now,
                reason=_("overdue: its deadline passed before it was done"),
            )
        report.add("overdue", len(rows))


def _manager(session: Session, ctx: Context, task: Task, campaign: Campaign) -> Staff | None:
    owner = ctx.staff(session, task.owner_id)
    if owner.manager_id is not None:
        return ctx.staff(session, owner.manager_id)
    roles = {r.id: r for r in ctx.policies(session, campaign).playbook.team.roles}
    role = roles.get(task.role)
    target = getattr(role, "escalate_to", None) if role is not None else None
    name = (campaign.assignments or {}).get(target) if target else None
    if not name or name == owner.name:
        return None
    return session.scalars(select(Staff).where(Staff.name == name)).first()


def _endpoint(session: Session, task: Task, campaign: Campaign, manager: Staff) -> int | None:
    notify = campaign.notify or {}
    name = notify.get(manager.role) or notify.get(ALL_ROLES)
    if name:
        found = session.scalars(
            select(Endpoint.id).where(Endpoint.name == name, Endpoint.active.is_(True))
        ).first()
        if found is not None:
            return found
    return task.endpoint_id


def escalate(ctx: Context, *, now: datetime, report: WorkerReport) -> None:
    with ctx.database.sessions() as session:
        ids = list(
            session.scalars(
                select(Task.id)
                .join(Campaign, Campaign.id == Task.campaign_id)
                .where(
                    Campaign.status == "running",
                    Task.overdue_at.is_not(None),
                    Task.state.in_(NOT_EXECUTED),
                    or_(Task.escalated_at.is_(None), Task.escalated_at <= now - EVERY),
                )
                .limit(200)
            )
        )
    for task_id in ids:
        _escalate_one(ctx, task_id, now=now, report=report)


class _Busy(Exception):
    pass


def _escalate_one(ctx: Context, task_id: int, *, now: datetime, report: WorkerReport) -> None:
    try:
        _claim_and_send(ctx, task_id, now=now, report=report)
    except _Busy:
        return


def _claim_and_send(ctx: Context, task_id: int, *, now: datetime, report: WorkerReport) -> None:
    with ctx.database.sessions.begin() as session:
        task = session.get(Task, task_id)
        assert task is not None
        campaign = session.get(Campaign, task.campaign_id)
        assert campaign is not None
        count = task.escalations + 1
        manager = _manager(session, ctx, task, campaign)
        endpoint_id = _endpoint(session, task, campaign, manager) if manager is not None else None
        adapter = ctx.adapter(session, endpoint_id)[1] if endpoint_id is not None else None
        claimed = session.execute(
            update(Task)
            .where(
                Task.id == task.id,
                Task.escalations == task.escalations,
                or_(Task.escalated_at.is_(None), Task.escalated_at <= now - EVERY),
            )
            .values(escalations=count, escalated_at=now)
            .execution_options(synchronize_session=False)
        )
        if not getattr(claimed, "rowcount", 0):
            return  # another worker escalated it
        slot = now
        if adapter is not None and adapter.rate_limit is not None:
            # After the write above, so that on SQLite the reservation runs under the write lock.
            slot = reserve_slot(
                session,
                endpoint_id=endpoint_id or 0,
                limit=adapter.rate_limit,
                now=now,
                postgres=ctx.is_postgres,
            )
            if (slot - now).total_seconds() > ctx.options.queue_horizon:
                raise _Busy  # the endpoint is busy: roll back, the next pass tries again
        owner = ctx.staff(session, task.owner_id)
        if manager is None:
            reason = _("overdue; {owner} has no manager to escalate to", owner=owner.name)
        elif adapter is None:
            reason = _(
                "overdue; {manager} is told in the campaign status (no endpoint)", manager=manager.name
            )
        else:
            reason = _(
                "overdue: escalated to {manager} (reminder {count})", manager=manager.name, count=count
            )
        record(
            session,
            task_ids=[task.id],
            from_state=task.state,
            to=task.state,
            actor=ctx.actor,
            now=now,
            reason=reason,
        )
        report.add("escalated")
        if manager is None or adapter is None or endpoint_id is None:
            return
        message = escalation_message(task=task, campaign=campaign, owner=owner, manager=manager, count=count)
        row = Delivery(
            task_id=task.id,
            endpoint_id=endpoint_id,
            purpose="escalation",
            delivery_id=message.delivery_id,
            attempt=1,
            worker=ctx.name,
            status="sending",
            started_at=slot,
        )
        session.add(row)
        session.flush()
        row_id = row.id
    wait = (slot - datetime.now(slot.tzinfo)).total_seconds()
    if wait > 0:
        time.sleep(wait)
    try:
        status, response = "sent", adapter.send(message).response
    except DeliveryError as exc:
        status, response = "failed", exc.message
    with ctx.database.sessions.begin() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == row_id)
            .values(status=status, finished_at=datetime.now(now.tzinfo), response=response)
            .execution_options(synchronize_session=False)
        )

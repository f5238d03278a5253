"""Delivering claimed tasks: decide, write ``sending``, send, record the answer — each step its own
transaction, so a crash anywhere leaves a state another worker can finish from.

1. Decide (reads only): late beyond ``max_late`` → missed; the policies (audience, cap) → skip, postpone
   or send; a rate-limited endpoint → a slot now or soon, else wait in the database.
2. Write (one transaction, committed before any request leaves): the task ``sending`` with its attempt
   count and audience, and a ``deliveries`` row ``sending`` whose ``started_at`` is its slot.
3. Send, ``concurrency`` requests at a time.
4. Record (one transaction): ``sent`` (and release the ``after:`` steps that follow), or a retry with
   exponential backoff and jitter, or ``failed`` with the receiver's error text.

A task found ``sending`` with an expired lease (its worker died between 2 and 4) is resent with the same
delivery id when its endpoint deduplicates by it (the generic webhook); otherwise it becomes ``uncertain``
for a person to confirm (``confirm_task``): it may or may not have arrived, and sending it blindly could
deliver it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from sopflow.campaign.reminder import sends_itself, task_message
from sopflow.campaign.worker.context import Context, lease_until
from sopflow.campaign.worker.heartbeat import Heartbeat
from sopflow.campaign.worker.outcome import Job, finish, send, settle_held, utcnow
from sopflow.campaign.worker.policies import Decision, decide
from sopflow.campaign.worker.ratelimit import reserve_slot
from sopflow.campaign.worker.report import Notice, WorkerReport
from sopflow.campaign.worker.schedule import late_reason
from sopflow.campaign.worker.snapshot import Snapshot
from sopflow.campaign.worker.states import move, record
from sopflow.channels.base import Adapter
from sopflow.i18n import _
from sopflow.store.delivery import Delivery
from sopflow.store.runs import Campaign, Task


def _load(session: Session, ids: Sequence[int]) -> tuple[list[Task], dict[int, Campaign]]:
    tasks = list(session.scalars(select(Task).where(Task.id.in_(ids)).order_by(Task.id)))
    campaigns = {
        c.id: c
        for c in session.scalars(select(Campaign).where(Campaign.id.in_({t.campaign_id for t in tasks})))
    }
    for row in [*tasks, *campaigns.values()]:
        session.expunge(row)  # read-only copies: every write below is a conditional statement
    return tasks, campaigns


def deliver(
    ctx: Context,
    claimed: list[tuple[int, str]],
    *,
    snapshot: Snapshot,
    pool: ThreadPoolExecutor,
    report: WorkerReport,
) -> list[int]:
    """Deliver the claimed tasks; returns the ids of those now sent."""
    jobs = prepare(ctx, [task_id for task_id, _state in claimed], snapshot=snapshot, report=report)
    if not jobs:
        return []
    with Heartbeat(ctx, [job.task_id for job in jobs]):
        outcomes = list(pool.map(send, jobs))
    return finish(ctx, outcomes, report=report)


def prepare(ctx: Context, ids: list[int], *, snapshot: Snapshot, report: WorkerReport) -> list[Job]:
    now = utcnow()
    with ctx.database.sessions() as session:
        tasks, campaigns = _load(session, ids)
        decisions: dict[int, Decision] = {}
        for task in tasks:
            campaign = campaigns[task.campaign_id]
            if task.state == "due" and campaign.status == "running" and not _late(task, campaign, now):
                decisions[task.id] = decide(
                    session,
                    snapshot=snapshot,
                    policies=ctx.policies(session, campaign),
                    task=task,
                    campaign=campaign,
                    now=now,
                )
    jobs: list[Job] = []
    with ctx.database.sessions.begin() as session:
        # The first write takes SQLite's write lock (so the rate-limit reads below are serialised with other
        # workers' reservations) and extends the leases over the time this pass may take.
        session.execute(
            update(Task)
            .where(Task.id.in_(ids), Task.lease_owner == ctx.name)
            .values(lease_expires_at=lease_until(now, ctx.options, ctx.options.queue_horizon))
            .execution_options(synchronize_session=False)
        )
        plain: list[Task] = []
        for task in tasks:
            campaign = campaigns[task.campaign_id]
            if task.state == "sending":
                job = _recover(ctx, session, task, campaign, now=now, report=report)
            elif task.id in decisions and _is_plain(ctx, session, task, decisions[task.id]):
                plain.append(task)
                continue
            elif task.id in decisions:
                job = _start(ctx, session, task, campaign, decisions[task.id], now=now, report=report)
            else:
                job = None
                _not_now(ctx, session, task, campaign, now=now, report=report)
            if job is not None:
                jobs.append(job)
        jobs += _start_plain(ctx, session, plain, campaigns, decisions, now=now, report=report)
    return jobs


def _late(task: Task, campaign: Campaign, now: datetime) -> bool:
    scheduled = task.next_attempt_at or task.due_at
    return scheduled is not None and now - scheduled > timedelta(seconds=campaign.max_late_seconds)


def _not_now(
    ctx: Context, session: Session, task: Task, campaign: Campaign, *, now: datetime, report: WorkerReport
) -> None:
    """A claimed due task that is not sent: late beyond max_late (missed), or its campaign stopped."""
    if campaign.status == "running" and _late(task, campaign, now):
        scheduled = task.next_attempt_at or task.due_at
        assert scheduled is not None
        reason = late_reason(now - scheduled, campaign.max_late_seconds)
        settle_held(
            ctx,
            session,
            task_id=task.id,
            from_state="due",
            to="missed",
            reason=reason,
            now=now,
            report=report,
        )
        return
    _release(session, ctx, task.id, state="due")


def _release(session: Session, ctx: Context, task_id: int, *, state: str, **values: object) -> int:
    result = session.execute(
        update(Task)
        .where(Task.id == task_id, Task.lease_owner == ctx.name, Task.state == state)
        .values(lease_owner=None, lease_expires_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _start(
    ctx: Context,
    session: Session,
    task: Task,
    campaign: Campaign,
    decision: Decision,
    *,
    now: datetime,
    report: WorkerReport,
) -> Job | None:
    audience = decision.audience_values()
    report.add("capped", decision.capped)
    if decision.action == "skip":
        if move(
            session,
            task_ids=[task.id],
            from_state="due",
            to="skipped",
            actor=ctx.actor,
            now=now,
            reason=decision.reason,
            values={**audience, "note": decision.reason, "lease_owner": None, "lease_expires_at": None},
            where=[Task.lease_owner == ctx.name],
        ):
            report.notice(Notice(task.id, task.campaign_id, task.step_id, "skipped", decision.reason))
        return None
    if decision.action == "postpone":
        if _release(session, ctx, task.id, state="due", next_attempt_at=decision.until, **audience):
            record(
                session,
                task_ids=[task.id],
                from_state="due",
                to="due",
                actor=ctx.actor,
                now=now,
                reason=decision.reason,
            )
        return None
    assert task.endpoint_id is not None
    endpoint, adapter = ctx.adapter(session, task.endpoint_id)
    slot = now
    if adapter.rate_limit is not None:
        slot = reserve_slot(
            session, endpoint_id=endpoint.id, limit=adapter.rate_limit, now=now, postgres=ctx.is_postgres
        )
        if (slot - now).total_seconds() > ctx.options.queue_horizon:
            # Queue in the database: claimed again at its slot (not a retry: attempts stay as they are).
            _release(session, ctx, task.id, state="due", next_attempt_at=slot)
            report.add("queued")
            return None
    attempt = task.attempts + 1
    wait = max(0.0, (slot - now).total_seconds())
    moved = move(
        session,
        task_ids=[task.id],
        from_state="due",
        to="sending",
        actor=ctx.actor,
        now=now,
        reason=_("sending to {endpoint} (attempt {attempt})", endpoint=endpoint.name, attempt=attempt),
        values={**audience, "attempts": attempt, "lease_expires_at": lease_until(now, ctx.options, wait)},
        where=[Task.lease_owner == ctx.name],
    )
    if not moved:
        return None
    task.audience = decision.persons
    task.audience_size = None if decision.persons is None else len(decision.persons)
    task.capped = decision.capped
    return _job(ctx, session, task, campaign, endpoint.id, adapter, slot=slot, attempt=attempt)


def _is_plain(ctx: Context, session: Session, task: Task, decision: Decision) -> bool:
    """A send with no policy outcome to apply one by one and no rate limit: written in bulk."""
    if decision.action != "send" or decision.persons is not None or task.endpoint_id is None:
        return False
    return ctx.adapter(session, task.endpoint_id)[1].rate_limit is None


def _start_plain(
    ctx: Context,
    session: Session,
    tasks: list[Task],
    campaigns: dict[int, Campaign],
    decisions: dict[int, Decision],
    *,
    now: datetime,
    report: WorkerReport,
) -> list[Job]:
    """``_start`` for many tasks at once: one UPDATE, one INSERT of log rows (the common case, at scale)."""
    if not tasks:
        return []
    by_id = {t.id: t for t in tasks}
    names = {t.id: ctx.adapter(session, t.endpoint_id or 0)[0].name for t in tasks}
    moved = move(
        session,
        task_ids=list(by_id),
        from_state="due",
        to="sending",
        actor=ctx.actor,
        now=now,
        reason=lambda i: _(
            "sending to {endpoint} (attempt {attempt})", endpoint=names[i], attempt=by_id[i].attempts + 1
        ),
        values={
            "attempts": Task.attempts + 1,
            "lease_expires_at": lease_until(now, ctx.options),
            "capped": 0,
        },
        where=[Task.lease_owner == ctx.name],
    )
    if not moved:
        return []
    rows = [
        {
            "task_id": i,
            "endpoint_id": by_id[i].endpoint_id,
            "purpose": "message" if sends_itself(campaigns[by_id[i].campaign_id], by_id[i]) else "reminder",
            "delivery_id": by_id[i].delivery_id,
            "attempt": by_id[i].attempts + 1,
            "worker": ctx.name,
            "status": "sending",
            "started_at": now,
        }
        for i in moved
    ]
    logged = dict(
        (row[1], row[0])
        for row in session.execute(insert(Delivery).returning(Delivery.id, Delivery.task_id), rows)
    )
    jobs = []
    for i in moved:
        task = by_id[i]
        campaign = campaigns[task.campaign_id]
        adapter = ctx.adapter(session, task.endpoint_id or 0)[1]
        task.attempts += 1
        owner = ctx.staff(session, task.owner_id)
        playbook = ctx.policies(session, campaign).playbook
        message = task_message(task=task, campaign=campaign, owner=owner, playbook=playbook)
        jobs.append(Job(i, logged[i], adapter, message, now, task.attempts))
    return jobs


def _job(
    ctx: Context,
    session: Session,
    task: Task,
    campaign: Campaign,
    endpoint_id: int,
    adapter: Adapter,
    *,
    slot: datetime,
    attempt: int,
) -> Job:
    row = Delivery(
        task_id=task.id,
        endpoint_id=endpoint_id,
        purpose="message" if sends_itself(campaign, task) else "reminder",
        delivery_id=task.delivery_id,
        attempt=attempt,
        worker=ctx.name,
        status="sending",
        started_at=slot,
    )
    session.add(row)
    session.flush()
    owner = ctx.staff(session, task.owner_id)
    message = task_message(
        task=task, campaign=campaign, owner=owner, playbook=ctx.policies(session, campaign).playbook
    )
    return Job(task.id, row.id, adapter, message, slot, attempt)


def _recover(
    ctx: Context, session: Session, task: Task, campaign: Campaign, *, now: datetime, report: WorkerReport
) -> Job | None:
    """A task left ``sending`` by a worker that died: resend with the same id, or ``uncertain``."""
    assert task.endpoint_id is not None
    endpoint, adapter = ctx.adapter(session, task.endpoint_id)
    session.execute(
        update(Delivery)
        .where(Delivery.task_id == task.id, Delivery.status == "sending")
        .values(
            status="uncertain",
            finished_at=now,
            response=_("the worker stopped before the answer was recorded"),
        )
        .execution_options(synchronize_session=False)
    )
    if adapter.idempotent and campaign.status == "running":
        attempt = task.attempts + 1
        moved = move(
            session,
            task_ids=[task.id],
            from_state="sending",
            to="sending",
            actor=ctx.actor,
            now=now,
            reason=_(
                "its worker stopped mid-send: sent again with the same delivery id, which the receiver deduplicates"
            ),
            values={"attempts": attempt, "lease_expires_at": lease_until(now, ctx.options)},
            where=[Task.lease_owner == ctx.name],
        )
        if not moved:
            return None
        report.add("resent")
        return _job(ctx, session, task, campaign, endpoint.id, adapter, slot=now, attempt=attempt)
    if adapter.idempotent and campaign.status == "paused":
        move(
            session,
            task_ids=[task.id],
            from_state="sending",
            to="due",
            actor=ctx.actor,
            now=now,
            reason=_(
                "its worker stopped mid-send: sent again with the same delivery id when the campaign resumes"
            ),
            values={"lease_owner": None, "lease_expires_at": None, "next_attempt_at": now},
            where=[Task.lease_owner == ctx.name],
        )
        return None
    reason = _(
        "its worker stopped while sending to {endpoint} ({kind}), which cannot deduplicate: it may or may not "
        "have arrived; say which with `sopflow tasks confirm {id} --arrived` (or --not-arrived to send it again)",
        endpoint=endpoint.name,
        kind=endpoint.kind,
        id=task.id,
    )
    settle_held(
        ctx,
        session,
        task_id=task.id,
        from_state="sending",
        to="uncertain",
        reason=reason,
        now=now,
        report=report,
    )
    return None

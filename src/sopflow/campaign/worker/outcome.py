"""Sending the prepared requests and recording the receivers' answers.

A success moves the task ``sending`` → ``sent`` only if this worker still holds its lease (a conditional
UPDATE, in bulk for the whole batch), then releases the ``after:`` steps that follow it. A retryable
refusal puts the task back to ``due`` with ``next_attempt_at`` after an exponential backoff with jitter
(and never sooner than the receiver's ``Retry-After``), until ``max_attempts``; any other refusal fails the
task with the receiver's error text. Every attempt's answer is kept in the delivery log.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sopflow.campaign.tasks import release_dependents
from sopflow.campaign.timing import after_quiet_hours
from sopflow.campaign.worker.context import Context
from sopflow.campaign.worker.report import Notice, WorkerReport
from sopflow.campaign.worker.states import chunks, move
from sopflow.channels.base import Adapter, DeliveryError, Message
from sopflow.i18n import _
from sopflow.store.delivery import Delivery
from sopflow.store.runs import Campaign, Task


@dataclass
class Job:
    task_id: int
    delivery_row: int
    adapter: Adapter
    message: Message
    slot: datetime  # when the request may leave (a rate limit's reserved slot, else now)
    attempt: int


@dataclass(frozen=True)
class Outcome:
    job: Job
    response: str = ""
    error: DeliveryError | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(ctx: Context, attempt: int, retry_after: float | None) -> float:
    """Seconds before attempt ``attempt + 1``: doubling from the base, capped, with ±50 % jitter (workers
    that failed together do not retry together), never sooner than the receiver asked."""
    options = ctx.options
    delay = min(options.backoff_max, options.backoff_base * 2.0 ** max(0, attempt - 1))
    delay *= 0.5 + random.random()
    return max(delay, retry_after or 0.0)


def send(job: Job) -> Outcome:
    wait = (job.slot - utcnow()).total_seconds()
    if wait > 0:
        time.sleep(wait)
    try:
        result = job.adapter.send(job.message)
    except DeliveryError as exc:
        return Outcome(job, error=exc)
    return Outcome(job, response=result.response)


def finish(ctx: Context, outcomes: list[Outcome], *, report: WorkerReport) -> list[int]:
    now = utcnow()
    with ctx.database.sessions.begin() as session:
        log = [
            {
                "id": o.job.delivery_row,
                "status": "sent" if o.error is None else _log_status(ctx, o.job, o.error),
                "finished_at": now,
                "response": o.response if o.error is None else o.error.message,
            }
            for o in outcomes
        ]
        session.execute(update(Delivery), log)  # by primary key, in one executemany
        sent = _sent(ctx, session, [o for o in outcomes if o.error is None], now=now, report=report)
        for outcome in outcomes:
            if outcome.error is not None:
                _refused(ctx, session, outcome.job, outcome.error, now=now, report=report)
    return sent


def _log_status(ctx: Context, job: Job, error: DeliveryError) -> str:
    if error.outcome_unknown and not job.adapter.idempotent:
        return "uncertain"
    return "failed" if not error.retryable or job.attempt >= ctx.options.max_attempts else "retry"


def _sent(
    ctx: Context, session: Session, outcomes: list[Outcome], *, now: datetime, report: WorkerReport
) -> list[int]:
    if not outcomes:
        return []
    responses = {o.job.task_id: o.response for o in outcomes}
    cleared = {
        "lease_owner": None,
        "lease_expires_at": None,
        "sent_at": now,
        "last_error": None,
        "next_attempt_at": None,
    }
    moved = move(
        session,
        task_ids=list(responses),
        from_state="sending",
        to="sent",
        actor=ctx.actor,
        now=now,
        reason=lambda i: _("the receiver accepted it: {response}", response=responses[i]),
        values=cleared,
        where=[Task.lease_owner == ctx.name],
    )
    lost = [i for i in responses if i not in set(moved)]
    if lost:
        # Our lease ran out during the request and another worker took the task over. Where it marked the task
        # uncertain, this answer settles it: it arrived.
        moved += move(
            session,
            task_ids=lost,
            from_state="uncertain",
            to="sent",
            actor=ctx.actor,
            now=now,
            reason=_("the receiver's answer came after the lease expired: it arrived"),
            values=cleared,
        )
    report.add("sent", len(moved))
    _release_followers(ctx, session, moved, now=now)
    return moved


def _release_followers(ctx: Context, session: Session, sent: list[int], *, now: datetime) -> None:
    """Time the ``after:`` steps waiting for the tasks just sent (one query finds which have any)."""
    waiting: set[tuple[int, str | None]] = set()
    steps: dict[int, tuple[int, str]] = {}
    for part in chunks(sent):
        steps.update(
            {
                row[0]: (row[1], row[2])
                for row in session.execute(
                    select(Task.id, Task.campaign_id, Task.step_id).where(Task.id.in_(part))
                )
            }
        )
    campaigns = sorted({c for c, _s in steps.values()})
    for part in chunks(campaigns):
        waiting |= {
            (row[0], row[1])
            for row in session.execute(
                select(Task.campaign_id, Task.after_step).where(
                    Task.campaign_id.in_(part), Task.after_step.is_not(None), Task.due_at.is_(None)
                )
            )
        }
    for task_id, key in steps.items():
        if key not in waiting:
            continue
        task = session.get(Task, task_id, populate_existing=True)
        campaign = session.get(Campaign, key[0])
        assert task is not None and campaign is not None
        policies = ctx.policies(session, campaign)
        release_dependents(session=session, task=task, at=now, quiet=policies.quiet, zone=policies.zone)


def settle_held(
    ctx: Context,
    session: Session,
    *,
    task_id: int,
    from_state: str,
    to: str,
    reason: str,
    now: datetime,
    report: WorkerReport,
    last_error: str | None = None,
) -> bool:
    """End this worker's hold on a task by moving it to ``to`` (missed, failed, uncertain) with the reason,
    and report it; False when the task is no longer this worker's (someone moved it first)."""
    values = {"lease_owner": None, "lease_expires_at": None, "last_error": last_error or reason}
    mine = [Task.lease_owner == ctx.name]
    if not move(
        session,
        task_ids=[task_id],
        from_state=from_state,
        to=to,
        actor=ctx.actor,
        now=now,
        reason=reason,
        values=values,
        where=mine,
    ):
        return False
    task = session.get(Task, task_id)
    assert task is not None
    report.notice(Notice(task.id, task.campaign_id, task.step_id, to, reason))
    return True


def _refused(
    ctx: Context, session: Session, job: Job, error: DeliveryError, *, now: datetime, report: WorkerReport
) -> None:
    cleared = {"lease_owner": None, "lease_expires_at": None, "last_error": error.message}
    mine = [Task.lease_owner == ctx.name]
    if error.outcome_unknown and not job.adapter.idempotent:
        # The request left and no answer came: it may have arrived. Sending it again could deliver it twice,
        # so a person says which (as when a worker dies mid-request).
        reason = _(
            "no answer after the request was sent ({error}): it may or may not have arrived; say which with "
            "`sopflow tasks confirm {id} --arrived` (or --not-arrived to send it again)",
            error=error.message,
            id=job.task_id,
        )
        settle_held(
            ctx,
            session,
            task_id=job.task_id,
            from_state="sending",
            to="uncertain",
            reason=reason,
            now=now,
            report=report,
        )
        return
    if _log_status(ctx, job, error) == "failed":
        reason = (
            error.message
            if not error.retryable
            else _("gave up after {attempts} attempts: {error}", attempts=job.attempt, error=error.message)
        )
        settle_held(
            ctx,
            session,
            task_id=job.task_id,
            from_state="sending",
            to="failed",
            reason=reason,
            now=now,
            report=report,
            last_error=error.message,
        )
        return
    delay = backoff(ctx, job.attempt, error.retry_after)
    # A retry follows the playbook's quiet hours like a due time does: one that would land inside them waits
    # for their end.
    task = session.get(Task, job.task_id)
    campaign = session.get(Campaign, task.campaign_id) if task is not None else None
    retry_at = now + timedelta(seconds=delay)
    if campaign is not None:
        policies = ctx.policies(session, campaign)
        retry_at = after_quiet_hours(retry_at, policies.quiet, policies.zone)
        delay = (retry_at - now).total_seconds()
    if move(
        session,
        task_ids=[job.task_id],
        from_state="sending",
        to="due",
        actor=ctx.actor,
        now=now,
        reason=_("retry in {seconds:.0f} s: {error}", seconds=delay, error=error.message),
        values={**cleared, "next_attempt_at": retry_at},
        where=mine,
    ):
        report.add("retried")

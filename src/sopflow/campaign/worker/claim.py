"""Claiming tasks with a lease in the database, so that several workers never deliver the same task.

A claim sets ``lease_owner`` and ``lease_expires_at`` on tasks that are claimable now:

- ``due`` tasks with an endpoint, of a running campaign, whose time (``next_attempt_at``, else ``due_at``)
  came and whose lease (if any) expired;
- ``sending`` tasks whose lease expired: their worker died between writing ``sending`` and recording the
  receiver's answer. The claimer decides what to do with them (resend with the same delivery id, or
  ``uncertain``) in :mod:`sopflow.campaign.worker.deliver`.

It is one ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING``: on PostgreSQL the inner SELECT takes row
locks with ``FOR UPDATE SKIP LOCKED`` (concurrent claimers take disjoint rows without waiting), on SQLite
the statement runs under the database's single write lock and repeats every condition, so a row another
worker claimed first no longer matches.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select, update

from sopflow.campaign.worker.context import Context, lease_until
from sopflow.store.runs import Campaign, Task


def _claimable(now: datetime) -> object:
    running = select(Campaign.id).where(Campaign.status == "running")
    lease_free = or_(Task.lease_expires_at.is_(None), Task.lease_expires_at < now)
    due = and_(
        Task.state == "due",
        Task.endpoint_id.is_not(None),
        Task.due_at <= now,
        or_(Task.next_attempt_at.is_(None), Task.next_attempt_at <= now),
        lease_free,
        Task.campaign_id.in_(running),
    )
    stale = and_(Task.state == "sending", Task.lease_expires_at < now)
    return or_(due, stale)


def claim(ctx: Context, *, now: datetime, limit: int) -> list[tuple[int, str]]:
    """Claim up to ``limit`` tasks, earliest first; returns ``(task id, state)`` of those claimed."""
    condition = _claimable(now)
    inner = (
        select(Task.id)
        .where(condition)  # type: ignore[arg-type]
        .order_by(func.coalesce(Task.next_attempt_at, Task.due_at), Task.id)
        .limit(limit)
    )
    if ctx.is_postgres:
        inner = inner.with_for_update(skip_locked=True)
    statement = (
        update(Task)
        .where(Task.id.in_(inner.scalar_subquery()), condition)  # type: ignore[arg-type]
        .values(lease_owner=ctx.name, lease_expires_at=lease_until(now, ctx.options))
        .returning(Task.id, Task.state)
        .execution_options(synchronize_session=False)
    )
    with ctx.database.sessions.begin() as session:
        return [(row[0], row[1]) for row in session.execute(statement)]


def next_wakeup(ctx: Context, *, now: datetime) -> datetime | None:
    """The earliest time something may become claimable: a pending due time, a retry, a lease's end."""
    with ctx.database.sessions() as session:
        times = [
            session.scalar(select(func.min(Task.due_at)).where(Task.state == "pending", Task.due_at > now)),
            session.scalar(
                select(func.min(Task.next_attempt_at)).where(
                    Task.state == "due", Task.endpoint_id.is_not(None), Task.next_attempt_at > now
                )
            ),
            session.scalar(
                select(func.min(Task.lease_expires_at)).where(
                    Task.state.in_(("due", "sending")), Task.lease_expires_at > now
                )
            ),
        ]
    found = [t for t in times if t is not None]
    return min(found) if found else None

"""The worker's loop: passes over the database until stopped (or, with ``once``, until nothing is due).

A pass: end cancelled campaigns' tasks; make due what came due (or missed); claim and deliver batches of
due tasks (re-checking for newly due ones between batches, so a long run of deliveries does not delay
tasks that fall due meanwhile); mark overdue tasks and escalate; write the touches of sent and done tasks.
Between passes it sleeps until the next due time, retry or lease expiry, at most ``poll_seconds``.

Several workers (processes, on one machine or several) may run against the same database at once; the
database arbitrates (see :mod:`sopflow.campaign.worker.claim`). Within one worker, ``concurrency`` threads
send the requests of a batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sopflow.campaign.worker.by_hand import record_audiences
from sopflow.campaign.worker.claim import claim, next_wakeup
from sopflow.campaign.worker.context import Context, WorkerOptions
from sopflow.campaign.worker.deliver import deliver
from sopflow.campaign.worker.escalate import escalate, mark_overdue
from sopflow.campaign.worker.outcome import utcnow
from sopflow.campaign.worker.report import Notice, WorkerReport
from sopflow.campaign.worker.schedule import end_cancelled, promote
from sopflow.campaign.worker.snapshot import Snapshot
from sopflow.campaign.worker.touch import record_touches
from sopflow.events.store import EventStore
from sopflow.store.database import Database
from sopflow.workspace import Workspace

PASS_SECONDS = 1.0  # deliver for at most this long before looking again for newly due tasks
SWEEP_SECONDS = 5.0  # how often a busy worker looks for overdue tasks and touches not yet written


def run_worker(
    *,
    database: Database,
    workspace: Workspace,
    options: WorkerOptions | None = None,
    stop: threading.Event | None = None,
    listener: Callable[[Notice], None] | None = None,
) -> WorkerReport:
    """Run until ``stop`` is set (or, with ``options.once``, until nothing more is due now)."""
    ctx = Context(database=database, workspace=workspace, options=options or WorkerOptions())
    report = WorkerReport(worker=ctx.name, listener=listener)
    stop = stop or threading.Event()
    store = EventStore.open(workspace)
    snapshot = Snapshot(workspace, refresh_seconds=ctx.options.audience_refresh)
    try:
        warm_up(ctx, snapshot)
        with ThreadPoolExecutor(max_workers=max(1, ctx.options.concurrency)) as pool:
            while not stop.is_set():
                busy = run_pass(ctx, store=store, snapshot=snapshot, pool=pool, report=report)
                report.add("passes")
                if ctx.options.max_passes is not None and report.counts["passes"] >= ctx.options.max_passes:
                    break
                if busy:
                    continue
                if ctx.options.once:
                    break
                stop.wait(_sleep_seconds(ctx))
    finally:
        snapshot.close()
        store.close()
        ctx.close()
    return report


def warm_up(ctx: Context, snapshot: Snapshot) -> None:
    """Pay the first-use costs before the first task falls due instead of making it late: parse the running
    campaigns' playbooks, open the events snapshot, import what writing touches needs (pyarrow loads pandas
    on its first timestamp conversion: half a second)."""
    from datetime import UTC

    from sqlalchemy import select

    from sopflow.events.normalize import normalize_event
    from sopflow.events.store import canonical_table
    from sopflow.store.runs import Campaign

    with ctx.database.sessions() as session:
        for campaign in session.scalars(select(Campaign).where(Campaign.status == "running")):
            ctx.policies(session, campaign)
    snapshot.engine()
    now = utcnow()
    canonical_table([normalize_event({"event": "warm_up", "user_id": "-", "ts": now.isoformat()}, tz=UTC)])


def _sleep_seconds(ctx: Context) -> float:
    now = utcnow()
    wake = next_wakeup(ctx, now=now)
    if wake is None:
        return ctx.options.poll_seconds
    return max(0.01, min(ctx.options.poll_seconds, (wake - now).total_seconds()))


def run_pass(
    ctx: Context, *, store: EventStore, snapshot: Snapshot, pool: ThreadPoolExecutor, report: WorkerReport
) -> bool:
    """One pass; True when it delivered for its whole time slice (more may be waiting)."""
    started = time.monotonic()
    end_cancelled(ctx, now=utcnow(), report=report)
    busy = False
    while True:
        now = utcnow()
        by_hand = promote(ctx, now=now, report=report)
        if by_hand:
            record_audiences(ctx, by_hand, snapshot=snapshot, now=now, report=report)
        claimed = claim(ctx, now=now, limit=ctx.options.claim_size)
        if not claimed:
            break
        sent = deliver(ctx, claimed, snapshot=snapshot, pool=pool, report=report)
        if sent:
            record_touches(ctx, store, now=utcnow(), report=report, only=sent)
        if time.monotonic() - started > PASS_SECONDS:
            busy = True
            break
    if ctx.options.once or time.monotonic() >= ctx.next_sweep:
        # What every worker would otherwise repeat on every pass (and on PostgreSQL, wait on each other's row
        # locks for): overdue marks, escalations, touches left by crashed workers and of tasks done by hand.
        ctx.next_sweep = time.monotonic() + SWEEP_SECONDS
        now = utcnow()
        mark_overdue(ctx, now=now, report=report)
        escalate(ctx, now=now, report=report)
        record_touches(ctx, store, now=utcnow(), report=report)
    return busy

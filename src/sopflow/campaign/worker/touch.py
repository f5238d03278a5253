"""Every sent or done task becomes ``sop_touch`` events, exactly once, whatever crashes in between.

The events go to the event store first (durable on return; their ids derive from the task's delivery id
and the person, so writing them again adds nothing), then ``touched_at`` is set by a conditional UPDATE
in the same transaction that records the persons touched (``recipient_touches``, for the frequency cap).
A crash after the store write and before the UPDATE only means the next pass writes the same events again,
which the store ignores; a task is never marked touched before its events are durable.
Tasks people mark done (``sopflow tasks done``) are picked up the same way.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from sopflow.campaign.touches import touch_rows, write_touches
from sopflow.campaign.worker.context import Context
from sopflow.campaign.worker.report import WorkerReport
from sopflow.events.store import EventStore
from sopflow.store.delivery import Endpoint, RecipientTouch
from sopflow.store.runs import Campaign, Task

TOUCH_BATCH = 2000


def record_touches(
    ctx: Context, store: EventStore, *, now: datetime, report: WorkerReport, only: list[int] | None = None
) -> None:
    """Touches of the tasks ``only`` (those this worker just sent), else of every task still without them."""
    while True:
        query = select(Task).where(Task.state.in_(("sent", "done")), Task.touched_at.is_(None))
        if only is not None:
            query = query.where(Task.id.in_(only))
        with ctx.database.sessions() as session:
            tasks = list(session.scalars(query.order_by(Task.id).limit(TOUCH_BATCH)))
            if not tasks:
                return
            campaigns = {
                c.id: c
                for c in session.scalars(
                    select(Campaign).where(Campaign.id.in_({t.campaign_id for t in tasks}))
                )
            }
            kinds: dict[int, str] = {
                row[0]: row[1] for row in session.execute(select(Endpoint.id, Endpoint.kind))
            }
            rows = []
            for task in tasks:
                campaign = campaigns[task.campaign_id]
                at = (task.sent_at if task.state == "sent" else task.done_at) or now
                rows += touch_rows(
                    task=task,
                    campaign=campaign,
                    playbook=ctx.policies(session, campaign).playbook,
                    owner=ctx.staff(session, task.owner_id).name,
                    endpoint_kind=kinds.get(task.endpoint_id) if task.endpoint_id is not None else None,
                    at=at,
                )
        write_touches(store, rows)  # durable before any task is marked touched
        with ctx.database.sessions.begin() as session:
            marked = set(
                session.scalars(
                    update(Task)
                    .where(Task.id.in_([t.id for t in tasks]), Task.touched_at.is_(None))
                    .values(touched_at=now)
                    .returning(Task.id)
                    .execution_options(synchronize_session=False)
                )
            )
            persons = [
                {
                    "person": person,
                    "campaign_id": t.campaign_id,
                    "task_id": t.id,
                    "at": t.sent_at or t.done_at or now,
                }
                for t in tasks
                if t.id in marked
                for person in (t.audience or [])
            ]
            if persons:
                session.execute(insert(RecipientTouch), persons)
        report.add("touched", len(marked))
        if only is not None or len(tasks) < TOUCH_BATCH:
            return

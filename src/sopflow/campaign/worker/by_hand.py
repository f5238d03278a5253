"""Tasks without an endpoint: due for their owner to do by hand, with their audience decided at due time.

Nothing is sent; the worker records who the step is for (the list ``sopflow tasks audience`` exports, the
frequency cap already applied) so the owner works from the same list a delivered reminder would carry. A
step whose filtered audience is empty is skipped with the reason, as a delivered one would be.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from sopflow.campaign.worker.context import Context
from sopflow.campaign.worker.deliver import _load
from sopflow.campaign.worker.policies import Decision, decide
from sopflow.campaign.worker.report import Notice, WorkerReport
from sopflow.campaign.worker.snapshot import Snapshot
from sopflow.campaign.worker.states import move
from sopflow.store.runs import Task


def record_audiences(
    ctx: Context, ids: list[int], *, snapshot: Snapshot, now: datetime, report: WorkerReport
) -> None:
    with ctx.database.sessions() as session:
        tasks, campaigns = _load(session, ids)
        decisions: dict[int, Decision] = {
            task.id: decide(
                session,
                snapshot=snapshot,
                policies=ctx.policies(session, campaigns[task.campaign_id]),
                task=task,
                campaign=campaigns[task.campaign_id],
                now=now,
            )
            for task in tasks
            if task.state == "due"
        }
    with ctx.database.sessions.begin() as session:
        for task in tasks:
            decision = decisions.get(task.id)
            if decision is None:
                continue
            values = decision.audience_values()
            if decision.action == "skip":
                if move(
                    session,
                    task_ids=[task.id],
                    from_state="due",
                    to="skipped",
                    actor=ctx.actor,
                    now=now,
                    reason=decision.reason,
                    values={**values, "note": decision.reason},
                ):
                    report.notice(Notice(task.id, task.campaign_id, task.step_id, "skipped", decision.reason))
                continue
            session.execute(
                update(Task)
                .where(Task.id == task.id, Task.state == "due")
                .values(**values)
                .execution_options(synchronize_session=False)
            )

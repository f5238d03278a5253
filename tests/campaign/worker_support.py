"""Helpers for the worker tests: a campaign whose steps are due when the test says, and a quick worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from tests.campaign.runs import add_staff, add_version

from sopflow.campaign.start import start_campaign
from sopflow.campaign.worker import WorkerOptions, WorkerReport, run_worker
from sopflow.channels.endpoints import add_endpoint
from sopflow.store.database import Database
from sopflow.store.runs import Campaign, Task
from sopflow.workspace import Workspace

BASE = (Path(__file__).resolve().parents[1] / "playbook" / "fixtures" / "base.yaml").read_text(
    encoding="utf-8"
)
QUIET = '  quiet_hours: {start: "22:00", end: "08:00"}\n'
assert QUIET in BASE
NO_QUIET = BASE.replace(QUIET, "")  # retries would otherwise wait for 08:00 Shanghai when tests run at night
SECRET = "whsec-worker-test"


def quiet_now(hours_left: int) -> str:
    """The base playbook with quiet hours from an hour ago (Shanghai) until ``hours_left`` hours from now."""
    from zoneinfo import ZoneInfo

    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    start, end = local - timedelta(hours=1), local + timedelta(hours=hours_left)
    return BASE.replace(QUIET, f'  quiet_hours: {{start: "{start:%H}:00", end: "{end:%H}:00"}}\n')


FAST = WorkerOptions(once=True, concurrency=2, lease_seconds=5, request_timeout=2, backoff_base=1.0)


def utcnow() -> datetime:
    return datetime.now(UTC)


def endpoint(db: Database, name: str, kind: str, url: str, secret: str | None = None) -> None:
    with db.session() as session:
        add_endpoint(session=session, name=name, kind=kind, url=url, secret=secret)


def campaign(
    db: Database,
    *,
    notify: dict[str, str] | None = None,
    name: str | None = None,
    text: str = NO_QUIET,
    manager: bool = False,
) -> int:
    """A campaign of the base playbook started long ago; every task pending with no due time yet."""
    with db.session() as session:
        version = add_version(session, text)
        boss = add_staff(session, "张经理", "lead")
        add_staff(session, "小王", "ops", manager=boss if manager else None)
        started = start_campaign(
            session=session,
            version=version,
            starts_at=utcnow() + timedelta(days=30),
            notify=notify or {},
            name=name,
            now=utcnow(),
        )
        session.flush()
        return started.id


def set_due(db: Database, campaign_id: int, step: str, due: datetime, **values: Any) -> int:
    with db.session() as session:
        session.execute(
            update(Task)
            .where(Task.campaign_id == campaign_id, Task.step_id == step)
            .values(due_at=due, deadline_at=due + timedelta(days=1), **values)
        )
        return int(
            session.scalars(
                select(Task.id).where(Task.campaign_id == campaign_id, Task.step_id == step)
            ).one()
        )


def task(db: Database, task_id: int) -> Task:
    with db.sessions() as session:
        row = session.get(Task, task_id)
        assert row is not None
        session.expunge(row)
        return row


def set_status(db: Database, campaign_id: int, status: str) -> None:
    with db.session() as session:
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(status=status))


def work(db: Database, workspace: Workspace, options: WorkerOptions = FAST) -> WorkerReport:
    return run_worker(database=db, workspace=workspace, options=options)


def events_of(session: Session, task_id: int) -> list[tuple[str | None, str]]:
    from sopflow.store.runs import TaskEvent

    rows = session.scalars(select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.id))
    return [(e.from_state, e.to_state) for e in rows]

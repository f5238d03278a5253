"""Pausing, resuming and cancelling a campaign; listing tasks by person, day and state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.campaign.runs import add_staff, add_version, database

from sopflow.campaign.lifecycle import (
    TaskFilter,
    cancel_campaign,
    list_campaigns,
    list_tasks,
    pause_campaign,
    resume_campaign,
)
from sopflow.campaign.start import start_campaign
from sopflow.campaign.tasks import mark_done, skip_task
from sopflow.errors import InvalidInput, NotFound
from sopflow.store.runs import Task, TaskEvent

BASE = (Path(__file__).resolve().parents[1] / "playbook" / "fixtures" / "base.yaml").read_text(
    encoding="utf-8"
)
SHANGHAI = ZoneInfo("Asia/Shanghai")
D0 = datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)  # post D-3 10:00, greet D0 20:00


def _campaign(session: Session) -> int:
    version = add_version(session, BASE)
    add_staff(session, "小王", "ops")
    add_staff(session, "张经理", "lead")
    campaign = start_campaign(session=session, version=version, starts_at=D0, now=D0 - timedelta(days=5))
    session.flush()
    return campaign.id


def _tasks(session: Session, campaign_id: int) -> dict[str, Task]:
    return {t.step_id: t for t in session.scalars(select(Task).where(Task.campaign_id == campaign_id))}


def test_pause_and_resume_keep_every_task_due_instead_of_missed(database_url: str) -> None:
    with database(database_url) as db, db.session() as session:
        cid = _campaign(session)
        paused_at = datetime(2026, 11, 28, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)  # before post (D-3 10:00)
        pause_campaign(session=session, campaign_id=cid, by="张经理", now=paused_at)
        with pytest.raises(InvalidInput, match="only a running campaign can be paused"):
            pause_campaign(session=session, campaign_id=cid, by="张经理", now=paused_at)
        resumed_at = datetime(2026, 11, 30, 12, 0, tzinfo=SHANGHAI).astimezone(UTC)  # post came due meanwhile
        resume_campaign(session=session, campaign_id=cid, by="张经理", now=resumed_at)
        session.flush()
        tasks = _tasks(session, cid)
        assert tasks["post"].due_at == resumed_at
        assert tasks["post"].deadline_at == resumed_at + timedelta(hours=2)
        assert tasks["greet"].due_at == datetime(2026, 12, 1, 20, 0, tzinfo=SHANGHAI).astimezone(UTC)
        reasons = [
            e.reason for e in session.scalars(select(TaskEvent).where(TaskEvent.task_id == tasks["post"].id))
        ]
        assert any("planned 2026-11-28 10:00" in r for r in reasons)
        assert any(r == "campaign paused" for r in reasons)
        with pytest.raises(InvalidInput, match="only a paused campaign can be resumed"):
            resume_campaign(session=session, campaign_id=cid, by="张经理", now=resumed_at)


def test_cancel_skips_open_tasks_and_keeps_finished_ones(database_url: str) -> None:
    with database(database_url) as db, db.session() as session:
        cid = _campaign(session)
        tasks = _tasks(session, cid)
        mark_done(session=session, task_id=tasks["post"].id, by="小王", now=D0 - timedelta(days=3))
        cancel_campaign(session=session, campaign_id=cid, by="张经理", why="预算取消", now=D0)
        session.flush()
        tasks = _tasks(session, cid)
        assert tasks["post"].state == "done"
        assert tasks["greet"].state == "skipped" and tasks["sell"].state == "skipped"
        last = session.scalars(
            select(TaskEvent).where(TaskEvent.task_id == tasks["greet"].id).order_by(TaskEvent.id.desc())
        ).first()
        assert last is not None and last.reason == "campaign cancelled: 预算取消" and last.actor == "张经理"
        with pytest.raises(InvalidInput, match="already ended"):
            cancel_campaign(session=session, campaign_id=cid, by="张经理", now=D0)
        assert [c.status for c in list_campaigns(session=session)] == ["cancelled"]
        assert list_campaigns(session=session, status="running") == []
        with pytest.raises(InvalidInput, match="--status 'done'"):
            list_campaigns(session=session, status="done")


def test_task_lists_by_person_day_and_state(database_url: str) -> None:
    with database(database_url) as db, db.session() as session:
        cid = _campaign(session)
        greet_day = datetime(2026, 12, 1, 8, 0, tzinfo=SHANGHAI).astimezone(UTC)
        mine = list_tasks(session=session, where=TaskFilter(owner="小王"), now=greet_day)
        assert [t.step for t in mine] == ["post", "greet"]
        assert mine[0].state == "due"  # its time came, no worker has run yet
        assert mine[0].overdue  # due 11-28 10:00 with a 2 h deadline
        assert mine[1].state == "pending" and not mine[1].overdue
        today = list_tasks(session=session, where=TaskFilter(today=True), now=greet_day)
        assert [t.step for t in today] == ["greet"]
        assert today[0].due_local == "2026-12-01 20:00"
        due = list_tasks(session=session, where=TaskFilter(state="due"), now=greet_day)
        assert [t.step for t in due] == ["post"]
        tasks = _tasks(session, cid)
        skip_task(session=session, task_id=tasks["post"].id, why="海报未审核", by="小王", now=greet_day)
        open_now = list_tasks(
            session=session, where=TaskFilter(campaign_id=cid, open_only=True), now=greet_day
        )
        assert [t.step for t in open_now] == ["greet", "sell"]
        with pytest.raises(NotFound, match="'nobody'"):
            list_tasks(session=session, where=TaskFilter(owner="nobody"))
        with pytest.raises(NotFound, match="no campaign with id 999"):
            list_tasks(session=session, where=TaskFilter(campaign_id=999))

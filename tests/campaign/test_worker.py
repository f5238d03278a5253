"""The worker: due → sending → sent with the delivery log and touches; tasks by hand; missed; retries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from tests.campaign.runs import database
from tests.campaign.worker_support import (
    FAST,
    SECRET,
    campaign,
    endpoint,
    events_of,
    quiet_now,
    set_due,
    task,
    utcnow,
    work,
)

from sopflow.campaign.tasks import mark_done
from sopflow.channels.receivers import Receiver, start_receiver
from sopflow.events.store import EventStore
from sopflow.store.delivery import Delivery, RecipientTouch
from sopflow.workspace import Workspace


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with start_receiver(secret=SECRET) as running:
        yield running


def _touches(workspace: Workspace) -> list[dict[str, object]]:
    with EventStore.open(workspace) as store:
        table = store.scan_arrow(["event_id", "event", "user_id", "campaign", "step"])
    return [row for row in table.to_pylist() if row["event"] == "sop_touch"]


def test_a_due_task_is_delivered_once_with_its_log_history_and_touch(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    ws = Workspace(tmp_path / "ws")
    with database(database_url) as db:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        cid = campaign(db, notify={"*": "hook"})
        post = set_due(db, cid, "post", utcnow() - timedelta(seconds=5))
        report = work(db, ws)
        assert report.counts["sent"] == 1 and report.counts["touched"] == 1
        sent = task(db, post)
        assert sent.state == "sent" and sent.attempts == 1 and sent.lease_owner is None
        assert sent.touched_at is not None and sent.sent_at is not None
        (got,) = receiver.received()
        assert got.delivery_id == sent.delivery_id
        text = str(got.body["text"])
        assert (
            "发布裂变海报" in text and "裂变海报 https://example.com/p.png" in text and "海报已审核" in text
        )
        with db.sessions() as session:
            assert events_of(session, post) == [
                (None, "pending"),
                ("pending", "due"),
                ("due", "sending"),
                ("sending", "sent"),
            ]
            (log,) = session.scalars(select(Delivery).where(Delivery.task_id == post))
            assert (log.status, log.attempt, log.delivery_id) == ("sent", 1, sent.delivery_id)
            assert "HTTP 200" in (log.response or "")
        (touch,) = _touches(ws)
        assert touch["user_id"] == "staff:小王" and touch["step"] == "post"
        again = work(db, ws)
        assert again.counts["sent"] == 0 and len(receiver.received()) == 1 and not receiver.duplicates()
        assert len(_touches(ws)) == 1


def test_sending_a_step_times_the_after_steps_that_follow_it(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    with database(database_url) as db:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        cid = campaign(db, notify={"*": "hook"})
        greet = set_due(db, cid, "greet", utcnow() - timedelta(seconds=1))
        work(db, Workspace(tmp_path / "ws"))
        sent_at = task(db, greet).sent_at
        assert sent_at is not None
        with db.sessions() as session:
            from sopflow.store.runs import Task

            sell = session.scalars(select(Task).where(Task.campaign_id == cid, Task.step_id == "sell")).one()
            # greet + 1d, then out of the 22:00-08:00 quiet hours if it lands inside them.
            assert sell.state == "pending" and sell.due_at is not None
            assert sent_at + timedelta(days=1) <= sell.due_at <= sent_at + timedelta(days=1, hours=10)


def test_a_task_without_endpoint_becomes_due_for_its_owner_and_is_touched_when_done(
    database_url: str, tmp_path: Path
) -> None:
    ws = Workspace(tmp_path / "ws")
    with database(database_url) as db:
        cid = campaign(db)
        post = set_due(db, cid, "post", utcnow() - timedelta(hours=3))  # late: still the owner's to do
        report = work(db, ws)
        assert task(db, post).state == "due" and report.counts["sent"] == 0 and not report.notices
        with db.session() as session:
            mark_done(session=session, task_id=post, by="小王", note="发了")
        report = work(db, ws)
        assert report.counts["touched"] == 1 and task(db, post).touched_at is not None
        (touch,) = _touches(ws)
        assert touch["step"] == "post"


def test_a_task_due_longer_ago_than_max_late_is_missed_and_reported(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    with database(database_url) as db:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        cid = campaign(db, notify={"*": "hook"})
        post = set_due(db, cid, "post", utcnow() - timedelta(hours=2))
        greet = set_due(db, cid, "greet", utcnow() - timedelta(minutes=50))
        report = work(db, Workspace(tmp_path / "ws"))
        assert task(db, post).state == "missed" and task(db, greet).state == "sent"
        (notice,) = report.notices
        assert (notice.task_id, notice.state) == (post, "missed")
        assert "2h" in notice.reason and "max_late of 1h" in notice.reason
        assert [d.body["metadata"]["step"] for d in receiver.received()] == ["greet"]


def test_a_retryable_refusal_backs_off_and_a_final_one_fails_with_the_receivers_text(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    ws = Workspace(tmp_path / "ws")
    with database(database_url) as db:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        cid = campaign(db, notify={"*": "hook"})
        post = set_due(db, cid, "post", utcnow() - timedelta(seconds=1))
        receiver.behave(fail_next=1, fail_status=503)
        before = utcnow()
        report = work(db, ws)
        waiting = task(db, post)
        assert report.counts["retried"] == 1 and waiting.state == "due" and waiting.attempts == 1
        assert waiting.next_attempt_at is not None and "503" in (waiting.last_error or "")
        # base 1 s, ±50 % jitter
        assert before + timedelta(seconds=0.5) <= waiting.next_attempt_at <= utcnow() + timedelta(seconds=1.5)
        assert work(db, ws).counts["sent"] == 0  # not before its time
        import time

        time.sleep(max(0.0, (waiting.next_attempt_at - utcnow()).total_seconds()) + 0.05)
        assert work(db, ws).counts["sent"] == 1
        assert task(db, post).attempts == 2 and len(receiver.received()) == 1
        with db.sessions() as session:
            statuses = list(
                session.scalars(select(Delivery.status).where(Delivery.task_id == post).order_by(Delivery.id))
            )
        assert statuses == ["retry", "sent"]

        other = set_due(db, campaign(db, notify={"*": "hook"}, name="二期"), "post", utcnow())
        receiver.behave(fail_next=1, fail_status=400)
        report = work(db, ws)
        failed = task(db, other)
        assert failed.state == "failed" and "HTTP 400" in (failed.last_error or "")
        assert [n.state for n in report.notices] == ["failed"] and "told to fail" in report.notices[0].reason


def test_a_retry_that_would_land_in_quiet_hours_waits_for_their_end(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    with database(database_url) as db:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        cid = campaign(db, notify={"*": "hook"}, text=quiet_now(hours_left=2))
        post = set_due(db, cid, "post", utcnow() - timedelta(seconds=1))
        receiver.behave(fail_next=1, fail_status=503)
        work(db, Workspace(tmp_path / "ws"))
        waiting = task(db, post)
        assert waiting.state == "due" and waiting.next_attempt_at is not None
        local = waiting.next_attempt_at.astimezone(ZoneInfo("Asia/Shanghai"))
        assert local.minute == 0 and timedelta(hours=1) < waiting.next_attempt_at - utcnow() <= timedelta(
            hours=2
        )


def test_retries_stop_after_max_attempts(database_url: str, tmp_path: Path, receiver: Receiver) -> None:
    from dataclasses import replace

    with database(database_url) as db:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        cid = campaign(db, notify={"*": "hook"})
        post = set_due(db, cid, "post", utcnow() - timedelta(seconds=1), attempts=2)
        receiver.behave(fail_next=1, fail_status=502)
        work(db, Workspace(tmp_path / "ws"), replace(FAST, max_attempts=3))
        gave_up = task(db, post)
        assert gave_up.state == "failed" and gave_up.attempts == 3


def test_recorded_touches_are_not_written_twice_after_a_crash(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    """A worker that wrote the events and died before marking the task touched: the next adds nothing."""
    from sopflow.campaign.touches import touch_rows, write_touches
    from sopflow.campaign.worker.context import Context
    from sopflow.store.runs import Campaign, Staff, Task

    ws = Workspace(tmp_path / "ws")
    with database(database_url) as db:
        cid = campaign(db)
        post = set_due(
            db, cid, "post", utcnow() - timedelta(seconds=1), audience=["u1", "u2"], audience_size=2
        )
        with db.session() as session:
            mark_done(session=session, task_id=post, by="小王")
        with db.sessions() as session:
            row = session.get(Task, post)
            camp = session.get(Campaign, cid)
            assert row is not None and camp is not None
            ctx = Context(database=db, workspace=ws, options=FAST)
            rows = touch_rows(
                task=row,
                campaign=camp,
                playbook=ctx.policies(session, camp).playbook,
                owner=session.scalars(select(Staff.name)).first() or "",
                endpoint_kind=None,
                at=utcnow(),
            )
        with EventStore.open(ws) as store:
            assert write_touches(store, rows) == 2
        report = work(db, ws)
        assert report.counts["touched"] == 1
        assert sorted(str(t["user_id"]) for t in _touches(ws)) == ["u1", "u2"]
        with db.sessions() as session:
            persons = sorted(
                session.scalars(select(RecipientTouch.person).where(RecipientTouch.task_id == post))
            )
        assert persons == ["u1", "u2"]
        assert work(db, ws).counts["touched"] == 0

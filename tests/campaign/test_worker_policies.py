"""The worker's policies: rate-limit queueing across workers, pause/cancel, the frequency cap, overdue
escalation, and the recovery of tasks whose worker died mid-send."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from tests.campaign.runs import database
from tests.campaign.worker_support import (
    FAST,
    SECRET,
    campaign,
    endpoint,
    set_due,
    set_status,
    task,
    utcnow,
    work,
)
from tests.channels.robots import RobotServer

from sopflow.campaign.tasks import confirm_task
from sopflow.campaign.worker import WorkerReport, run_worker
from sopflow.channels.base import EndpointConfig, Message
from sopflow.channels.receivers import Receiver, start_receiver
from sopflow.channels.registry import make_adapter
from sopflow.events.normalize import normalize_event
from sopflow.events.store import EventStore
from sopflow.store.database import Database
from sopflow.store.delivery import Delivery, Endpoint, RecipientTouch
from sopflow.store.runs import Campaign, Task
from sopflow.workspace import Workspace


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with start_receiver(secret=SECRET) as running:
        yield running


@pytest.fixture
def robots() -> Iterator[RobotServer]:
    server = RobotServer()
    yield server
    server.stop()


def test_two_workers_queue_inside_a_robots_limit_instead_of_being_refused(
    database_url: str, tmp_path: Path, robots: RobotServer
) -> None:
    with database(database_url) as db:
        endpoint(db, "group", "wecom_robot", robots.wecom_url("k1"))
        ids = [
            set_due(db, campaign(db, notify={"*": "group"}, name=f"c{i}"), "post", utcnow())
            for i in range(25)
        ]
        reports: list[WorkerReport] = []

        def one(n: int) -> None:
            reports.append(run_worker(database=db, workspace=Workspace(tmp_path / f"ws{n}"), options=FAST))

        threads = [threading.Thread(target=one, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(robots.bodies("wecom")) == 20  # the robot's 20 a minute, none refused
        assert sum(r.counts["sent"] for r in reports) == 20
        assert sum(r.counts["retried"] + r.counts["failed"] for r in reports) == 0
        tasks = [task(db, i) for i in ids]
        waiting = [t for t in tasks if t.state == "due"]
        assert len(waiting) == 5 and all(t.attempts == 0 for t in waiting)
        with db.sessions() as session:
            first = session.scalar(select(Delivery.started_at).order_by(Delivery.started_at))
        assert first is not None
        for t in waiting:  # queued for the minute after the first send
            assert t.next_attempt_at is not None
            assert first + timedelta(seconds=59) <= t.next_attempt_at <= first + timedelta(seconds=61)


def test_a_paused_campaign_waits_and_a_cancelled_one_ends_its_open_tasks(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    ws = Workspace(tmp_path / "ws")
    with database(database_url) as db:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        paused = campaign(db, notify={"*": "hook"}, name="paused")
        post = set_due(db, paused, "post", utcnow() - timedelta(seconds=2))
        set_status(db, paused, "paused")
        assert work(db, ws).counts["sent"] == 0 and task(db, post).state == "pending"
        set_status(db, paused, "running")
        assert work(db, ws).counts["sent"] == 1 and task(db, post).state == "sent"

        cancelled = campaign(db, notify={"*": "hook"}, name="cancelled")
        due = set_due(db, cancelled, "post", utcnow() - timedelta(seconds=2), state="due")
        set_status(db, cancelled, "cancelled")
        report = work(db, ws)
        assert report.counts["sent"] == 0 and len(receiver.received()) == 1
        with db.sessions() as session:
            states = set(session.scalars(select(Task.state).where(Task.campaign_id == cancelled)))
        assert states == {"skipped"}
        assert task(db, due).note == "the campaign was cancelled"
        assert {n.state for n in report.notices} == {"skipped"} and len(report.notices) == 3


def _members(ws: Workspace, tag: str, persons: list[str]) -> None:
    at = utcnow() - timedelta(hours=2)
    rows = [
        normalize_event(
            {"event_id": f"e-{p}", "event": "signup", "user_id": p, "ts": at.isoformat(), "campaign": tag},
            tz=at.tzinfo,
        )  # type: ignore[arg-type]
        for p in persons
    ]
    with EventStore.open(ws) as store:
        store.append_rows(rows)


def _touched(db: Database, campaign_id: int, person: str, *, times: int, hours_ago: float) -> None:
    with db.session() as session:
        task_id = session.scalars(select(Task.id).where(Task.campaign_id == campaign_id)).first()
        assert task_id is not None
        at = utcnow() - timedelta(hours=hours_ago)
        session.add_all(
            RecipientTouch(person=person, campaign_id=campaign_id, task_id=task_id, at=at)
            for _ in range(times)
        )


def test_the_frequency_cap_leaves_out_capped_persons_then_postpones_or_skips(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    ws = Workspace(tmp_path / "ws")
    _members(ws, "camp-fission", ["u1", "u2", "u3"])  # the playbook id tags them for every campaign of it
    with database(database_url) as db:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        first = campaign(db, notify={"*": "hook"}, name="first")
        _touched(db, first, "u1", times=3, hours_ago=2)  # the cap: 3 a day
        post = set_due(db, first, "post", utcnow())
        report = work(db, ws)
        sent = task(db, post)
        assert sent.state == "sent" and sent.audience == ["u2", "u3"] and sent.audience_size == 2
        assert sent.capped == 1 and report.counts["capped"] == 1
        assert "Audience: 2 person(s)" in str(receiver.received()[0].body["text"])

        # Everyone capped, the first free again in an hour, before the deadline: postponed to then.
        second = campaign(db, notify={"*": "hook"}, name="second")
        for person in ("u2", "u3"):
            _touched(db, second, person, times=2, hours_ago=23)
        waits = set_due(db, second, "post", utcnow())
        work(db, ws)
        postponed = task(db, waits)
        assert postponed.state == "due" and postponed.capped == 3 and postponed.next_attempt_at is not None
        expected = utcnow() + timedelta(hours=1)
        assert abs((postponed.next_attempt_at - expected).total_seconds()) < 30

        # The same, with a deadline before anyone is free: skipped with the reason.
        third = campaign(db, notify={"*": "hook"}, name="third")
        late = set_due(db, third, "post", utcnow())
        with db.session() as session:
            session.execute(
                update(Task).where(Task.id == late).values(deadline_at=utcnow() + timedelta(minutes=30))
            )
        report = work(db, ws)
        skipped = task(db, late)
        assert skipped.state == "skipped" and "frequency cap" in (skipped.note or "")
        assert [n.task_id for n in report.notices if n.state == "skipped"] == [late]
        assert len(receiver.received()) == 1


def test_a_filtered_step_with_nobody_in_its_audience_is_skipped(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    ws = Workspace(tmp_path / "ws")
    _members(
        ws, "camp-fission", ["u1"]
    )  # u1 never joined the group: greet's audience (reached: join) is empty
    with database(database_url) as db:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        greet = set_due(db, campaign(db, notify={"*": "hook"}), "greet", utcnow())
        work(db, ws)
        skipped = task(db, greet)
        assert skipped.state == "skipped" and skipped.audience_size == 0 and "nobody" in (skipped.note or "")
        assert not receiver.received()


def test_an_overdue_task_escalates_to_the_managers_endpoint_once_then_daily(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    ws = Workspace(tmp_path / "ws")
    with database(database_url) as db:
        endpoint(db, "boss", "webhook", receiver.url, SECRET)
        cid = campaign(db, notify={"lead": "boss"}, manager=True)  # ops (小王) has no endpoint: by hand
        post = set_due(db, cid, "post", utcnow() - timedelta(hours=3))
        with db.session() as session:
            session.execute(
                update(Task).where(Task.id == post).values(deadline_at=utcnow() - timedelta(minutes=1))
            )
        report = work(db, ws)
        overdue = task(db, post)
        assert overdue.state == "due" and overdue.overdue_at is not None and overdue.escalations == 1
        assert report.counts["overdue"] == 1 and report.counts["escalated"] == 1
        (got,) = receiver.received()
        assert got.delivery_id == f"{overdue.delivery_id}-esc1"
        assert "张经理" in str(got.body["text"]) and "小王" in str(got.body["text"])
        assert work(db, ws).counts["escalated"] == 0 and len(receiver.received()) == 1  # not twice a day
        with db.session() as session:
            session.execute(
                update(Task).where(Task.id == post).values(escalated_at=utcnow() - timedelta(hours=25))
            )
        work(db, ws)
        assert task(db, post).escalations == 2
        assert [d.delivery_id for d in receiver.received()][-1] == f"{overdue.delivery_id}-esc2"
        with db.sessions() as session:
            purposes = list(session.scalars(select(Delivery.purpose).where(Delivery.task_id == post)))
        assert purposes == ["escalation", "escalation"]


def _died_mid_send(db: Database, task_id: int, endpoint_name: str) -> None:
    """What a worker killed between writing ``sending`` and recording the answer leaves behind."""
    with db.session() as session:
        endpoint_id = session.scalars(select(Endpoint.id).where(Endpoint.name == endpoint_name)).one()
        row = session.get(Task, task_id)
        assert row is not None
        past = utcnow() - timedelta(minutes=5)
        row.state, row.attempts, row.lease_owner, row.lease_expires_at = "sending", 1, "dead", past
        session.add(
            Delivery(
                task_id=task_id,
                endpoint_id=endpoint_id,
                purpose="reminder",
                delivery_id=row.delivery_id,
                attempt=1,
                worker="dead",
                status="sending",
                started_at=past,
            )
        )


def test_a_webhook_task_left_sending_is_resent_with_the_same_id_and_deduplicated(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    with database(database_url) as db:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        post = set_due(
            db, campaign(db, notify={"*": "hook"}), "post", utcnow() - timedelta(minutes=6), state="due"
        )
        _died_mid_send(db, post, "hook")
        config = EndpointConfig(name="hook", kind="webhook", url=receiver.url, secret=SECRET)
        make_adapter(config).send(Message(title="t", text="t", delivery_id=task(db, post).delivery_id))
        report = work(db, Workspace(tmp_path / "ws"))
        assert (
            report.counts["resent"] == 1 and task(db, post).state == "sent" and task(db, post).attempts == 2
        )
        assert len(receiver.received()) == 1 and len(receiver.duplicates()) == 1
        with db.sessions() as session:
            statuses = list(
                session.scalars(select(Delivery.status).where(Delivery.task_id == post).order_by(Delivery.id))
            )
        assert statuses == ["uncertain", "sent"]


def test_a_robot_task_left_sending_becomes_uncertain_until_a_person_confirms(
    database_url: str, tmp_path: Path, robots: RobotServer
) -> None:
    with database(database_url) as db:
        endpoint(db, "group", "wecom_robot", robots.wecom_url("k2"))
        cid = campaign(db, notify={"*": "group"})
        post = set_due(db, cid, "post", utcnow() - timedelta(minutes=6), state="due")
        _died_mid_send(db, post, "group")
        report = work(db, Workspace(tmp_path / "ws"), replace(FAST, max_passes=2))
        assert task(db, post).state == "uncertain" and not robots.bodies("wecom")
        (notice,) = report.notices
        assert notice.state == "uncertain" and "group (wecom_robot)" in notice.reason
        with db.session() as session:
            confirm_task(session=session, task_id=post, arrived=True, by="小王")
        assert task(db, post).state == "sent"
        with db.sessions() as session:
            running = session.get(Campaign, cid)
            assert running is not None and running.status == "running"


def test_a_slow_receiver_keeps_the_lease_alive_so_no_other_worker_takes_the_task_over(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    import time

    options = replace(FAST, lease_seconds=1, request_timeout=5, max_passes=4)
    with database(database_url) as db:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        post = set_due(db, campaign(db, notify={"*": "hook"}), "post", utcnow() - timedelta(seconds=1))
        receiver.behave(delay=3.0)  # three leases long
        first: list[WorkerReport] = []
        slow = threading.Thread(
            target=lambda: first.append(
                run_worker(database=db, workspace=Workspace(tmp_path / "a"), options=options)
            )
        )
        slow.start()
        time.sleep(2.0)  # the first lease would have expired twice by now
        other = run_worker(database=db, workspace=Workspace(tmp_path / "b"), options=options)
        slow.join(timeout=30)
        assert other.counts["resent"] == 0 and other.counts["uncertain"] == 0
        assert first[0].counts["sent"] == 1 and task(db, post).state == "sent"
        assert len(receiver.received()) == 1 and not receiver.duplicates()
        with db.sessions() as session:
            rows = list(session.scalars(select(Delivery.status).where(Delivery.task_id == post)))
        assert rows == ["sent"]

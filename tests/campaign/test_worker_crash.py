"""The crash test: 1,000 tasks delivered to a local webhook receiver by worker processes that are killed
with ``kill -9`` at random points and restarted until every task is done.

Checked at the end: every task delivered exactly once (or ``uncertain``), none lost or left behind; the
receiver saw every delivery id, and an id twice only where a worker died mid-send and the task was resent
with the same id (which the receiver deduplicates); one ``sop_touch`` per task.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from tests.campaign.runs import database
from tests.campaign.worker_support import FAST, SECRET, campaign, endpoint, utcnow, work

from sopflow.channels.receivers import start_receiver
from sopflow.events.store import EventStore
from sopflow.store.database import Database
from sopflow.store.delivery import Delivery
from sopflow.store.runs import Task
from sopflow.workspace import Workspace

TASKS = 1000
LEASE = 2  # seconds: how long a killed worker's tasks wait before another recovers them
BUDGET = 45  # seconds of killing and restarting before the test gives up


def _many_tasks(db: Database, campaign_id: int, count: int) -> None:
    """``count`` copies of the campaign's first task, due over the next few seconds."""
    now = utcnow()
    with db.session() as session:
        template = session.scalars(
            select(Task).where(Task.campaign_id == campaign_id, Task.step_id == "post")
        ).one()
        columns = {c.key: getattr(template, c.key) for c in Task.__table__.columns if c.key != "id"}
        rows = []
        for i in range(count):
            due = now + timedelta(seconds=4 * i / count)
            rows.append(
                {
                    **columns,
                    "step_id": f"s{i:04d}",
                    "position": 100 + i,
                    "state": "pending",
                    "due_at": due,
                    "deadline_at": due + timedelta(days=1),
                    "delivery_id": f"crash-{campaign_id}-{i:04d}",
                }
            )
        session.execute(insert(Task), rows)


def _start(url: str, ws: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SOPFLOW_DATABASE_URL": url, "SOPFLOW_LANG": "en"}
    argv = [
        sys.executable,
        "-m",
        "sopflow.campaign.worker_command",
        "--workspace",
        str(ws),
        "--lease",
        str(LEASE),
    ]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"))


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    kill_at: float | None = None


def _senders(db: Database) -> set[int]:
    """Process ids of the workers that have written delivery rows (their name is ``host:pid:suffix``)."""
    with db.sessions() as session:
        names = session.scalars(select(Delivery.worker).distinct())
        return {int(name.split(":")[1]) for name in names if name.count(":") == 2}


def _open(db: Database) -> int:
    with db.sessions() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Task)
                .where(Task.delivery_id.like("crash-%"), Task.state.in_(("pending", "due", "sending")))
            )
            or 0
        )


@pytest.mark.slow
def test_killed_workers_never_lose_or_double_a_delivery(database_url: str, tmp_path: Path) -> None:
    workers = 3 if database_url.startswith("postgresql") else 2
    ws = tmp_path / "ws"
    log = tmp_path / "workers.log"
    rng = random.Random(7)
    with database(database_url) as db, start_receiver(secret=SECRET) as receiver:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        cid = campaign(db, notify={"*": "hook"})
        _many_tasks(db, cid, TASKS)
        running = [Worker(_start(database_url, ws, log)) for _ in range(workers)]
        kills = 0
        started = time.monotonic()
        try:
            while _open(db) > 0 and time.monotonic() - started < BUDGET:
                time.sleep(0.1)
                busy = _senders(db)
                for i, worker in enumerate(running):
                    if worker.kill_at is None and worker.proc.pid in busy:
                        # Killed at a random moment after it began sending: mid-request, mid-record, mid-touch…
                        worker.kill_at = time.monotonic() + rng.uniform(0, 1.5)
                    if worker.kill_at is not None and time.monotonic() >= worker.kill_at:
                        worker.proc.send_signal(signal.SIGKILL)
                        worker.proc.wait()
                        kills += 1
                        running[i] = Worker(_start(database_url, ws, log))
        finally:
            for worker in running:
                worker.proc.send_signal(signal.SIGKILL)
                worker.proc.wait()
        print(f"killing phase: {time.monotonic() - started:.1f} s")
        # One last worker, never killed, finishes what the last kills left (after their leases expire).
        # Under load a request may have timed out and wait for its retry (backoff): keep working until none is
        # open, as a worker left running would.
        time.sleep(LEASE + 0.2)
        finish_by = time.monotonic() + 60
        while True:
            work(db, Workspace(ws), replace(FAST, lease_seconds=LEASE))
            if _open(db) == 0 or time.monotonic() > finish_by:
                break
            time.sleep(0.5)
        assert kills >= 3, f"the workers finished before being killed enough ({kills} kills)"

        with db.sessions() as session:
            tasks = list(session.scalars(select(Task).where(Task.delivery_id.like("crash-%"))))
            resent = set(
                session.scalars(select(Delivery.delivery_id).where(Delivery.status == "uncertain"))
            )  # attempts whose worker died before recording the answer
        states = Counter(t.state for t in tasks)
        assert len(tasks) == TASKS
        assert set(states) <= {"sent", "uncertain"}, f"{states}; worker log: {log.read_text()[-2000:]}"
        received = Counter(d.delivery_id for d in receiver.received())
        ids = {t.delivery_id for t in tasks}
        sent = {t.delivery_id for t in tasks if t.state == "sent"}
        assert set(received) <= ids and sent <= set(received)  # every sent task arrived; nothing foreign
        assert all(n == 1 for n in received.values())  # the receiver recorded each id once
        duplicates = Counter(d.delivery_id for d in receiver.duplicates())
        assert set(duplicates) <= resent, "a delivery id arrived twice without a recovered attempt"
        assert all(t.touched_at is not None for t in tasks if t.state == "sent")
        with EventStore.open(Workspace(ws)) as store:
            events = store.scan_arrow(["event", "event_id"]).to_pylist()
        touches = Counter(e["event_id"] for e in events if e["event"] == "sop_touch")
        assert len(touches) == states["sent"] and all(n == 1 for n in touches.values())
        print(
            f"{kills} kills; states {dict(states)}; {len(duplicates)} idempotent resends deduplicated; "
            f"{len(resent)} attempts recovered"
        )

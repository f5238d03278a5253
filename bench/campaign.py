"""A campaign of 10,000 tasks all due in the same minute, delivered by ``sopflow worker`` processes to a local
generic-webhook receiver: how late each delivery arrives behind its due time, and tasks per second.

Setup: one campaign of the ``community_fission`` template with a webhook endpoint; the workers are started
(and given 10 s to import, connect and warm up, as a worker runs before its campaign's day begins); then
its first step is copied into ``SOPFLOW_BENCH_CAMPAIGN_TASKS`` tasks (default 10,000) due evenly over one
minute (every 6 ms) from 3 s later. A second run makes them all due at the same instant (capacity). Runs: 1 worker on SQLite (in ``.bench-data/campaign``),
4 workers on PostgreSQL (a private cluster, as the tests start one), each worker with its default 4
concurrent requests. Lateness = the receiver's arrival time − the task's due time; the receiver counts
duplicate delivery ids (goal: none) and the run checks every task ended ``sent``.

Run: ``.venv/bin/python -m bench.run campaign``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from sopflow.campaign.start import start_campaign
from sopflow.channels.endpoints import add_endpoint
from sopflow.channels.receivers import Receiver, start_receiver
from sopflow.playbook.loader import parse_playbook
from sopflow.store.database import open_database
from sopflow.store.runs import PlaybookVersion, Staff, Task

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".bench-data" / "campaign"
TEMPLATE = ROOT / "src" / "sopflow" / "playbook" / "templates" / "community_fission.yaml"
SECRET = "whsec-bench"
STARTUP_SECONDS = 10.0  # workers are started this long before the tasks are written
LEAD_SECONDS = 3.0  # the first task is due this long after the tasks are written
SPREAD_SECONDS = 60.0


def tasks_count() -> int:
    return int(os.environ.get("SOPFLOW_BENCH_CAMPAIGN_TASKS", "10000"))


@dataclass(frozen=True)
class Result:
    label: str
    workers: int
    tasks: int
    sent: int
    p50: float
    p99: float
    worst: float
    rate: float
    duplicates: int


def setup(url: str, receiver: Receiver) -> dict[str, Any]:
    """The campaign, its endpoint and staff; returns the columns of its first task, to copy."""
    text = TEMPLATE.read_text(encoding="utf-8")
    playbook, problems = parse_playbook(text, filename=str(TEMPLATE))
    assert playbook is not None, problems
    now = datetime.now(UTC)
    db = open_database(url)
    try:
        with db.session() as session:
            version = PlaybookVersion(
                playbook_id=playbook.meta.id,
                version=1,
                name=playbook.meta.name,
                declared_version=playbook.meta.version,
                content=text,
                content_hash=hashlib.sha256(text.encode()).hexdigest(),
                published_at=now,
                approved_at=now,
                approved_by="bench",
            )
            session.add(version)
            for role in playbook.team.roles:
                session.add(Staff(name=f"bench-{role.id}", role=role.id, active=True, created_at=now))
            session.flush()
            add_endpoint(session=session, name="hook", kind="webhook", url=receiver.url, secret=SECRET)
            campaign = start_campaign(
                session=session,
                version=version,
                starts_at=now + timedelta(days=30),
                notify={"*": "hook"},
                now=now,
            )
            session.flush()
            template = session.scalars(
                select(Task).where(Task.campaign_id == campaign.id).order_by(Task.position)
            ).first()
            assert template is not None
            return {c.key: getattr(template, c.key) for c in Task.__table__.columns if c.key != "id"}
    finally:
        db.close()


def add_tasks(
    url: str, columns: dict[str, Any], count: int, spread: float
) -> tuple[datetime, dict[str, datetime]]:
    """``count`` copies of the first task due over ``spread`` seconds from a moment just ahead."""
    db = open_database(url)
    try:
        first = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)
        due: dict[str, datetime] = {}
        rows = []
        for i in range(count):
            at = first + timedelta(seconds=spread * i / count)
            delivery_id = f"bench-{i:06d}"
            due[delivery_id] = at
            rows.append(
                {
                    **columns,
                    "step_id": delivery_id,
                    "position": 1000 + i,
                    "state": "pending",
                    "due_at": at,
                    "deadline_at": at + timedelta(days=1),
                    "delivery_id": delivery_id,
                }
            )
        with db.session() as session:
            session.execute(insert(Task), rows)
        return first, due
    finally:
        db.close()


@contextmanager
def workers_running(url: str, workspace: Path, workers: int) -> Iterator[None]:
    env = {**os.environ, "SOPFLOW_DATABASE_URL": url, "SOPFLOW_LANG": "en"}
    argv = [sys.executable, "-m", "sopflow.campaign.worker_command", "--workspace", str(workspace)]
    procs = [subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL) for _ in range(workers)]
    try:
        time.sleep(
            STARTUP_SECONDS
        )  # imports, connections, warm-up: a worker is started before its day begins
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(receiver: Receiver, count: int, first: datetime, spread: float) -> None:
    limit = first + timedelta(seconds=spread + 180)
    while len(receiver.received()) < count and datetime.now(UTC) < limit:
        time.sleep(0.5)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(label: str, url: str, workspace: Path, workers: int, spread: float = SPREAD_SECONDS) -> Result:
    count = tasks_count()
    with start_receiver(secret=SECRET) as receiver:
        columns = setup(url, receiver)
        with workers_running(url, workspace, workers):
            first, due = add_tasks(url, columns, count, spread)
            wait_for(receiver, count, first, spread)
        got = receiver.received()
        duplicates = len(receiver.duplicates())
    db = open_database(url)
    try:
        with db.sessions() as session:
            sent = session.scalar(
                select(func.count())
                .select_from(Task)
                .where(Task.delivery_id.like("bench-%"), Task.state == "sent")
            )
    finally:
        db.close()
    late = [(d.received_at - due[d.delivery_id]).total_seconds() for d in got if d.delivery_id in due]
    arrivals = sorted(d.received_at for d in got)
    span = (arrivals[-1] - arrivals[0]).total_seconds() if len(arrivals) > 1 else 0.0
    return Result(
        label,
        workers,
        count,
        int(sent or 0),
        percentile(late, 0.5),
        percentile(late, 0.99),
        max(late),
        len(got) / span if span else 0.0,
        duplicates,
    )


@contextmanager
def postgres() -> Iterator[str]:
    sys.path.insert(0, str(ROOT))
    from tests.postgres import fresh_database, private_cluster

    with private_cluster() as server, fresh_database(server) as url:
        yield url


def row(r: Result) -> str:
    return (
        f"| {r.label} | {r.workers} | {r.sent:,}/{r.tasks:,} | {r.p50:.3f} | **{r.p99:.3f}** | {r.worst:.3f} | "
        f"{r.rate:,.0f} | {r.duplicates} |"
    )


def main() -> str:
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    load_before = os.getloadavg()
    results = [measure("SQLite", f"sqlite:///{DATA / 'app.db'}", DATA / "ws-sqlite", 1)]
    with postgres() as url:
        results.append(measure("PostgreSQL", url, DATA / "ws-postgres", 4))
    load_after = os.getloadavg()
    burst = [measure("SQLite, burst", f"sqlite:///{DATA / 'burst.db'}", DATA / "ws-sqlite-burst", 1, 0.0)]
    with postgres() as url:
        burst.append(measure("PostgreSQL, burst", url, DATA / "ws-postgres-burst", 4, 0.0))
    load_burst = os.getloadavg()
    return "\n".join(
        [
            "## Campaign worker: 10,000 tasks due in one minute",
            "",
            f"{tasks_count():,} tasks due evenly over one minute (one every {SPREAD_SECONDS * 1000 / tasks_count():.0f} ms), "
            "delivered by `sopflow worker` processes (4 concurrent requests each) to a local generic-webhook "
            "receiver that verifies signatures and deduplicates by delivery id. Lateness = arrival at the "
            "receiver − due time, in seconds; tasks/s over the span of arrivals (bounded by the due rate, "
            f"{tasks_count() / SPREAD_SECONDS:.0f}/s). Goal: p99 under 2 s, no duplicates.",
            "",
            "| database | workers | sent | p50 late (s) | p99 late (s) | worst (s) | tasks/s | duplicates |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *[row(r) for r in results],
            "",
            f"Load average (1/5/15 min) before: {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}; "
            f"after: {load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f} (the machine is shared).",
            "",
            "Capacity: the same tasks all due at the same instant (a burst). Lateness is then the time to drain "
            "the queue, and tasks/s what the workers sustain:",
            "",
            "| database | workers | sent | p50 late (s) | p99 late (s) | worst (s) | tasks/s | duplicates |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *[row(r) for r in burst],
            "",
            f"Load average after the bursts: {load_burst[0]:.2f} / {load_burst[1]:.2f} / {load_burst[2]:.2f}.",
            "",
            "Reproduce: `.venv/bin/python -m bench.run campaign` "
            "(`SOPFLOW_BENCH_CAMPAIGN_TASKS=2000` for a quick run).",
        ]
    )


if __name__ == "__main__":
    print(main())

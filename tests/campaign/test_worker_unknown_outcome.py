"""A request that left but got no answer may have arrived: a receiver that cannot deduplicate does not get it
again blindly (the task is ``uncertain`` for a person to confirm), one that can gets it again with the same
delivery id."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.campaign.runs import database
from tests.campaign.worker_support import FAST, SECRET, campaign, endpoint, set_due, task, utcnow

from sopflow.campaign.tasks import confirm_task
from sopflow.campaign.worker import run_worker
from sopflow.channels.receivers import start_receiver
from sopflow.store.delivery import Delivery
from sopflow.store.runs import Task
from sopflow.workspace import Workspace

QUICK = replace(FAST, request_timeout=0.5)


class _SlowRobot(ThreadingHTTPServer):
    """A WeCom group robot that takes the message and answers only after the sender gave up."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[bytes] = []
        self.delay = 2.0


class _Handler(BaseHTTPRequestHandler):
    server: _SlowRobot

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.bodies.append(body)
        time.sleep(self.server.delay)
        reply = b'{"errcode": 0, "errmsg": "ok"}'
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
        except OSError:
            pass  # the sender hung up


@pytest.fixture
def slow_robot() -> Iterator[_SlowRobot]:
    server = _SlowRobot()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_no_answer_from_a_robot_makes_the_task_uncertain_not_sent_twice(
    database_url: str, tmp_path: Path, slow_robot: _SlowRobot
) -> None:
    url = f"http://127.0.0.1:{slow_robot.server_address[1]}/cgi-bin/webhook/send?key=k1"
    ws = Workspace(tmp_path / "ws")
    with database(database_url) as db:
        endpoint(db, "group", "wecom_robot", url)
        cid = campaign(db, notify={"*": "group"})
        post = set_due(db, cid, "post", utcnow() - timedelta(seconds=5))
        report = run_worker(database=db, workspace=ws, options=QUICK)
        assert report.counts["uncertain"] == 1 and report.counts["sent"] == 0
        again = run_worker(database=db, workspace=ws, options=QUICK)
        assert again.counts["sent"] == 0
        assert len(slow_robot.bodies) == 1  # never sent again on its own
        row = task(db, post)
        assert row.state == "uncertain" and "confirm" in (row.last_error or "")
        with db.sessions() as session:
            (log,) = session.scalars(select(Delivery).where(Delivery.task_id == post))
            assert log.status == "uncertain"
        # the person checks the group: it did not arrive, so it goes again
        slow_robot.delay = 0.0
        with db.session() as session:
            confirm_task(session=session, task_id=post, arrived=False, by="小王")
        run_worker(database=db, workspace=ws, options=QUICK)
        assert task(db, post).state == "sent" and len(slow_robot.bodies) == 2


def test_no_answer_from_the_webhook_is_resent_with_the_same_delivery_id(
    database_url: str, tmp_path: Path
) -> None:
    ws = Workspace(tmp_path / "ws")
    with database(database_url) as db, start_receiver(secret=SECRET) as receiver:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        cid = campaign(db, notify={"*": "hook"})
        post = set_due(db, cid, "post", utcnow() - timedelta(seconds=5))
        receiver.behave(delay=1.5)
        first = run_worker(database=db, workspace=ws, options=QUICK)
        assert first.counts["uncertain"] == 0 and task(db, post).state == "due"  # to retry
        receiver.behave(delay=0.0)
        with db.session() as session:  # no need to wait out the back-off in a test
            row = session.get(Task, post)
            assert row is not None
            row.next_attempt_at = utcnow()
        run_worker(database=db, workspace=ws, options=QUICK)
        sent = task(db, post)
        assert sent.state == "sent"
        assert {d.delivery_id for d in receiver.received()} == {sent.delivery_id}

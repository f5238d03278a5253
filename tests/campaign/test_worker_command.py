"""``sopflow worker``: the command around the library (options, --json shape, notices, summary)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from tests.campaign.runs import database
from tests.campaign.worker_support import SECRET, campaign, endpoint, set_due, task, utcnow
from typer.testing import CliRunner

from sopflow.campaign.worker.report import COUNTS
from sopflow.campaign.worker_command import worker_command, worker_help
from sopflow.channels.receivers import Receiver, start_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with start_receiver(secret=SECRET) as running:
        yield running


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("worker", help=worker_help())(worker_command)
    return app


def test_worker_once_delivers_and_prints_the_stable_json_shape(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    with database(database_url) as db:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        cid = campaign(db, notify={"*": "hook"})
        post = set_due(db, cid, "post", utcnow() - timedelta(seconds=2))
        missed = set_due(db, cid, "greet", utcnow() - timedelta(hours=3))
        env = {"SOPFLOW_DATABASE_URL": database_url, "SOPFLOW_LANG": "en"}
        args = ["--once", "--concurrency", "2", "--workspace", str(tmp_path / "ws"), "--json"]
        result = CliRunner().invoke(_app(), args, env=env)
        assert result.exit_code == 0, result.output
        shape = json.loads(result.stdout)
        assert set(shape) == {"worker", "counts", "notices"} and set(shape["counts"]) == set(COUNTS)
        assert shape["counts"]["sent"] == 1 and shape["counts"]["missed"] == 1
        (notice,) = shape["notices"]
        assert set(notice) == {"task_id", "campaign_id", "step", "state", "reason"}
        assert (notice["task_id"], notice["state"], notice["step"]) == (missed, "missed", "greet")
        assert task(db, post).state == "sent" and len(receiver.received()) == 1


def test_worker_once_prints_each_notice_and_a_summary(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    with database(database_url) as db:
        endpoint(db, "hook", "webhook", receiver.url, SECRET)
        cid = campaign(db, notify={"*": "hook"})
        late = set_due(db, cid, "post", utcnow() - timedelta(hours=2))
        env = {"SOPFLOW_DATABASE_URL": database_url, "SOPFLOW_LANG": "en"}
        result = CliRunner().invoke(_app(), ["--once", "--workspace", str(tmp_path / "ws")], env=env)
        assert result.exit_code == 0, result.output
        assert f"task {late} (post, campaign {cid}) missed: not delivered: due 2h" in result.stderr
        assert "0 sent" in result.stdout and "1 missed" in result.stdout


def test_worker_refuses_a_concurrency_below_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["--once", "--concurrency", "0", "--workspace", str(tmp_path)])
    assert result.exit_code == 2 and "--concurrency" in result.output

"""``campaign status``: progress, execution and on-time rates with their denominators, overdue and
uncertain tasks, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.campaign.runs import database
from tests.campaign.status_support import NEW_YORK, tiny_campaign
from typer.testing import CliRunner

from sopflow.campaign.status import campaign_status
from sopflow.campaign.status_commands import status_command
from sopflow.campaign.status_view import print_status
from sopflow.campaign.tasks import mark_done, transition
from sopflow.errors import NotFound
from sopflow.i18n import set_language
from sopflow.store.runs import Task

BEFORE = datetime(2026, 10, 30, 13, 0, tzinfo=UTC)  # 09:00 EDT: nothing due yet
LATER = datetime(2026, 11, 3, 17, 0, tzinfo=UTC)  # 12:00 EST, three days in


def _tasks(session: Session, campaign_id: int) -> dict[str, Task]:
    rows = session.scalars(select(Task).where(Task.campaign_id == campaign_id))
    return {t.step_id: t for t in rows}


def _run_three_days(session: Session, campaign_id: int) -> None:
    """notice done on time; follow (released by it) left uncertain; remind sent after its deadline."""
    tasks = _tasks(session, campaign_id)
    done_at = datetime(2026, 10, 30, 11, 0, tzinfo=NEW_YORK)
    mark_done(session=session, task_id=tasks["notice"].id, by="王芳", now=done_at)
    follow = tasks["follow"]
    transition(session, follow, "uncertain", actor="worker:1", reason="died while sending", now=done_at)
    follow.last_error = "worker died"
    remind = tasks["remind"]
    transition(session, remind, "sent", actor="worker:1", now=LATER)
    remind.sent_at = datetime(2026, 11, 3, 16, 0, tzinfo=UTC)  # an hour after its deadline
    session.flush()


def test_nothing_due_yet_has_no_rate(database_url: str) -> None:
    with database(database_url) as db, db.session() as session:
        campaign = tiny_campaign(session)
        status = campaign_status(session=session, campaign_id=campaign.id, now=BEFORE)
    progress = status.progress
    assert (progress.steps, progress.due, progress.executed, progress.not_yet_due, progress.waiting) == (
        4,
        0,
        0,
        3,
        1,
    )
    assert (status.execution_rate.value, status.execution_rate.denominator) == (None, 0)
    assert [line.step for line in status.next_due] == ["notice", "remind", "offer"]
    assert status.next_due[0].due_at == "2026-10-30T14:00:00+00:00"  # 10:00 EDT
    assert status.next_due[1].due_local == "2026-11-02 10:00"  # 15:00 UTC after the change to EST
    assert status.states == {"pending": 4}
    assert status.overdue == [] and status.uncertain == []


def test_rates_overdue_and_uncertain(database_url: str) -> None:
    with database(database_url) as db, db.session() as session:
        campaign = tiny_campaign(session)
        _run_three_days(session, campaign.id)
        status = campaign_status(session=session, campaign_id=campaign.id, now=LATER)
        ids = {k: t.id for k, t in _tasks(session, campaign.id).items()}
    # due: notice, follow (12:00 EDT Oct 30, an hour after notice was done), remind; offer is ahead
    assert (status.progress.due, status.progress.executed, status.progress.waiting) == (3, 2, 0)
    rate = status.execution_rate
    assert (rate.numerator, rate.denominator, rate.value) == (2, 3, pytest.approx(2 / 3))
    on_time = status.on_time_rate
    assert (on_time.numerator, on_time.denominator) == (1, 2)  # remind was sent after its deadline
    assert status.states == {"pending": 1, "sent": 1, "done": 1, "uncertain": 1}
    steps = {s.step: s for s in status.steps}
    assert steps["notice"].on_time is True and steps["remind"].on_time is False
    assert steps["notice"].executed_at == "2026-10-30T15:00:00+00:00"
    assert steps["offer"].execution_rate.denominator == 0 and steps["follow"].execution_rate.value == 0
    people = {p.owner: p for p in status.people}
    assert (people["王芳"].due, people["王芳"].execution_rate.value, people["王芳"].on_time_rate.value) == (
        2,
        1.0,
        0.5,
    )
    assert (people["张伟"].tasks, people["张伟"].due, people["张伟"].overdue) == (2, 1, 1)
    assert people["张伟"].on_time_rate.value is None
    [overdue] = status.overdue
    assert (overdue.task_id, overdue.owner, overdue.state) == (ids["follow"], "张伟", "uncertain")
    # due 16:00 UTC Oct 30, deadline an hour later; now is Nov 3 17:00 UTC
    assert overdue.late_seconds == 4 * 86_400 + 3600 and overdue.past_deadline_seconds == 4 * 86_400
    assert [u.task_id for u in status.uncertain] == [ids["follow"]]
    assert status.uncertain[0].last_error == "worker died"
    assert [n.step for n in status.next_due] == ["offer"]
    data = json.loads(json.dumps(status.as_json(), ensure_ascii=False))
    assert data["execution_rate"] == {
        "numerator": 2,
        "denominator": 3,
        "value": pytest.approx(2 / 3),
        "definition": "executed / due",
    }
    assert set(data) >= {"progress", "people", "overdue", "next_due", "uncertain", "states", "steps"}


def test_unknown_campaign_is_not_found(database_url: str) -> None:
    with (
        database(database_url) as db,
        db.session() as session,
        pytest.raises(NotFound, match="no campaign with id 42"),
    ):
        campaign_status(session=session, campaign_id=42, now=LATER)


def test_rendering_in_both_languages(database_url: str) -> None:
    with database(database_url) as db, db.session() as session:
        campaign = tiny_campaign(session)
        _run_three_days(session, campaign.id)
        status = campaign_status(session=session, campaign_id=campaign.id, now=LATER)
    texts = {}
    for lang in ("en", "zh_CN"):
        set_language(lang)
        console = Console(record=True, width=160)
        print_status(status, console)
        texts[lang] = console.export_text()
    set_language("en")
    assert "Execution rate (executed ÷ due): 66.7% (2/3)" in texts["en"]
    assert "On-time rate (executed by the deadline ÷ executed): 50.0% (1/2)" in texts["en"]
    assert "4d 1h" in texts["en"] and "Overdue" in texts["en"]
    assert "执行率（已执行 ÷ 应执行）：66.7% (2/3)" in texts["zh_CN"]
    assert "逾期" in texts["zh_CN"] and "待确认" in texts["zh_CN"]


def test_the_command_prints_json_and_refuses_an_unknown_id(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    with database(f"sqlite:///{workspace / 'app.db'}") as db, db.session() as session:
        campaign_id = tiny_campaign(session).id
    app = typer.Typer()
    app.command("status")(status_command)
    app.command("other")(lambda: None)  # two commands: the first argument names the command
    runner = CliRunner()
    result = runner.invoke(app, ["status", str(campaign_id), "--json", "--workspace", str(workspace)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["campaign"]["id"] == campaign_id and data["progress"]["steps"] == 4
    missing = runner.invoke(app, ["status", "99", "--workspace", str(workspace)])
    assert isinstance(missing.exception, NotFound) and "99" in missing.exception.message

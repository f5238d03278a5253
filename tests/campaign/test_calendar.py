"""``campaign calendar``: the .ics parsed back with icalendar — UTC times across the end of DST in New York,
stable UIDs, descriptions, alarms and addresses only where an email exists."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from icalendar import Calendar
from sqlalchemy import select
from tests.campaign.runs import database
from tests.campaign.status_support import NEW_YORK, tiny_campaign
from typer.testing import CliRunner

from sopflow.campaign.calendar import campaign_calendar
from sopflow.campaign.status_commands import calendar_command
from sopflow.campaign.tasks import mark_done, skip_task
from sopflow.errors import NotFound
from sopflow.store.runs import Task


def _events(data: bytes) -> dict[str, object]:
    calendar = Calendar.from_ical(data)
    return {str(e["summary"]): e for e in calendar.walk("VEVENT")}


def test_one_event_per_timed_task_in_utc_across_dst(database_url: str) -> None:
    with database(database_url) as db, db.session() as session:
        campaign = tiny_campaign(session, emails=True)
        data = campaign_calendar(session=session, campaign_id=campaign.id)
        tasks = {t.step_id: t for t in session.scalars(select(Task).where(Task.campaign_id == campaign.id))}
    calendar = Calendar.from_ical(data)
    assert str(calendar["x-wr-timezone"]) == "America/New_York"
    events = _events(data)
    # follow waits for notice: no due time, no event yet
    assert set(events) == {"发通知 · 王芳", "开课提醒 · 王芳", "开售 · 张伟"}
    notice, remind, offer = events["发通知 · 王芳"], events["开课提醒 · 王芳"], events["开售 · 张伟"]
    start = notice["dtstart"].dt  # type: ignore[index]
    # 10:00 EDT (UTC−4) before the change, 10:00 EST (UTC−5) after it: the UTC hour moves, the local one not
    assert start == datetime(2026, 10, 30, 14, 0, tzinfo=UTC) and start.utcoffset() == timedelta(0)
    assert remind["dtstart"].dt == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # type: ignore[index]
    assert remind["dtstart"].dt.astimezone(NEW_YORK).hour == 10  # type: ignore[index]
    assert offer["dtstart"].dt == datetime(2026, 11, 5, 1, 0, tzinfo=UTC)  # type: ignore[index]
    assert b"DTSTART:20261030T140000Z" in data
    # until the deadline: 2 h for notice, 3 h for offer, a day for remind (the default deadline)
    assert notice["dtend"].dt - start == timedelta(hours=2)  # type: ignore[index]
    assert offer["dtend"].dt - offer["dtstart"].dt == timedelta(hours=3)  # type: ignore[index]
    assert remind["dtend"].dt - remind["dtstart"].dt == timedelta(days=1)  # type: ignore[index]
    assert str(notice["uid"]) == f"{tasks['notice'].delivery_id}@sopflow"  # type: ignore[index]
    description = str(notice["description"])  # type: ignore[index]
    for words in (
        "群发通知",
        "tiny_run 2026-10-30：今晚见",
        "海报 https://example.com/p.png",
        "☐ 检查海报",
        "☐ 置顶",
    ):
        assert words in description
    assert f"sopflow tasks done {tasks['notice'].id}" in description
    [alarm] = notice.walk("VALARM")  # type: ignore[attr-defined]
    assert alarm["trigger"].dt == timedelta(minutes=-15) and str(alarm["action"]) == "DISPLAY"
    # 王芳 has an email and a manager with one; 张伟 has none
    assert str(notice["attendee"]) == "mailto:wangfang@example.com"  # type: ignore[index]
    assert str(notice["organizer"]) == "mailto:lilei@example.com"  # type: ignore[index]
    assert notice["attendee"].params["CN"] == "王芳"  # type: ignore[index]
    assert "attendee" not in offer and "organizer" not in offer  # type: ignore[operator]


def test_the_uid_is_stable_and_changes_update_the_event(database_url: str) -> None:
    with database(database_url) as db, db.session() as session:
        campaign = tiny_campaign(session)
        first = _events(campaign_calendar(session=session, campaign_id=campaign.id))
        tasks = {t.step_id: t for t in session.scalars(select(Task).where(Task.campaign_id == campaign.id))}
        done = datetime(2026, 10, 30, 10, 30, tzinfo=NEW_YORK)
        mark_done(session=session, task_id=tasks["notice"].id, by="王芳", now=done)
        skip_task(session=session, task_id=tasks["offer"].id, why="取消开售", by="李雷", now=done)
        session.flush()
        second = _events(campaign_calendar(session=session, campaign_id=campaign.id))
    assert str(first["发通知 · 王芳"]["uid"]) == str(second["发通知 · 王芳"]["uid"])  # type: ignore[index]
    # the after: step got its time (an hour after notice was done) and now has an event
    follow = second["跟进 · 张伟"]
    assert follow["dtstart"].dt == datetime(2026, 10, 30, 15, 30, tzinfo=UTC)  # type: ignore[index]
    assert follow["dtend"].dt == datetime(2026, 10, 30, 16, 30, tzinfo=UTC)  # type: ignore[index]
    assert str(second["开售 · 张伟"]["status"]) == "CANCELLED"  # type: ignore[index]
    assert int(second["开售 · 张伟"]["sequence"]) > int(first["开售 · 张伟"]["sequence"])  # type: ignore[index]


def test_unknown_campaign(database_url: str) -> None:
    with (
        database(database_url) as db,
        db.session() as session,
        pytest.raises(NotFound, match="no campaign with id 7"),
    ):
        campaign_calendar(session=session, campaign_id=7)


def test_the_command_writes_the_file(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    with database(f"sqlite:///{workspace / 'app.db'}") as db, db.session() as session:
        campaign_id = tiny_campaign(session).id
    app = typer.Typer()
    app.command("calendar")(calendar_command)
    app.command("other")(lambda: None)  # two commands: the first argument names the command
    out = tmp_path / "out" / "team.ics"
    args = ["calendar", str(campaign_id), "-o", str(out), "--workspace", str(workspace), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"output": str(out), "events": 3}
    assert len(Calendar.from_ical(out.read_bytes()).walk("VEVENT")) == 3
    missing = CliRunner().invoke(
        app, ["calendar", "12", "-o", str(tmp_path / "x.ics"), "--workspace", str(workspace)]
    )
    assert isinstance(missing.exception, NotFound) and not (tmp_path / "x.ics").exists()

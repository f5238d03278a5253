"""Starting a campaign: every step becomes a task with its owner, absolute due time and rendered script."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.campaign.runs import NOW, add_staff, add_version, database

from sopflow.campaign.start import start_campaign
from sopflow.campaign.tasks import mark_done
from sopflow.campaign.timing import parse_start
from sopflow.errors import InvalidInput, NotFound
from sopflow.playbook.catalog import template_names, template_text
from sopflow.playbook.loader import parse_playbook
from sopflow.store.runs import Campaign, Task, TaskEvent

BASE = (Path(__file__).resolve().parents[1] / "playbook" / "fixtures" / "base.yaml").read_text(
    encoding="utf-8"
)
SHANGHAI = ZoneInfo("Asia/Shanghai")
_AT = re.compile(r"^D([+-]?\d+) (\d\d):(\d\d)$")


def _expected_local(at: str, first: date, quiet: tuple[int, int] | None) -> datetime:
    """The wall-clock time a ``D±N HH:MM`` step is due, written out independently of the scheduler."""
    match = _AT.match(at)
    assert match, at
    days = int(match.group(1))
    local = datetime.combine(first + timedelta(days=days), time(int(match.group(2)), int(match.group(3))))
    if quiet is not None:
        start, end = quiet
        minute = local.hour * 60 + local.minute
        inside = start <= minute < end if start < end else (minute >= start or minute < end)
        if inside:
            day = local.date() + timedelta(days=1 if start > end and minute >= start else 0)
            local = datetime.combine(day, time(end // 60, end % 60))
    return local


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


@pytest.mark.parametrize("template", template_names())
def test_each_template_becomes_its_tasks(database_url: str, template: str) -> None:
    text = template_text(template)
    playbook, _problems = parse_playbook(text, filename=template)
    assert playbook is not None
    with database(database_url) as db, db.session() as session:
        version = add_version(session, text)
        for role in playbook.team.roles:
            add_staff(session, role.people[0] if role.people else f"{role.id}-person", role.id)
        starts = datetime(2026, 12, 1, 20, 0, tzinfo=SHANGHAI).astimezone(UTC)
        campaign = start_campaign(session=session, version=version, starts_at=starts, now=NOW)
        tasks = {t.step_id: t for t in session.scalars(select(Task).where(Task.campaign_id == campaign.id))}
        steps = list(playbook.timeline.steps())
        assert set(tasks) == {s.id for s in steps}
        hours = playbook.policies.quiet_hours
        quiet = (_minutes(hours.start), _minutes(hours.end)) if hours else None
        roles = {r.id: r for r in playbook.team.roles}
        for step in steps:
            task = tasks[step.id]
            assert task.state == "pending"
            assert task.role == step.owner
            person = roles[step.owner].people[0] if roles[step.owner].people else f"{step.owner}-person"
            assert task.owner_id is not None
            assert campaign.assignments[step.owner] == person
            if step.at is not None:
                assert task.due_at is not None
                want = _expected_local(step.at, date(2026, 12, 1), quiet)
                assert task.due_at.astimezone(SHANGHAI).replace(tzinfo=None) == want, step.id
                assert task.deadline_at is not None and task.deadline_at > task.due_at
            else:
                assert task.due_at is None and task.after_step is not None
            assert "{{course}}" not in task.text and "{{campaign_name}}" not in task.text
        # Every task has its creation in its history.
        events = session.scalar(select(func.count()).select_from(TaskEvent))
        assert events == len(steps)


def _start(session: Session, text: str, starts: datetime, **kwargs: Any) -> tuple[Campaign, dict[str, Task]]:
    version = add_version(session, text)
    add_staff(session, "小王", "ops")
    add_staff(session, "小李", "ops")
    add_staff(session, "张经理", "lead")
    campaign = start_campaign(session=session, version=version, starts_at=starts, now=NOW, **kwargs)
    return campaign, {
        t.step_id: t for t in session.scalars(select(Task).where(Task.campaign_id == campaign.id))
    }


def test_times_across_dst_changes_and_month_ends(database_url: str) -> None:
    text = (
        BASE.replace("timezone: Asia/Shanghai", "timezone: America/New_York")
        .replace('at: "D-3 10:00"', 'at: "D+1 02:30"')
        .replace('at: "D0 20:00"', 'at: "D0 09:00"')
        .replace('quiet_hours: {start: "22:00", end: "08:00"}', 'quiet_hours: {start: "23:00", end: "23:30"}')
    )
    ny = ZoneInfo("America/New_York")
    with database(database_url) as db, db.session() as session:
        # 2026-03-08 02:00 EST → 03:00 EDT: the day after D0 has 23 hours and no 02:30.
        _c, tasks = _start(session, text, parse_start("2026-03-07 08:00", ny, now=NOW))
        assert tasks["greet"].due_at == datetime(2026, 3, 7, 14, 0, tzinfo=UTC)  # 09:00 EST
        assert tasks["post"].due_at == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT: moved by the gap
    fall = text.replace('at: "D+1 02:30"', 'at: "D+1 01:30"')
    with database(database_url) as db, db.session() as session:
        # 2026-11-01 01:30 happens twice; the first (EDT, -4) is taken.
        _c, tasks = _start(session, fall, parse_start("2026-10-31 08:00", ny, now=NOW))
        assert tasks["post"].due_at == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
        assert tasks["greet"].due_at == datetime(2026, 10, 31, 13, 0, tzinfo=UTC)  # 09:00 EDT
    month_end = BASE.replace('at: "D-3 10:00"', 'at: "D+1 10:00"')
    with database(database_url) as db, db.session() as session:
        _c, tasks = _start(session, month_end, parse_start("2028-02-28 09:00", SHANGHAI, now=NOW))
        assert tasks["post"].due_at == datetime(2028, 2, 29, 2, 0, tzinfo=UTC)  # leap day, 10:00 +08
        _c, tasks = _start(
            session,
            month_end.replace("camp-fission", "camp-2"),
            parse_start("2026-12-31 09:00", SHANGHAI, now=NOW),
        )
        assert tasks["post"].due_at == datetime(2027, 1, 1, 2, 0, tzinfo=UTC)


def test_quiet_hours_move_a_due_time_to_their_end(database_url: str) -> None:
    text = BASE.replace('at: "D0 20:00"', 'at: "D0 23:00"')
    with database(database_url) as db, db.session() as session:
        _c, tasks = _start(session, text, parse_start("2026-12-01 09:00", SHANGHAI, now=NOW))
        greet = tasks["greet"]
        assert greet.planned_at == datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 23:00 +08
        assert greet.due_at == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)  # 08:00 +08 the next day
        history = session.scalars(select(TaskEvent).where(TaskEvent.task_id == greet.id)).all()
        assert "quiet hours" in history[0].reason


def test_after_steps_are_timed_when_the_step_they_follow_is_done(database_url: str) -> None:
    with database(database_url) as db, db.session() as session:
        _c, tasks = _start(session, BASE, parse_start("2026-12-01 09:00", SHANGHAI, now=NOW))
        sell = tasks["sell"]
        assert sell.due_at is None and sell.after_step == "greet" and sell.after_delay == 86_400
        done_at = datetime(2026, 12, 1, 21, 0, tzinfo=SHANGHAI).astimezone(UTC)
        mark_done(session=session, task_id=tasks["greet"].id, by="小王", note="欢迎完", now=done_at)
        session.flush()
        assert sell.due_at == done_at + timedelta(days=1)
        assert sell.deadline_at is not None and sell.deadline_at > sell.due_at
    with database(database_url) as db, db.session() as session:
        _c, tasks = _start(session, BASE, parse_start("2026-12-01 09:00", SHANGHAI, now=NOW))
        late = datetime(2026, 12, 1, 23, 30, tzinfo=SHANGHAI).astimezone(UTC)
        mark_done(session=session, task_id=tasks["greet"].id, by="小王", now=late)
        session.flush()
        # a day later is 23:30, inside the quiet hours: due at their end, 08:00 the morning after
        assert tasks["sell"].due_at == datetime(2026, 12, 3, 8, 0, tzinfo=SHANGHAI).astimezone(UTC)


def test_owners_come_from_assign_then_the_playbook_then_the_role(database_url: str) -> None:
    with database(database_url) as db, db.session() as session:
        campaign, tasks = _start(session, BASE, NOW)
        assert campaign.assignments == {"ops": "小王", "lead": "张经理"}
        assert tasks["greet"].text == "欢迎 {{nickname}} 加入7天写作训练营！"  # per-user placeholders stay
        campaign2 = start_campaign(
            session=session,
            version=add_version(session, BASE),
            starts_at=NOW,
            assign={"ops": "小李"},
            now=NOW,
        )
        assert campaign2.assignments["ops"] == "小李"


def test_a_role_without_a_person_writes_nothing(database_url: str) -> None:
    with database(database_url) as db:
        with db.session() as session:
            version_id = add_version(session, BASE).id
            add_staff(session, "小王", "ops")
        with pytest.raises(InvalidInput, match="lead"), db.session() as session:
            from sopflow.store.runs import PlaybookVersion

            version = session.get(PlaybookVersion, version_id)
            assert version is not None
            start_campaign(session=session, version=version, starts_at=NOW, now=NOW)
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(Campaign)) == 0
            assert session.scalar(select(func.count()).select_from(Task)) == 0


def test_unknown_assignments_and_endpoints_are_named(database_url: str) -> None:
    with database(database_url) as db, db.session() as session:
        version = add_version(session, BASE)
        add_staff(session, "小王", "ops")
        add_staff(session, "张经理", "lead")
        with pytest.raises(InvalidInput, match="'boss'"):
            start_campaign(session=session, version=version, starts_at=NOW, assign={"boss": "小王"}, now=NOW)
        with pytest.raises(NotFound, match="'nobody'"):
            start_campaign(session=session, version=version, starts_at=NOW, assign={"ops": "nobody"}, now=NOW)
        with pytest.raises(NotFound, match="'no-such-robot'"):
            start_campaign(
                session=session, version=version, starts_at=NOW, notify={"*": "no-such-robot"}, now=NOW
            )
        with pytest.raises(InvalidInput, match="Mars/Olympus"):
            start_campaign(session=session, version=version, starts_at=NOW, timezone="Mars/Olympus", now=NOW)

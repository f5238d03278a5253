"""The Overview's campaign figures: running campaigns with executed ÷ due, today's tasks in the chosen zone,
overdue tasks; paused campaigns' tasks listed, cancelled ones' not — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from tests.campaign.runs import database
from tests.campaign.status_support import NEW_YORK, tiny_campaign

from sopflow.campaign.lifecycle import cancel_campaign, pause_campaign
from sopflow.campaign.overview import campaign_overview
from sopflow.campaign.tasks import mark_done
from sopflow.store.runs import Task

AFTERNOON = datetime(2026, 10, 30, 17, 0, tzinfo=UTC)  # 13:00 in New York, 01:00 next day in Shanghai


def test_running_today_and_overdue(database_url: str) -> None:
    with database(database_url) as db, db.session() as session:
        campaign = tiny_campaign(session)
        tasks = {t.step_id: t for t in session.scalars(select(Task).where(Task.campaign_id == campaign.id))}
        before = campaign_overview(session=session, now=AFTERNOON, zone=NEW_YORK)
        assert before.day == "2026-10-30" and before.timezone == "America/New_York"
        (running,) = before.running
        assert running.id == campaign.id
        rate = running.execution_rate
        assert (rate.numerator, rate.denominator, rate.value) == (0, 1, 0.0)
        assert [(t.step, t.state, t.owner, t.due_local, t.overdue) for t in before.today] == [
            ("notice", "due", "王芳", "2026-10-30 10:00", True)
        ]
        assert [t.step for t in before.overdue] == ["notice"]

        # Done at 11:00 New York: the follow-up comes due an hour later, with a deadline an hour after that.
        mark_done(
            session=session,
            task_id=tasks["notice"].id,
            by="王芳",
            now=datetime(2026, 10, 30, 11, 0, tzinfo=NEW_YORK),
        )
        session.flush()
        after = campaign_overview(session=session, now=AFTERNOON, zone=NEW_YORK)
        rate = after.running[0].execution_rate
        assert (rate.numerator, rate.denominator) == (1, 2)
        assert [(t.step, t.state, t.overdue) for t in after.today] == [
            ("notice", "done", False),
            ("follow", "due", True),
        ]
        assert [t.step for t in after.overdue] == ["follow"]
        # Seen from Shanghai it is already the 31st: only the follow-up (00:00 there) is today's.
        shanghai = campaign_overview(session=session, now=AFTERNOON, zone=ZoneInfo("Asia/Shanghai"))
        assert shanghai.day == "2026-10-31" and [t.step for t in shanghai.today] == ["follow"]

        pause_campaign(session=session, campaign_id=campaign.id, by="王芳", now=AFTERNOON)
        paused = campaign_overview(session=session, now=AFTERNOON, zone=NEW_YORK)
        assert paused.running == [] and [t.step for t in paused.overdue] == ["follow"]
        cancel_campaign(session=session, campaign_id=campaign.id, by="王芳", now=AFTERNOON)
        ended = campaign_overview(session=session, now=AFTERNOON, zone=NEW_YORK).as_json()
        assert (ended["running"], ended["today"], ended["overdue"], ended["truncated"]) == ([], [], [], False)


def test_lists_stop_at_the_limit(database_url: str) -> None:
    with database(database_url) as db, db.session() as session:
        tiny_campaign(session)
        later = datetime(2026, 11, 5, 5, 0, tzinfo=UTC)  # every dated task is overdue by now
        capped = campaign_overview(session=session, now=later, zone=NEW_YORK, limit=1)
        assert len(capped.overdue) == 1 and capped.truncated is True
        assert capped.overdue[0].step == "notice"  # the earliest deadline first

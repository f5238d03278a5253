"""The console's campaign API end to end on SQLite and PostgreSQL: publish → approve → staff → start →
tasks → done → status, every change named after the logged-in user; and the 404/422 answers of bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from sopflow.store.accounts import AuditEntry
from sopflow.store.runs import TaskEvent

from .console_api import PLAYBOOK, Console, assert_error, console, open_console

__all__ = ["console"]  # the fixture, imported for the tests below


@pytest.fixture
def shared_console(tmp_path: Path, database_url: str) -> Iterator[Console]:
    """The app on the ``database_url`` database (SQLite, then PostgreSQL)."""
    yield from open_console(tmp_path, database_url=database_url)


def _tomorrow() -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).strftime("%Y-%m-%d")


def _ready(c: Console) -> int:
    """Publish and approve the playbook, add a staff member, start a campaign tomorrow; its id."""
    c.login("op")
    c.ok(c.post("/api/v1/playbooks", {"yaml": PLAYBOOK, "note": "first"}), 201)
    c.ok(c.post("/api/v1/staff", {"name": "李雷", "role": "ops"}), 201)
    c.login("boss")
    c.ok(c.post("/api/v1/playbooks/course/versions/1/approve"))
    c.login("op")
    started = c.ok(c.post("/api/v1/campaigns", {"playbook": "course", "start": f"{_tomorrow()} 09:00"}), 201)
    return int(started["campaign"]["id"])


def test_the_journey_names_the_logged_in_user(shared_console: Console) -> None:
    c = shared_console.login("op")
    published = c.ok(c.post("/api/v1/playbooks", {"yaml": PLAYBOOK, "note": "first"}), 201)
    assert published["created"] is True
    assert published["version"]["ref"] == "course@1" and published["version"]["published_by"] == "op"
    # The same text again stores nothing new.
    again = c.ok(c.post("/api/v1/playbooks", {"yaml": PLAYBOOK}))
    assert again == {"created": False, "version": published["version"]}
    # Not approved yet: a campaign of it is refused, and nothing is started.
    assert_error(c.post("/api/v1/campaigns", {"playbook": "course", "start": "now"}), 422, "not_approved")
    assert c.ok(c.get("/api/v1/campaigns")) == {"campaigns": []}

    c.login("boss")
    approved = c.ok(c.post("/api/v1/playbooks/course/versions/v1/approve"))
    assert approved["changed"] is True and approved["version"]["approved_by"] == "boss"
    listed = c.ok(c.get("/api/v1/playbooks"))["playbooks"]
    assert [(p["playbook_id"], p["latest_approved"]) for p in listed] == [("course", 1)]
    versions = c.ok(c.get("/api/v1/playbooks/course/versions"))["versions"]
    assert [(v["version"], v["note"], v["approved"]) for v in versions] == [(1, "first", True)]

    c.login("op")
    person = c.ok(c.post("/api/v1/staff", {"name": "李雷", "role": "ops", "email": "lei@example.com"}), 201)
    assert person["staff"]["name"] == "李雷" and person["staff"]["active"] is True
    changed = c.ok(c.patch("/api/v1/staff/李雷", {"wecom_userid": "lilei"}))
    assert changed["staff"]["wecom_userid"] == "lilei" and changed["staff"]["email"] == "lei@example.com"

    day = _tomorrow()
    started = c.ok(
        c.post(
            "/api/v1/campaigns",
            {"playbook": "course", "start": f"{day} 09:00", "name": "十二月营", "assign": {"ops": "李雷"}},
        ),
        201,
    )
    campaign = started["campaign"]
    assert campaign["name"] == "十二月营" and campaign["created_by"] == "op"
    assert campaign["timezone"] == "Asia/Shanghai" and campaign["status"] == "running"
    assert [(t["step"], t["owner"], t["due_local"][:16]) for t in started["tasks"]] == [
        ("s1", "李雷", f"{day} 10:00"),
        ("s2", "李雷", f"{day} 20:00"),
    ]
    campaign_id = campaign["id"]
    assert [x["id"] for x in c.ok(c.get("/api/v1/campaigns"))["campaigns"]] == [campaign_id]

    tasks = c.ok(c.get("/api/v1/tasks", campaign=campaign_id, mine="李雷"))["tasks"]
    assert [t["step"] for t in tasks] == ["s1", "s2"]
    first = tasks[0]["id"]
    done = c.ok(c.post(f"/api/v1/tasks/{first}/done", {"note": "发了"}))["task"]
    assert done["state"] == "done" and done["history"][-1]["actor"] == "op"
    # Done tasks leave the open list; all=true shows them.
    assert [t["id"] for t in c.ok(c.get("/api/v1/tasks", campaign=campaign_id))["tasks"]] == [tasks[1]["id"]]
    assert len(c.ok(c.get("/api/v1/tasks", campaign=campaign_id, all="true"))["tasks"]) == 2
    assert c.ok(c.get("/api/v1/tasks", state="done"))["tasks"][0]["id"] == first

    c.login("guest")  # a viewer reads everything, with contact details masked
    status = c.ok(c.get(f"/api/v1/campaigns/{campaign_id}/status"))
    assert status["campaign"]["id"] == campaign_id
    assert status["states"] == {"done": 1, "pending": 1}
    assert c.ok(c.get(f"/api/v1/tasks/{first}"))["task"]["history"][-1]["actor"] == "op"
    shown = c.ok(c.get(f"/api/v1/campaigns/{campaign_id}"))
    assert shown["campaign"]["tasks"] == {"done": 1, "pending": 1} and len(shown["tasks"]) == 2
    masked = c.ok(c.get("/api/v1/staff"))["staff"][0]
    assert masked["email"] == "le****om" and masked["wecom_userid"] == "li****ei"

    c.login("op")
    assert c.ok(c.post(f"/api/v1/campaigns/{campaign_id}/pause"))["campaign"]["status"] == "paused"
    assert c.ok(c.post(f"/api/v1/campaigns/{campaign_id}/resume"))["campaign"]["status"] == "running"
    cancelled = c.ok(c.post(f"/api/v1/campaigns/{campaign_id}/cancel", {"why": "停课"}))
    assert cancelled["campaign"]["status"] == "cancelled"
    assert cancelled["campaign"]["tasks"] == {"done": 1, "skipped": 1}

    with c.services.database.session() as session:
        audit = session.execute(select(AuditEntry.actor, AuditEntry.action).order_by(AuditEntry.id)).all()
        actors = {(actor, action) for actor, action in audit}
        events = session.scalars(select(TaskEvent.actor).where(TaskEvent.actor != "op")).all()
    assert {("op", "playbook.publish"), ("boss", "playbook.approve"), ("op", "campaign.cancel")} <= actors
    assert ("op", "campaign.pause") in actors and ("op", "campaign.resume") in actors
    assert events == []  # every change of every task (start, done, pause, resume, cancel) was op's


def test_skip_and_confirm(console: Console) -> None:
    c = console
    campaign_id = _ready(c)
    first, second = (t["id"] for t in c.ok(c.get("/api/v1/tasks", campaign=campaign_id))["tasks"])
    assert_error(c.post(f"/api/v1/tasks/{first}/skip", {"why": ""}), 422, "invalid_input")
    skipped = c.ok(c.post(f"/api/v1/tasks/{first}/skip", {"why": "不需要"}))["task"]
    assert skipped["state"] == "skipped" and skipped["history"][-1]["reason"] == "不需要"
    # Only an uncertain task is confirmed; this one is pending, and stays so.
    error = assert_error(c.post(f"/api/v1/tasks/{second}/confirm", {"arrived": True}), 422, "not_uncertain")
    assert str(second) in error["message"]
    assert c.ok(c.get(f"/api/v1/tasks/{second}"))["task"]["state"] == "pending"
    assert_error(c.post(f"/api/v1/tasks/{first}/done"), 422, "task_closed")


def test_malformed_yaml_names_line_and_col(console: Console) -> None:
    c = console.login("op")
    broken = PLAYBOOK.replace("  roles: [{id: ops, name: 运营}]", "  roles: [{id: ops, name: 运营}")
    error = assert_error(c.post("/api/v1/playbooks", {"yaml": broken}), 422, "playbook_invalid")
    assert error["field"] == "body.yaml"
    problem = error["problems"][0]
    assert problem["line"] >= 4 and problem["col"] >= 1
    assert f"body.yaml:{problem['line']}:{problem['col']}:" in error["message"]
    # A schema problem points at its own line: the second step's owner is no role of the team.
    wrong = PLAYBOOK.replace(
        "owner: ops, channel: moments, action: 再发一条", "owner: ghost, action: 再发一条"
    )
    line = next(n for n, text in enumerate(wrong.splitlines(), 1) if "ghost" in text)
    error = assert_error(c.post("/api/v1/playbooks", {"yaml": wrong}), 422, "playbook_invalid")
    assert [p["line"] for p in error["problems"]] == [line]
    assert_error(c.post("/api/v1/playbooks", {"note": "no yaml"}), 422, "invalid_input")
    assert c.ok(c.get("/api/v1/playbooks")) == {"playbooks": []}


def test_unknown_things_are_404(console: Console) -> None:
    c = console.login("op")
    assert_error(c.get("/api/v1/campaigns/999"), 404, "unknown_campaign")
    assert_error(c.get("/api/v1/campaigns/999/status"), 404, "unknown_campaign")
    for action in ("pause", "resume", "cancel"):
        assert_error(c.post(f"/api/v1/campaigns/999/{action}"), 404, "unknown_campaign")
    assert_error(c.get("/api/v1/tasks", campaign=999), 404, "unknown_campaign")
    assert_error(c.get("/api/v1/tasks/999"), 404, "unknown_task")
    assert_error(c.post("/api/v1/tasks/999/done"), 404, "unknown_task")
    assert_error(c.get("/api/v1/tasks", mine="ghost"), 404, "unknown_staff")
    assert_error(c.patch("/api/v1/staff/ghost", {"role": "ops"}), 404, "unknown_staff")
    assert_error(c.get("/api/v1/playbooks/ghost/versions"), 404, "unknown_playbook")
    c.login("boss")
    assert_error(c.post("/api/v1/playbooks/ghost/versions/1/approve"), 404, "unknown_playbook")


def test_bad_start_input_is_422_and_starts_nothing(console: Console) -> None:
    c = console
    _ready(c)
    cases = [
        ({"start": "tomorrow at nine"}, "invalid_start", "tomorrow at nine"),
        ({"start": "now", "tz": "Mars/Olympus"}, "invalid_timezone", "Mars/Olympus"),
        ({"start": "now", "max_late": "soon"}, "invalid_option", "max_late"),
        ({"start": "now", "assign": {"ops": "ghost"}}, None, "ghost"),
        ({"start": "now", "playbook": "course@x"}, "invalid_version", "course@x"),
    ]
    for extra, code, named in cases:
        response = c.post("/api/v1/campaigns", {"playbook": "course", **extra})
        assert response.status_code in (404, 422), response.text
        error = response.json()["error"]
        if code is not None:
            assert error["code"] == code
        assert named in error["message"]
    assert_error(c.get("/api/v1/tasks", state="asleep"), 422, "invalid_option")
    assert_error(c.post("/api/v1/campaigns", {"start": "now"}), 422, "invalid_input")
    assert len(c.ok(c.get("/api/v1/campaigns"))["campaigns"]) == 1
    bad_email = {"name": "韩梅梅", "role": "ops", "email": "nope"}
    assert "nope" in assert_error(c.post("/api/v1/staff", bad_email), 422, "invalid_email")["message"]
    assert [p["name"] for p in c.ok(c.get("/api/v1/staff"))["staff"]] == ["李雷"]


def test_started_now_the_first_task_is_due_today(console: Console) -> None:
    c = console
    _ready(c)
    started = c.ok(c.post("/api/v1/campaigns", {"playbook": "course@1", "start": "now", "tz": "UTC"}), 201)
    assert started["campaign"]["timezone"] == "UTC"
    starts = datetime.fromisoformat(started["campaign"]["starts_at"])
    assert abs((starts - datetime.now(UTC)).total_seconds()) < 60

"""What the console's Campaigns pages need from the API: the calendar (JSON and .ics), per-step touches and
conversions, starting two versions side by side, a task's audience (masked for viewers, audited), and the
viewer's 403 on every write — with the stable error shape and nothing written on a refusal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from sopflow.errors import InvalidInput
from sopflow.store.accounts import AuditEntry
from sopflow.store.runs import Campaign, Task, TaskEvent
from sopflow.web.console.campaigns.start_form import parse_split

from .console_api import PLAYBOOK, Console, assert_error, console, open_console

__all__ = ["console"]  # the fixture, imported for the tests below


@pytest.fixture
def shared_console(tmp_path: Path, database_url: str) -> Iterator[Console]:
    """The app on the ``database_url`` database (SQLite, then PostgreSQL)."""
    yield from open_console(tmp_path, database_url=database_url)


ZONE = ZoneInfo("Asia/Shanghai")


def _tomorrow() -> str:
    return (datetime.now(ZONE) + timedelta(days=1)).strftime("%Y-%m-%d")


def _publish(c: Console, text: str = PLAYBOOK, *, version: int = 1) -> None:
    c.login("op")
    c.ok(c.post("/api/v1/playbooks", {"yaml": text}), 201)
    c.login("boss")
    c.ok(c.post(f"/api/v1/playbooks/course/versions/{version}/approve"))
    c.login("op")


def _ready(c: Console) -> int:
    _publish(c)
    c.ok(c.post("/api/v1/staff", {"name": "李雷", "role": "ops"}), 201)
    started = c.ok(c.post("/api/v1/campaigns", {"playbook": "course", "start": f"{_tomorrow()} 09:00"}), 201)
    return int(started["campaign"]["id"])


def test_calendar_lays_tasks_out_by_local_day(shared_console: Console) -> None:
    c = shared_console
    campaign_id = _ready(c)
    day = _tomorrow()
    agenda = c.ok(c.get(f"/api/v1/campaigns/{campaign_id}/calendar"))
    assert agenda["timezone"] == "Asia/Shanghai" and agenda["unscheduled"] == []
    assert [d["date"] for d in agenda["days"]] == [day]
    tasks = agenda["days"][0]["tasks"]
    assert [(t["step"], t["start_local"], t["owner"], t["state"]) for t in tasks] == [
        ("s1", "10:00", "李雷", "pending"),
        ("s2", "20:00", "李雷", "pending"),
    ]
    # 10:00 in Shanghai is 02:00 UTC; a task ends at its deadline on the calendar.
    start = datetime.fromisoformat(tasks[0]["start"])
    assert start.astimezone(UTC).hour == 2
    shown = c.ok(c.get(f"/api/v1/campaigns/{campaign_id}"))["tasks"][0]
    assert datetime.fromisoformat(tasks[0]["end"]) == datetime.fromisoformat(shown["deadline_at"]) > start
    ics = c.get(f"/api/v1/campaigns/{campaign_id}/calendar.ics")
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert ics.text.count("BEGIN:VEVENT") == 2
    assert_error(c.get("/api/v1/campaigns/999/calendar"), 404, "unknown_campaign")
    assert_error(c.get("/api/v1/campaigns/999/calendar.ics"), 404, "unknown_campaign")


def test_steps_count_touches_per_step(console: Console) -> None:
    c = console
    campaign_id = _ready(c)
    report = c.ok(c.get(f"/api/v1/campaigns/{campaign_id}/steps"))
    assert report["campaign"]["id"] == campaign_id
    assert [(s["step"], s["touched"], s["conversion_rate"]) for s in report["steps"]] == [
        ("s1", 0, None),
        ("s2", 0, None),
    ]
    assert report["totals"]["tasks"] == 2 and report["totals"]["executed"] == 0
    assert_error(c.get("/api/v1/campaigns/999/steps"), 404, "unknown_campaign")


def test_two_versions_side_by_side(console: Console) -> None:
    c = console
    _ready(c)
    _publish(c, PLAYBOOK.replace("action: 再发一条", "action: 再发两条"), version=2)
    # Weights without versions to weigh, and the wrong number of weights: refused, nothing started.
    only_split = {"playbook": "course@2", "start": "now", "split": [1, 1]}
    assert_error(c.post("/api/v1/campaigns", only_split), 422, "invalid_split")
    wrong = {"playbook": "course@2", "start": "now", "versus": ["course@1"], "split": [1, 1, 1]}
    assert_error(c.post("/api/v1/campaigns", wrong), 422, "invalid_split")
    assert_error(c.post("/api/v1/campaigns", {**wrong, "split": [0, 1]}), 422, "invalid_input")
    assert len(c.ok(c.get("/api/v1/campaigns"))["campaigns"]) == 1
    body = {"playbook": "course@2", "start": f"{_tomorrow()} 09:00", "versus": ["course@1"], "split": [3, 1]}
    started = c.ok(c.post("/api/v1/campaigns", body), 201)
    arms = started["campaigns"]
    assert [a["version"] for a in arms] == [2, 1] and len({a["name"] for a in arms}) == 1
    assert started["campaign"]["id"] == arms[0]["id"]
    with c.services.database.session() as session:
        stored = session.scalars(select(Campaign).where(Campaign.id.in_([a["id"] for a in arms]))).all()
        assert sorted((x.arm, x.arms) for x in stored) == [
            ("v1", [["v2", 3.0], ["v1", 1.0]]),
            ("v2", [["v2", 3.0], ["v1", 1.0]]),
        ]


def test_audience_export_is_masked_for_viewers_and_audited(shared_console: Console) -> None:
    c = shared_console
    campaign_id = _ready(c)
    with c.services.database.session() as session:
        task = session.scalars(
            select(Task).where(Task.campaign_id == campaign_id, Task.step_id == "s1")
        ).one()
        task.audience = ["13812345678", "wxid_ab12cdab"]
        task_id = task.id
    rows = c.ok(c.get(f"/api/v1/tasks/{task_id}/audience"))
    assert rows["columns"][0] == "contact"
    assert [(r["contact"], r["step"], r["campaign_id"]) for r in rows["rows"]] == [
        ("13812345678", "s1", campaign_id),
        ("wxid_ab12cdab", "s1", campaign_id),
    ]
    c.login("guest")
    masked = c.ok(c.get(f"/api/v1/tasks/{task_id}/audience"))
    assert [r["contact"] for r in masked["rows"]] == ["138****5678", "wx****ab"]
    other = next(
        t["id"] for t in c.ok(c.get("/api/v1/tasks", campaign=campaign_id))["tasks"] if t["step"] == "s2"
    )
    assert c.ok(c.get(f"/api/v1/tasks/{other}/audience"))["rows"] == []  # not decided yet
    assert_error(c.get("/api/v1/tasks/999/audience"), 404, "unknown_task")
    with c.services.database.session() as session:
        exports = session.execute(
            select(AuditEntry.actor, AuditEntry.target_id)
            .where(AuditEntry.action == "export")
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(e) for e in exports] == [
        ("op", f"task-{task_id}-audience"),
        ("guest", f"task-{task_id}-audience"),
        ("guest", f"task-{other}-audience"),
    ]


def test_a_viewer_gets_403_on_every_write_and_nothing_changes(console: Console) -> None:
    c = console
    campaign_id = _ready(c)
    task_id = c.ok(c.get("/api/v1/tasks", campaign=campaign_id))["tasks"][0]["id"]
    with c.services.database.session() as session:
        events_before = session.scalar(select(func.count()).select_from(TaskEvent))
    c.login("guest")
    writes = [
        ("/api/v1/campaigns", {"playbook": "course", "start": "now"}),
        (f"/api/v1/campaigns/{campaign_id}/pause", None),
        (f"/api/v1/campaigns/{campaign_id}/resume", None),
        (f"/api/v1/campaigns/{campaign_id}/cancel", {"why": "x"}),
        (f"/api/v1/tasks/{task_id}/done", {"note": "x"}),
        (f"/api/v1/tasks/{task_id}/skip", {"why": "x"}),
        (f"/api/v1/tasks/{task_id}/confirm", {"arrived": True}),
    ]
    for path, body in writes:
        assert_error(c.post(path, body), 403, "forbidden")
    # Without the CSRF header even an operator's write is refused.
    c.login("op")
    assert c.post(f"/api/v1/tasks/{task_id}/done", {"note": "x"}, csrf=False).status_code == 403
    with c.services.database.session() as session:
        assert session.scalar(select(func.count()).select_from(TaskEvent)) == events_before
        assert session.scalar(select(func.count()).select_from(Campaign)) == 1
    assert c.ok(c.get(f"/api/v1/tasks/{task_id}"))["task"]["state"] == "pending"


def test_done_moves_the_execution_rate(shared_console: Console) -> None:
    c = shared_console
    _publish(c)
    c.ok(c.post("/api/v1/staff", {"name": "李雷", "role": "ops"}), 201)
    # Started two days ago: both steps are due, none executed.
    start = (datetime.now(ZONE) - timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    campaign_id = c.ok(c.post("/api/v1/campaigns", {"playbook": "course", "start": start}), 201)["campaign"][
        "id"
    ]
    status = c.ok(c.get(f"/api/v1/campaigns/{campaign_id}/status"))
    assert status["execution_rate"] | {"definition": ""} == {
        "numerator": 0,
        "denominator": 2,
        "value": 0.0,
        "definition": "",
    }
    first = status["steps"][0]["task_id"]
    done = c.ok(c.post(f"/api/v1/tasks/{first}/done", {"note": "发了朋友圈"}))["task"]
    assert done["state"] == "done" and done["note"] == "发了朋友圈"
    rate = c.ok(c.get(f"/api/v1/campaigns/{campaign_id}/status"))["execution_rate"]
    assert (rate["numerator"], rate["denominator"], rate["value"]) == (1, 2, 0.5)
    assert_error(c.post(f"/api/v1/tasks/{first}/done", {"note": "x" * 2001}), 422, "invalid_input")


@given(st.lists(st.floats(min_value=0.01, max_value=1e6, allow_nan=False), min_size=1, max_size=6))
def test_the_console_split_reads_what_it_is_given(weights: list[float]) -> None:
    assert parse_split(",".join(repr(w) for w in weights)) == weights
    assert parse_split("，".join(repr(w) for w in weights)) == weights  # a Chinese comma too


@given(st.text(max_size=30))
def test_the_console_split_refuses_text_by_name(text: str) -> None:
    try:
        weights = parse_split(text)
    except InvalidInput as exc:
        assert "50,50" in exc.message
    else:
        assert weights is None or all(0 < w <= 1_000_000 for w in weights)
    for bad in ("inf,1", "nan", "0,1", "-1,2", "1,,2"):
        with pytest.raises(InvalidInput):
            parse_split(bad)


@pytest.mark.parametrize("text", ["", "  "])
def test_a_blank_split_means_equal_weights(text: str) -> None:
    assert parse_split(text) is None

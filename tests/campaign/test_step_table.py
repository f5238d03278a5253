"""The per-step table of a campaign in ``sopflow targets`` and ``sopflow report`` (``--campaign ID``).

A campaign started with ``start_campaign`` in a fresh database (SQLite and PostgreSQL), its tasks marked
executed directly, its touches written by the runner's own ``touch_rows`` into a workspace event store with
the persons' later events; the numbers are worked out by hand below.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.campaign.runs import database
from tests.campaign.status_support import tiny_campaign

from sopflow.campaign.start import frozen_playbook
from sopflow.campaign.tasks import mark_done, transition
from sopflow.campaign.touches import touch_rows, variant_of
from sopflow.events.normalize import normalize_event
from sopflow.events.store import EventStore
from sopflow.store.runs import Campaign, PlaybookVersion, Task
from sopflow.workspace import Workspace

NOTICE_AT = datetime(2026, 10, 30, 15, 0, tzinfo=UTC)
REMIND_AT = datetime(2026, 11, 3, 16, 0, tzinfo=UTC)


def _event(name: str, user: str, ts: str, **extra: Any) -> dict[str, Any]:
    return normalize_event({"event": name, "user_id": user, "ts": ts, **extra}, tz=UTC)


# Window 3 days (the funnel's). notice reacts on attend (its stage), remind on attend (audience.not_reached);
# conversion is the stage pay.
OUTCOMES = [
    _event("join", "u1", "2026-10-29T10:00:00Z"),
    _event("attend", "u1", "2026-10-30T20:00:00Z"),  # reacted to notice
    _event("pay", "u1", "2026-10-31T10:00:00Z", revenue=99),  # converted by notice; 99 to notice
    _event("attend", "u2", "2026-11-01T09:00:00Z"),  # reacted to notice (before remind: not to remind)
    # 4 days after notice (outside its window), an hour after remind: converted by remind; 199 to remind
    _event("pay", "u2", "2026-11-03T17:00:00Z", revenue=199),
    _event("attend", "u3", "2026-11-04T09:00:00Z"),  # reacted to remind only (notice's window is over)
    _event("pay", "u4", "2026-10-30T12:00:00Z", revenue=50),  # before any touch: nobody's
    _event("pay", "u5", "2026-11-10T12:00:00Z", revenue=299),  # a week after remind: outside the window
    _event("pay", "u6", "2026-10-31T12:00:00Z", revenue=500),  # never touched by this campaign
]


def _run_campaign(session: Session) -> tuple[Campaign, dict[str, Task], list[dict[str, Any]]]:
    campaign = tiny_campaign(session)
    tasks = {t.step_id: t for t in session.scalars(select(Task).where(Task.campaign_id == campaign.id))}
    version = session.get(PlaybookVersion, campaign.playbook_version_id)
    assert version is not None
    playbook = frozen_playbook(version)
    tasks["notice"].audience, tasks["notice"].audience_size = ["u1", "u2", "u3", "u4"], 4
    mark_done(session=session, task_id=tasks["notice"].id, by="王芳", now=NOTICE_AT)
    tasks["remind"].audience, tasks["remind"].audience_size = ["u2", "u3", "u5"], 3
    transition(session, tasks["remind"], "sent", actor="worker:1", now=REMIND_AT)
    tasks["remind"].sent_at = REMIND_AT
    mark_done(session=session, task_id=tasks["follow"].id, by="张伟", now=NOTICE_AT)  # audience unknown
    session.flush()
    rows = []
    for step, at, owner in (
        ("notice", NOTICE_AT, "王芳"),
        ("remind", REMIND_AT, "王芳"),
        ("follow", NOTICE_AT, "张伟"),
    ):
        rows += touch_rows(
            task=tasks[step],
            campaign=campaign,
            playbook=playbook,
            owner=owner,
            endpoint_kind="webhook",
            at=at,
        )
    # the same step of another campaign: not this campaign's touch
    rows.append(
        _event(
            "sop_touch",
            "u6",
            "2026-10-30T15:00:00Z",
            campaign=campaign.name,
            step="notice",
            properties={"campaign_id": campaign.id + 100},
        )
    )
    return campaign, tasks, rows


@pytest.fixture
def run(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The campaign in the database the CLI will open (SOPFLOW_DATABASE_URL), its events in a workspace."""
    monkeypatch.setenv("SOPFLOW_DATABASE_URL", database_url)
    workspace = tmp_path / "ws"
    with database(database_url) as db, db.session() as session:
        campaign, tasks, touches = _run_campaign(session)
        version = session.get(PlaybookVersion, campaign.playbook_version_id)
        assert version is not None
        playbook = frozen_playbook(version)
        variants = {
            person: variant_of(playbook=playbook, task=tasks["notice"], person=person)
            for person in ("u1", "u2", "u3", "u4")
        }
        info = {"id": campaign.id, "variants": variants, "notice_task": tasks["notice"].id}
    with EventStore.open(Workspace.resolve(workspace)) as store:
        store.append_rows(touches + OUTCOMES)
    return {**info, "workspace": workspace}


def _targets(run_cli: Callable[..., Any], run: dict[str, Any], *more: str) -> Any:
    args = ["targets", "--campaign", str(run["id"]), "--workspace", str(run["workspace"]), *more]
    return run_cli(args)


def test_the_numbers_per_step_and_variant(run_cli: Callable[..., Any], run: dict[str, Any]) -> None:
    result = _targets(run_cli, run, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["playbook"]["id"] == "tiny_run" and data["targets"] == []  # the frozen version's targets
    table = data["campaign"]
    assert table["window_seconds"] == 3 * 86_400 and table["conversion"]["id"] == "pay"
    steps = {s["step"]: s for s in table["steps"]}
    assert [s["step"] for s in table["steps"]] == ["notice", "follow", "remind", "offer"]
    notice, remind = steps["notice"], steps["remind"]
    assert (notice["executed"], notice["audience_size"], notice["task_id"]) == (1, 4, run["notice_task"])
    assert (notice["touched"], notice["reacted"], notice["converted"], notice["revenue"]) == (4, 2, 1, 99)
    assert notice["reaction"] == {"kind": "stage", "id": "attend", "name": "到课"}
    assert notice["reaction_rate"] == 0.5 and notice["conversion_rate"] == 0.25
    assert (remind["touched"], remind["reacted"], remind["converted"], remind["revenue"]) == (3, 1, 1, 199)
    assert remind["variants"] == []  # its step has no script
    assert (steps["follow"]["touched"], steps["follow"]["executed"]) == (0, 1)  # only the owner's record
    assert (steps["offer"]["executed"], steps["offer"]["touched"], steps["offer"]["conversion_rate"]) == (
        0,
        0,
        None,
    )
    # per variant: u1 reacted, converted and paid 99; u2 reacted
    expected: dict[str, list[float]] = {}
    for person, reacted, converted, revenue in (
        ("u1", 1, 1, 99),
        ("u2", 1, 0, 0),
        ("u3", 0, 0, 0),
        ("u4", 0, 0, 0),
    ):
        row = expected.setdefault(run["variants"][person], [0, 0, 0, 0])
        row[0] += 1
        row[1] += reacted
        row[2] += converted
        row[3] += revenue
    got = {
        v["variant"]: [v["touched"], v["reacted"], v["converted"], v["revenue"]] for v in notice["variants"]
    }
    assert got == expected
    assert table["totals"] == {
        "tasks": 4,
        "executed": 3,
        "touched": 5,
        "revenue": 298,
        "staff_records": 1,
        "other_currency_events": 0,
    }


def test_the_range_limits_the_touches(run_cli: Callable[..., Any], run: dict[str, Any]) -> None:
    data = json.loads(_targets(run_cli, run, "--json", "--from", "2026-11-01", "--tz", "UTC").stdout)
    steps = {s["step"]: s for s in data["campaign"]["steps"]}
    assert steps["notice"]["touched"] == 0 and steps["remind"]["touched"] == 3
    assert data["campaign"]["range"]["from"].startswith("2026-11-01T00:00:00")


def test_the_table_in_both_languages(run_cli: Callable[..., Any], run: dict[str, Any]) -> None:
    english = _targets(run_cli, run)
    assert english.exit_code == 0, english.stderr
    assert "per step" in english.stdout and "50.0% (2/4)" in english.stdout
    assert "Reaction per step: 1. stage 到课; 2. any action; 3. stage 到课; 4. any action" in english.stdout
    chinese = run_cli(
        ["targets", "--campaign", str(run["id"]), "--workspace", str(run["workspace"])], lang="zh_CN"
    )
    assert chinese.exit_code == 0, chinese.stderr
    for words in ("触达", "转化", "收入", "50.0% (2/4)"):
        assert words in chinese.stdout


def test_without_campaign_targets_needs_a_playbook(run_cli: Callable[..., Any], run: dict[str, Any]) -> None:
    result = run_cli(["targets", "--workspace", str(run["workspace"])])
    assert result.exit_code == 2 and "--playbook" in result.stderr


def test_an_unknown_campaign_is_refused(run_cli: Callable[..., Any], run: dict[str, Any]) -> None:
    result = run_cli(["targets", "--campaign", "999", "--workspace", str(run["workspace"])])
    assert result.exit_code == 2 and "no campaign with id 999" in result.stderr


def test_the_report_has_the_campaign_section(run_cli: Callable[..., Any], run: dict[str, Any]) -> None:
    out = run["workspace"].parent / "report.html"
    args = [
        "report",
        "--campaign",
        str(run["id"]),
        "-o",
        str(out),
        "--workspace",
        str(run["workspace"]),
        "--json",
    ]
    result = run_cli(args)
    assert result.exit_code == 0, result.stderr
    sections = json.loads(result.stdout)["sections"]
    assert sections["campaign"] == {"available": True, "problem": None}
    page = out.read_text(encoding="utf-8")
    assert 'id="campaign"' in page and "开课提醒" in page and "50.0%" in page and "2 ÷ 4" in page


def test_revenue_in_another_currency_is_left_out(run: dict[str, Any]) -> None:
    """ROI refuses a second currency outright; the step table leaves those payments out and counts them."""
    from sopflow.analytics.engines import open_engine
    from sopflow.analytics.targets.campaign_steps import compute_campaign_steps, read_campaign_run
    from sopflow.analytics.timerange import TimeRange

    workspace = Workspace.resolve(run["workspace"])
    with EventStore.open(workspace) as store:
        store.append_rows([_event("pay", "u1", "2026-10-31T11:00:00Z", revenue=10, currency="USD")])
    campaign = read_campaign_run(workspace=run["workspace"], campaign_id=run["id"])
    engine = open_engine("duckdb", workspace=workspace)
    table = compute_campaign_steps(engine=engine, run=campaign, time_range=TimeRange(None, None, UTC))
    assert table.totals["other_currency_events"] == 1 and table.totals["revenue"] == 298
    assert table.steps[0].revenue == 99

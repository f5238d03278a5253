"""The analytics REST API: answers equal to the CLI's ``--json`` on the same workspace, 422s that name the
field, and the drop-off download (masked for viewers, recorded in the audit log)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from sopflow.accounts.audit import list_audit
from sopflow.web.analytics.engines import ENGINES

from .console_api import Console, assert_error, open_console

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "src" / "sopflow" / "playbook" / "templates" / "community_fission.yaml"
PLAYBOOK_ID = "community_fission_course"
STEPS = ["signup", "join_group", "attend_class", "pay"]


def cli(workspace: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "sopflow", *args, "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "SOPFLOW_HOME": str(workspace), "SOPFLOW_LANG": "en"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    base = tmp_path_factory.mktemp("analytics")
    workspace = base / "ws"
    cli(workspace, "simulate", "--template", "community_fission", "--users", "1500", "--seed", "3")
    cli(workspace, "playbook", "publish", str(TEMPLATE), "--by", "setup")
    ENGINES.clear()
    for console in open_console(base):
        console.client.headers["Accept-Language"] = "en"
        yield console


def workspace_of(api: Console) -> Path:
    return Path(api.services.settings.workspace.root)


def test_funnel_equals_the_cli(api: Console) -> None:
    api.login("guest")
    body = {"steps": STEPS, "window": "7d", "by": "channel", "top": 5, "trend": "week"}
    answer = api.ok(api.post("/api/v1/analytics/funnel", body))
    expected = cli(
        workspace_of(api),
        "funnel",
        "--steps",
        ",".join(STEPS),
        "--window",
        "7d",
        "--by",
        "channel",
        "--top",
        "5",
        "--trend",
        "week",
    )
    assert answer == expected
    assert answer["steps"][0]["users"] > answer["steps"][-1]["users"] > 0
    assert answer["breakdown"]


def test_funnel_with_range_exclusion_and_where_equals_the_cli(api: Console) -> None:
    api.login("op")
    body = {
        "steps": ["visit", "signup", "pay"],
        "window": "3d",
        "order": "strict",
        "exclude": ["join_group:1-2"],
        "where": ["pay:revenue>=100"],
        "from": "2024-03-01",
        "to": "2024-03-20",
    }
    answer = api.ok(api.post("/api/v1/analytics/funnel", body))
    expected = cli(
        workspace_of(api),
        "funnel",
        "--steps",
        "visit,signup,pay",
        "--window",
        "3d",
        "--order",
        "strict",
        "--exclude",
        "join_group:1-2",
        "--where",
        "pay:revenue>=100",
        "--from",
        "2024-03-01",
        "--to",
        "2024-03-20",
    )
    assert answer == expected


def test_repeated_questions_reuse_one_engine(api: Console) -> None:
    api.login("guest")
    api.ok(api.post("/api/v1/analytics/funnel", {"steps": STEPS}))
    opened = ENGINES.opened
    for _ in range(3):
        api.ok(api.post("/api/v1/analytics/funnel", {"steps": STEPS, "by": "channel"}))
    assert ENGINES.opened == opened


def test_retention_referral_roi_targets_aarrr_equal_the_cli(api: Console) -> None:
    api.login("op")
    ws = workspace_of(api)
    retention = {"start_event": "signup", "return_event": "attend_class", "period": "week", "periods": 4}
    assert api.ok(api.post("/api/v1/analytics/retention", retention)) == cli(
        ws, "retention", "--start-event", "signup", "--return-event", "attend_class", "--period", "week",
        "--periods", "4",
    )  # fmt: skip
    referral = api.ok(api.post("/api/v1/analytics/referral", {"playbook": PLAYBOOK_ID, "top": 5}))
    assert referral == cli(ws, "referral", "--playbook", str(TEMPLATE), "--top", "5")
    assert referral["k_factor"] > 0
    roi = api.ok(api.post("/api/v1/analytics/roi", {"playbook": PLAYBOOK_ID, "attribution": "last"}))
    assert roi == cli(ws, "roi", "--playbook", str(TEMPLATE), "--attribution", "last")
    assert roi["channels"]
    targets = api.ok(api.post("/api/v1/analytics/targets", {"playbook": f"{PLAYBOOK_ID}@1"}))
    assert targets == cli(ws, "targets", "--playbook", str(TEMPLATE))
    aarrr = api.ok(api.post("/api/v1/analytics/aarrr", {"playbook": PLAYBOOK_ID, "by": "channel"}))
    assert aarrr == cli(ws, "aarrr", "--playbook", str(TEMPLATE), "--by", "channel")


def test_referral_tree_and_masking_for_viewers(api: Console) -> None:
    api.login("op")
    full = api.ok(api.post("/api/v1/analytics/referral", {"top": 3, "tree": True}))
    api.login("guest")
    masked = api.ok(api.post("/api/v1/analytics/referral", {"top": 3, "tree": True}))
    assert full["tree"]["roots"] and full["tree"]["nodes"] > 0
    for shown, hidden in zip(full["top_sharers"], masked["top_sharers"], strict=True):
        assert "****" in hidden["person"] and hidden["person"] != shown["person"]
        assert hidden["invitees"] == shown["invitees"]
    assert "****" in masked["tree"]["roots"][0]["person"]


def test_event_names(api: Console) -> None:
    api.login("guest")
    names = api.ok(api.get("/api/v1/analytics/events"))
    assert set(STEPS) <= set(names["events"])
    assert "paid_feed" in names["channels"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("funnel", {"steps": STEPS, "window": "soon"}, "body.window"),
        ("funnel", {"steps": STEPS, "where": ["pay:amount"]}, "body.where"),
        ("funnel", {"steps": STEPS, "where": ["9:amount>1"]}, "body.where"),
        ("funnel", {"steps": STEPS, "exclude": ["refund:3-2"]}, "body.exclude"),
        ("funnel", {"steps": STEPS, "order": "unordered", "exclude": ["x:1-2"]}, "body.exclude"),
        ("funnel", {"steps": STEPS, "order": "sideways"}, "body.order"),
        ("funnel", {"steps": []}, "body.steps"),
        ("funnel", {"steps": [" "]}, "body.steps"),
        ("funnel", {"steps": STEPS, "from": "yesterday"}, "body.from"),
        ("funnel", {"steps": STEPS, "from": "2024-03-05", "to": "2024-03-01"}, "body.to"),
        ("funnel", {"steps": STEPS, "tz": "Mars/Olympus"}, "body.tz"),
        ("funnel", {"steps": STEPS, "to": "9999-12-31"}, "body.to"),
        ("funnel", {"steps": STEPS, "window": "99999999999999d"}, "body.window"),
        ("targets", {"campaign": 2**40}, "body.campaign"),
        ("funnel", {"steps": STEPS, "top": 0}, "body.top"),
        ("funnel", {"steps": STEPS, "surprise": 1}, "body.surprise"),
        ("funnel/dropped", {"steps": STEPS, "dropped_at": 7}, "body.dropped_at"),
        ("retention", {"start_event": "signup", "return_event": "x", "periods": 0}, "body.periods"),
        ("roi", {}, "body.playbook"),
        ("roi", {"playbook": "nope"}, "body.playbook"),
        ("roi", {"playbook": "a@b@c"}, "body.playbook"),
        ("targets", {"campaign": 99}, "body.campaign"),
        ("aarrr", {"playbook": PLAYBOOK_ID, "by": "age"}, "body.by"),
    ],
)
def test_bad_input_is_422_naming_the_field(api: Console, path: str, body: dict[str, Any], field: str) -> None:
    api.login("op")
    response = api.post(f"/api/v1/analytics/{path}", body)
    assert response.status_code in (404, 422), response.text
    error = assert_error(response, response.status_code, response.json()["error"]["code"])
    assert error["field"] == field


def test_questions_need_a_login_and_the_csrf_token(api: Console) -> None:
    api.client.cookies.clear()
    assert_error(api.post("/api/v1/analytics/funnel", {"steps": STEPS}), 401, "not_logged_in")
    api.login("guest")
    assert_error(api.post("/api/v1/analytics/funnel", {"steps": STEPS}, csrf=False), 403, "csrf_missing")


def _audit_exports(api: Console) -> list[dict[str, Any]]:
    with api.services.database.session() as session:
        return [e.as_json() for e in list_audit(session=session, limit=100) if e.action == "export"]


def test_dropped_users_download_is_masked_for_viewers_and_audited(api: Console) -> None:
    body = {"steps": STEPS, "dropped_at": 4}
    api.login("op")
    response = api.post("/api/v1/analytics/funnel/dropped", body)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    expected = cli(workspace_of(api), "funnel", "--steps", ",".join(STEPS))
    reached, paid = expected["steps"][2]["users"], expected["steps"][3]["users"]
    assert len(rows) == reached - paid > 0
    assert {row["last_step"] for row in rows} == {"attend_class"}
    assert not any("****" in row["person_id"] for row in rows)

    api.login("guest")
    response = api.post("/api/v1/analytics/funnel/dropped", {**body, "format": "xlsx"})
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("person_id", "last_step", "last_step_at", "channel")
    assert len(values) - 1 == len(rows)
    assert all("****" in str(v[0]) for v in values[1:])

    exports = _audit_exports(api)
    by_actor = {e["actor"]: e for e in exports}
    assert by_actor["op"]["details"]["rows"] == len(rows)
    assert by_actor["op"]["details"]["masked"] is False
    assert by_actor["guest"]["details"] | {"format": "xlsx", "masked": True} == by_actor["guest"]["details"]
    assert by_actor["guest"]["target_id"] == "funnel-dropped"


def test_a_refused_download_writes_no_audit_entry(api: Console) -> None:
    api.login("op")
    before = len(_audit_exports(api))
    response = api.post("/api/v1/analytics/funnel/dropped", {"steps": STEPS, "dropped_at": 9})
    assert_error(response, 422, "invalid_input")
    assert len(_audit_exports(api)) == before


def test_the_drawn_tree_matches_the_reports(api: Console) -> None:
    from zoneinfo import ZoneInfo

    from sopflow.analytics.engines import open_engine
    from sopflow.analytics.referral.aggregate import ReferralSpec, compute_referral
    from sopflow.analytics.report.tree import top_of_tree
    from sopflow.analytics.timerange import TimeRange
    from sopflow.web.analytics.tree import tree_top

    engine = open_engine("duckdb", workspace=api.services.settings.workspace)
    result = compute_referral(engine, ReferralSpec(range=TimeRange(None, None, ZoneInfo("Asia/Shanghai"))))
    fast, slow = tree_top(result), top_of_tree(result.tree_json())

    def shape(node: dict[str, Any]) -> tuple[Any, ...]:
        kids = tuple(sorted(shape(kid) for kid in node["children"]))
        return (node["descendants"], node["invitees"], node["generation"], node["more"], kids)

    assert fast["nodes"] == slow["nodes"] > 0
    assert fast["more_roots"] == slow["more_roots"]
    assert sorted(shape(n) for n in fast["roots"]) == sorted(shape(n) for n in slow["roots"])
    by_person = {n["person"]: n["descendants"] for n in slow["roots"]}
    for root in fast["roots"]:
        if root["person"] in by_person:
            assert by_person[root["person"]] == root["descendants"]


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Console]:
    cli(tmp_path / "ws", "simulate", "--template", "community_fission", "--users", "200", "--seed", "9")
    yield from open_console(tmp_path)


def test_an_answer_is_reused_until_new_events_arrive(fresh: Console) -> None:
    from sopflow.store.api_keys import create_api_key

    fresh.login("guest")
    body = {"steps": ["signup", "pay"], "window": "30d"}
    before = fresh.ok(fresh.post("/api/v1/analytics/funnel", body))
    reused = ENGINES.reused
    assert fresh.ok(fresh.post("/api/v1/analytics/funnel", body)) == before
    assert ENGINES.reused == reused + 1

    with fresh.services.database.session() as session:
        key = create_api_key(session=session, name="tests").key
    events = [
        {"event": "signup", "user_id": "newcomer", "ts": "2024-03-10 09:00:00"},
        {"event": "pay", "user_id": "newcomer", "ts": "2024-03-11 09:00:00", "revenue": "99"},
    ]
    stored = fresh.client.post("/api/v1/events", json=events, headers={"Authorization": f"Bearer {key}"})
    assert stored.status_code == 200, stored.text
    after = fresh.ok(fresh.post("/api/v1/analytics/funnel", body))
    assert [s["users"] for s in after["steps"]] == [s["users"] + 1 for s in before["steps"]]


TEXT = st.text(alphabet=st.sampled_from("ab:-=<>!0123456789 .$_雷\x00'\""), max_size=12)
BODIES = st.fixed_dictionaries(
    {"steps": st.lists(st.one_of(st.sampled_from(STEPS), TEXT), min_size=1, max_size=4)},
    optional={
        "window": TEXT,
        "order": st.sampled_from(["ordered", "strict", "unordered"]),
        "entry": st.sampled_from(["any", "first"]),
        "where": st.lists(TEXT, max_size=2),
        "exclude": st.lists(TEXT, max_size=2),
        "by": st.one_of(st.none(), st.sampled_from(["channel", "campaign", "plan"]), TEXT),
        "trend": st.sampled_from(["day", "week"]),
        "from": TEXT,
        "to": TEXT,
        "tz": st.one_of(st.sampled_from(["UTC", "Asia/Shanghai"]), TEXT),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
def test_any_funnel_body_is_answered_or_refused_never_a_500(api: Console, body: dict[str, Any]) -> None:
    api.login("op")
    response = api.post("/api/v1/analytics/funnel", body)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert response.json()["error"]["field"].startswith("body")


RETENTION = st.fixed_dictionaries(
    {
        "start_event": st.one_of(st.sampled_from(STEPS), TEXT),
        "return_event": st.one_of(st.sampled_from(STEPS), TEXT),
    },
    optional={
        "period": st.sampled_from(["day", "week"]),
        "periods": st.integers(min_value=-1, max_value=500),
        "mode": st.sampled_from(["on", "on_or_after"]),
        "by": st.one_of(st.none(), st.sampled_from(["channel"]), TEXT),
        "from": TEXT,
        "tz": TEXT,
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=RETENTION)
def test_any_retention_body_is_answered_or_refused_never_a_500(api: Console, body: dict[str, Any]) -> None:
    api.login("guest")
    response = api.post("/api/v1/analytics/retention", body)
    assert response.status_code in (200, 422), response.text


def test_a_long_question_holds_up_neither_other_questions_nor_kept_answers(api: Console) -> None:
    from sopflow.i18n import current_language, set_language
    from sopflow.web.analytics import answers
    from sopflow.web.analytics.queries import FunnelQuery

    workspace = api.services.settings.workspace
    asked = FunnelQuery(steps=STEPS)
    kept = answers.funnel(workspace=workspace, query=asked)

    language = current_language()  # part of an answer's key; a new thread starts without it

    def in_thread(fn: Any) -> Any:
        found: list[Any] = []
        worker = threading.Thread(target=lambda: (set_language(language), found.append(fn())))
        worker.start()
        worker.join(timeout=60)
        assert found, "the call waited for the busy engine"
        return found[0]

    def other_engine() -> Any:
        with ENGINES.engine(workspace) as engine:
            return engine

    with ENGINES.engine(workspace) as busy:
        second = in_thread(other_engine)
        assert second is not busy
        with ENGINES.engine(workspace) as also_busy:  # every engine of this state now busy
            assert also_busy is second
            assert in_thread(lambda: answers.funnel(workspace=workspace, query=asked)) == kept

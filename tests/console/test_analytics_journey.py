"""The analytics journey in a real browser: log in, build a funnel, read its chart and table, download the
persons who dropped off (CSV for an operator, masked Excel for a viewer), and the other tabs."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from tests.console.browser import ConsoleServer, create_user, login, screenshot, sopflow

pytestmark = pytest.mark.xdist_group("console")

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "src" / "sopflow" / "playbook" / "templates" / "community_fission.yaml"
STEPS = "signup,join_group,attend_class,pay"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    workspace: Path = tmp_path_factory.mktemp("console-analytics")
    sopflow(
        "simulate", "--template", "community_fission", "--users", "800", "--seed", "5", workspace=workspace
    )
    sopflow("playbook", "publish", str(TEMPLATE), "--by", "ada", workspace=workspace)
    create_user(workspace, "ada", "operator")
    create_user(workspace, "vic", "viewer")
    running = ConsoleServer.start(workspace)
    yield running
    running.stop()


def cli_funnel(server: ConsoleServer) -> dict[str, Any]:
    data = json.loads(sopflow("funnel", "--steps", STEPS, "--json", workspace=server.workspace))
    assert isinstance(data, dict)
    return data


def build_funnel(page: Any, server: ConsoleServer) -> None:
    page.goto(server.url + "/analytics")
    steps = page.get_by_test_id("funnel-steps")
    steps.fill("signup,join_group")
    # Each change makes a round trip to the server: wait for it before the next, as a person would.
    expect(steps).to_have_value("signup,join_group")
    page.get_by_test_id("event-attend_class").click()  # a step picked from the store's event names
    expect(steps).to_have_value("signup,join_group,attend_class")
    page.get_by_test_id("event-pay").click()
    expect(steps).to_have_value(STEPS)
    page.get_by_test_id("funnel-window").fill("7d")
    page.get_by_test_id("funnel-run").click()
    page.get_by_test_id("funnel-chart").wait_for()


def test_an_operator_builds_a_funnel_and_downloads_who_dropped_off(server: ConsoleServer, page: Any) -> None:
    expected = cli_funnel(server)
    login(page, server, "ada")
    build_funnel(page, server)
    for step in expected["steps"]:
        shown = page.get_by_test_id(f"funnel-step-{step['index']}").inner_text()
        assert shown == f"{step['users']:,}"
    first = f"{expected['steps'][0]['users']:,}"
    assert first in page.get_by_test_id("funnel-denominator").inner_text()
    table = page.get_by_test_id("funnel-table")
    assert table.get_by_role("cell", name=f"{expected['steps'][3]['users']:,}" if expected["steps"][3]["users"] >= 1000 else str(expected["steps"][3]["users"]), exact=True).count() >= 1  # fmt: skip
    screenshot(page, "analytics-funnel")

    with page.expect_download() as info:
        page.get_by_test_id("dropped-csv").click()
    download = info.value
    path = Path(download.path())
    assert download.suggested_filename == "funnel-dropped-step4.csv"
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert len(rows) == expected["steps"][2]["users"] - expected["steps"][3]["users"] > 0
    assert {row["last_step"] for row in rows} == {"attend_class"}
    assert not any("****" in row["person_id"] for row in rows)


def test_a_viewer_gets_the_dropped_list_masked(server: ConsoleServer, page: Any) -> None:
    expected = cli_funnel(server)
    login(page, server, "vic")
    build_funnel(page, server)
    page.get_by_test_id("dropped-step").click()
    page.get_by_role("option", name="3", exact=True).click()
    with page.expect_download() as info:
        page.get_by_test_id("dropped-xlsx").click()
    download = info.value
    assert download.suggested_filename == "funnel-dropped-step3.xlsx"
    sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("person_id", "last_step", "last_step_at", "channel")
    assert len(values) - 1 == expected["steps"][1]["users"] - expected["steps"][2]["users"]
    assert all("****" in str(row[0]) for row in values[1:])
    audit = sopflow("audit", "--json", workspace=server.workspace)
    exports = [e for e in json.loads(audit)["entries"] if e["action"] == "export" and e["actor"] == "vic"]
    assert exports and exports[0]["target_id"] == "funnel-dropped-step3"


def test_a_bad_window_is_a_notice_naming_the_field(server: ConsoleServer, page: Any) -> None:
    login(page, server, "ada")
    page.goto(server.url + "/analytics")
    page.get_by_test_id("funnel-window").fill("soon")
    page.get_by_test_id("funnel-run").click()
    page.get_by_text("window: 'soon' is not a window").wait_for()
    assert page.get_by_test_id("funnel-chart").count() == 0


def test_retention_referral_and_the_plan_tabs_in_chinese(server: ConsoleServer, page: Any) -> None:
    login(page, server, "ada", lang="zh_CN")
    page.goto(server.url + "/analytics")
    page.get_by_test_id("tab-retention").click()
    page.get_by_test_id("retention-run").click()
    page.get_by_test_id("retention-heatmap").wait_for()
    screenshot(page, "analytics-retention")
    page.get_by_test_id("tab-referral").click()
    page.get_by_test_id("referral-run").click()
    k = json.loads(sopflow("referral", "--json", workspace=server.workspace))["k_factor"]
    page.get_by_test_id("referral-k").filter(has_text=f"{k:.3f}").wait_for()
    page.get_by_test_id("referral-tree").wait_for()
    screenshot(page, "analytics-referral")
    page.get_by_test_id("tab-plan").click()
    page.get_by_test_id("plan-run").click()
    page.get_by_test_id("roi-chart").wait_for()
    page.get_by_test_id("targets-table").wait_for()
    page.get_by_text("各渠道投产比（CNY）").wait_for()
    screenshot(page, "analytics-plan")

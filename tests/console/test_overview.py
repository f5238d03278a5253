"""The overview page in a real browser: running campaigns, today's tasks, targets against the plan, alerts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.console.browser import ConsoleServer, create_user, login, screenshot
from tests.console.workspaces import TEMPLATE, running_campaign

from sopflow.playbook.catalog import write_template
from sopflow.playbook.loader import load_playbook

pytestmark = pytest.mark.xdist_group("console")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    workspace = tmp_path_factory.mktemp("console-overview")
    create_user(workspace, "ada", "admin")
    running_campaign(workspace, name="Spring fission")
    running = ConsoleServer.start(workspace)
    yield running
    running.stop()


def test_the_overview_shows_the_running_campaign_and_its_targets(server: ConsoleServer, page: Any) -> None:
    targets = load_playbook(
        write_template(name=TEMPLATE, output=server.workspace / "t.yaml", force=True)
    ).targets
    login(page, server, "ada")
    assert page.get_by_test_id("overview-campaigns").inner_text() == "1"
    card = page.get_by_test_id("campaign-card-1")
    card.get_by_text("Spring fission").wait_for()
    card.get_by_text("Execution rate").wait_for()
    # The numbers from the event store arrive after the page: the stages chart and a row per target.
    card.get_by_text("Users per stage against the plan").wait_for()
    assert card.locator("tbody tr").count() == len(targets)
    alerts = page.get_by_test_id("overview-alerts")
    alerts.get_by_text("Alerts").wait_for()
    screenshot(page, "overview")


def test_the_overview_speaks_chinese_by_default(server: ConsoleServer, page: Any) -> None:
    login(page, server, "ada", lang="zh_CN")
    page.get_by_text("进行中的活动").first.wait_for()
    page.get_by_text("今日任务").first.wait_for()


def test_the_campaign_report_is_made_in_the_background_and_downloaded(
    server: ConsoleServer, page: Any
) -> None:
    login(page, server, "ada")
    page.goto(server.url + "/campaigns/1")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_test_id("campaign-report").click()
    download = info.value
    assert download.suggested_filename == "report-campaign-1.html"
    assert "<html" in Path(download.path()).read_text("utf-8")
    page.get_by_test_id("campaign-report-note").filter(has_text="the report is ready").wait_for()

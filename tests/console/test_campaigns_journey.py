"""The Campaigns journey in a real browser: start a campaign from an approved version (the picker offers no
unapproved one), see its board and calendar, mark a task done with a note and watch its state and the
execution rate change; today's tasks; a viewer sees no write buttons and the API refuses their writes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from tests.console.browser import ConsoleServer, create_user, login, screenshot, sopflow

pytestmark = pytest.mark.xdist_group("console")

SHANGHAI = ZoneInfo("Asia/Shanghai")
# s1 is due at midnight of the start day, so starting today makes it due (and today's) at any hour.
PLAYBOOK = """\
meta: {id: course, name: 训练营, version: "1.0", owner: 运营}
brief: {background: 背景, purpose: 宗旨, goals: [拉新]}
team:
  roles: [{id: ops, name: 运营}]
channels:
  - {id: moments, name: 朋友圈, kind: moments, posters: 10, reach_per_poster: 100, entry_rate: 0.1, cost: 200}
funnel:
  stages:
    - {id: join, name: 进群, event: join_group, aarrr: acquisition}
    - {id: pay, name: 付费, event: pay, aarrr: revenue, expected_rate: 0.1, value: 99}
timeline:
  span: {start: "D-1 09:00", end: "D+1 21:00"}
  phases:
    - id: launch
      name: 启动
      steps:
        - {id: s1, name: 发圈, at: "D0 00:00", owner: ops, channel: moments, action: 发朋友圈}
        - {id: s2, name: 提醒, at: "D+1 20:00", owner: ops, channel: moments, action: 再发一条}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    workspace: Path = tmp_path_factory.mktemp("console-campaigns")
    first = workspace / "course.yaml"
    first.write_text(PLAYBOOK, encoding="utf-8")
    sopflow("playbook", "publish", str(first), "--note", "first", workspace=workspace)
    sopflow("playbook", "approve", "course", "1", "--by", "张经理", workspace=workspace)
    second = workspace / "course2.yaml"
    second.write_text(PLAYBOOK.replace("再发一条", "再发两条"), encoding="utf-8")
    sopflow("playbook", "publish", str(second), "--note", "draft", workspace=workspace)  # not approved
    sopflow("staff", "add", "李雷", "--role", "ops", workspace=workspace)
    sopflow("staff", "add", "韩梅梅", "--role", "ops", workspace=workspace)
    create_user(workspace, "olly", "operator")
    create_user(workspace, "vic", "viewer")
    running = ConsoleServer.start(workspace)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api(server: ConsoleServer) -> Iterator[httpx.Client]:
    """The operator's API client (one login for the module)."""
    client = server.api("olly")
    yield client
    client.close()


def _rate(api: httpx.Client, campaign_id: int) -> str:
    """The execution rate as the page writes it, from the API's status."""
    value = api.get(f"/api/v1/campaigns/{campaign_id}/status").json()["execution_rate"]["value"]
    return "—" if value is None else f"{value * 100:.1f}%"


def _first_task(api: httpx.Client, campaign_id: int) -> dict[str, Any]:
    tasks = api.get("/api/v1/tasks", params={"campaign": campaign_id, "all": "true"}).json()["tasks"]
    return dict(next(t for t in tasks if t["step"] == "s1"))


def test_start_a_campaign_and_mark_a_task_done(server: ConsoleServer, api: httpx.Client, page: Any) -> None:
    login(page, server, "olly")
    page.goto(server.url + "/campaigns")
    page.get_by_test_id("start-campaign").click()
    page.wait_for_url(server.url + "/campaigns/new")
    page.get_by_test_id("start-version").click()
    options = page.get_by_role("option")
    options.first.wait_for()
    labels = options.all_inner_texts()
    assert any(label.startswith("course@1") for label in labels), labels
    assert not any("course@2" in label for label in labels), labels  # v2 is not approved
    page.keyboard.press("Escape")
    today = datetime.now(SHANGHAI).strftime("%Y-%m-%d")
    page.get_by_test_id("start-at").fill(f"{today} 00:00")
    page.get_by_test_id("start-name").fill("十二月营")
    page.get_by_test_id("assign-ops").click()
    page.get_by_role("option", name="韩梅梅").click()  # not the role's first person, 李雷
    page.wait_for_timeout(400)  # the options menu fades out
    screenshot(page, "campaigns-start-form")
    page.get_by_test_id("start-submit").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+$"))
    campaign_id = int(page.url.rsplit("/", 1)[1])
    shown = api.get(f"/api/v1/campaigns/{campaign_id}").json()["campaign"]
    assert shown["name"] == "十二月营" and shown["created_by"] == "olly" and shown["version"] == 1
    assert shown["assignments"] == {"ops": "韩梅梅"}
    task = _first_task(api, campaign_id)
    state = page.get_by_test_id(f"task-{task['id']}-state")
    state.wait_for()
    before = _rate(api, campaign_id)
    assert before == "0.0%"  # s1 due (0 of 1 executed), s2 tomorrow
    page.get_by_test_id("execution-rate").filter(has_text=before).wait_for()
    page.get_by_test_id("board-column-韩梅梅").wait_for()
    screenshot(page, "campaigns-board")

    page.get_by_test_id(f"task-{task['id']}-done").click()
    page.get_by_test_id("done-note").fill("发了朋友圈，配图 3 张")
    page.get_by_test_id("done-save").click()
    page.get_by_test_id(f"task-{task['id']}-state").filter(has_text="done").wait_for()
    page.get_by_test_id(f"task-{task['id']}-note").filter(has_text="配图 3 张").wait_for()
    after = _rate(api, campaign_id)
    assert after == "100.0%"
    page.get_by_test_id("execution-rate").filter(has_text=after).wait_for()
    screenshot(page, "campaigns-task-done")
    done = _first_task(api, campaign_id)
    assert done["state"] == "done" and done["note"] == "发了朋友圈，配图 3 张"

    page.get_by_test_id("tab-calendar").click()
    page.get_by_test_id(f"calendar-task-{task['id']}").wait_for()
    page.wait_for_timeout(500)  # the tab panel slides in
    screenshot(page, "campaigns-calendar")
    page.get_by_test_id("tab-people").click()
    page.get_by_role("cell", name="韩梅梅").wait_for()
    # Touches and conversions are counted on demand from the event store (none yet: nobody touched).
    page.get_by_test_id("tab-touches").click()
    page.get_by_test_id("count-touches").click()
    page.get_by_test_id("touches-table").get_by_role("cell", name="发圈").wait_for()
    screenshot(page, "campaigns-touches")

    page.goto(server.url + "/campaigns/tasks")
    page.get_by_test_id(f"task-{task['id']}").wait_for()
    screenshot(page, "campaigns-today")
    page.goto(server.url + "/campaigns")
    page.get_by_role("cell", name="十二月营").wait_for()
    assert page.get_by_role("cell", name="100.0% (1/1)").count() == 1
    page.get_by_role("cell", name="十二月营").click()
    page.wait_for_url(server.url + f"/campaigns/{campaign_id}")


def test_a_viewer_reads_but_cannot_change(server: ConsoleServer, api: httpx.Client, page: Any) -> None:
    today = datetime.now(SHANGHAI).strftime("%Y-%m-%d")
    started = api.post(
        "/api/v1/campaigns", json={"playbook": "course", "start": f"{today} 00:00", "name": "看看"}
    )
    assert started.status_code == 201, started.text
    campaign_id = started.json()["campaign"]["id"]
    task = _first_task(api, campaign_id)
    login(page, server, "vic")
    page.goto(server.url + "/campaigns")
    page.get_by_role("cell", name="看看").wait_for()
    assert page.get_by_test_id("start-campaign").count() == 0
    page.goto(server.url + f"/campaigns/{campaign_id}")
    page.get_by_test_id(f"task-{task['id']}-state").wait_for()
    for testid in (f"task-{task['id']}-done", f"task-{task['id']}-skip", "campaign-pause", "campaign-cancel"):
        assert page.get_by_test_id(testid).count() == 0, testid
    screenshot(page, "campaigns-viewer")
    page.goto(server.url + "/campaigns/new")
    page.get_by_text("your role may not start campaigns").wait_for()
    page.goto(server.url + "/campaigns/99999999999999999999")
    page.get_by_text("no campaign with id 99999999999999999999").wait_for()
    viewer = server.api("vic")
    try:
        refused = viewer.post(f"/api/v1/tasks/{task['id']}/done", json={"note": "x"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        assert viewer.post(f"/api/v1/campaigns/{campaign_id}/pause").status_code == 403
    finally:
        viewer.close()
    assert _first_task(api, campaign_id)["state"] != "done"

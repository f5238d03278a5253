"""The Settings journey in a real browser: an admin adds a member (the generated password works once shown),
sends a test message to an endpoint (a robot server on 127.0.0.1 receives it), sets the workspace timezone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from tests.channels.robots import RobotServer
from tests.console.browser import ConsoleServer, create_user, login, screenshot

pytestmark = pytest.mark.xdist_group("console")


@pytest.fixture(scope="module")
def robots() -> Iterator[RobotServer]:
    server = RobotServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    workspace: Path = tmp_path_factory.mktemp("console-settings")
    create_user(workspace, "ada", "admin")
    create_user(workspace, "vic", "viewer")
    running = ConsoleServer.start(workspace)
    yield running
    running.stop()


def test_an_admin_adds_a_member_and_the_password_works(server: ConsoleServer, page: Any) -> None:
    login(page, server, "ada")
    page.goto(server.url + "/settings")
    page.get_by_test_id("member-name").fill("mei")
    page.get_by_test_id("member-display").fill("韩梅梅")
    page.get_by_test_id("member-add").click()
    password = page.get_by_test_id("member-password").inner_text().strip()
    assert len(password) >= 12
    screenshot(page, "settings-member-added")
    page.get_by_test_id("member-dialog-close").click()
    page.get_by_test_id("member-mei").wait_for()
    with closing(server.api("mei", password)) as api:
        me = api.get("/api/v1/auth/me")
        assert me.status_code == 200, me.text
    with closing(server.api("ada")) as api:
        [mei] = [u for u in api.get("/api/v1/users").json()["users"] if u["name"] == "mei"]
    assert (mei["role"], mei["display_name"]) == ("operator", "韩梅梅")


def test_send_a_test_message_to_an_endpoint(server: ConsoleServer, robots: RobotServer, page: Any) -> None:
    with closing(server.api("ada")) as api:
        answer = api.post(
            "/api/v1/endpoints", json={"name": "运营群", "kind": "wecom_robot", "url": robots.wecom_url("K1")}
        )
        assert answer.status_code == 201, answer.text
    login(page, server, "ada")
    page.goto(server.url + "/settings")
    page.get_by_test_id("tab-endpoints").click()
    row = page.get_by_test_id("endpoint-运营群")
    row.wait_for()
    assert "K1" not in row.inner_text()  # the key in the URL is masked
    page.get_by_test_id("endpoint-test-运营群").click()
    page.get_by_test_id("endpoint-test-result").filter(has_text="delivered").wait_for()
    screenshot(page, "settings-endpoint-test")
    [body] = robots.bodies("wecom")
    assert "运营群" in str(body)

    # A disabled endpoint offers no test; enabled again, it does.
    page.get_by_test_id("endpoint-disable-运营群").click()
    page.get_by_test_id("endpoint-enable-运营群").wait_for()
    assert page.get_by_test_id("endpoint-test-运营群").count() == 0
    page.get_by_test_id("endpoint-enable-运营群").click()
    page.get_by_test_id("endpoint-test-运营群").wait_for()
    with closing(server.api("ada")) as api:
        actions = [e["action"] for e in api.get("/api/v1/audit").json()["entries"]]
    assert {"endpoint.test", "endpoint.disable", "endpoint.update"} <= set(actions)


def test_a_viewer_reads_settings_and_changes_nothing(server: ConsoleServer, page: Any) -> None:
    login(page, server, "vic", lang="zh_CN")  # and in Chinese, the console's default
    page.goto(server.url + "/settings")
    page.get_by_text("团队成员").first.wait_for()
    page.get_by_test_id("member-ada").wait_for()
    assert page.get_by_test_id("member-add").count() == 0
    assert page.get_by_test_id("member-disable-ada").count() == 0
    page.get_by_test_id("tab-endpoints").click()
    assert page.get_by_test_id("endpoint-add").count() == 0
    page.get_by_test_id("tab-timezone").click()
    assert page.get_by_test_id("timezone-current").inner_text().strip() == "Asia/Shanghai"
    assert page.get_by_test_id("timezone-save").count() == 0
    page.get_by_text("工作区时区").first.wait_for()
    screenshot(page, "settings-viewer-zh")

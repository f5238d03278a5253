"""The login journey in a real browser: a wrong password, the language switch, logging out, session checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.console.browser import ConsoleServer, create_user, login, screenshot

pytestmark = pytest.mark.xdist_group("console")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    workspace: Path = tmp_path_factory.mktemp("console-login")
    create_user(workspace, "ada", "admin")
    create_user(workspace, "vic", "viewer")
    running = ConsoleServer.start(workspace)
    yield running
    running.stop()


def test_a_page_without_a_session_sends_the_browser_to_the_login_page(server: ConsoleServer) -> None:
    answer = httpx.get(server.url + "/campaigns", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/campaigns"


def test_a_wrong_password_shows_a_notice_and_the_right_one_logs_in(server: ConsoleServer, page: Any) -> None:
    page.goto(server.url + "/login?next=/audit")
    page.get_by_test_id("login-name").fill("ada")
    page.get_by_test_id("login-password").fill("not the password")
    page.get_by_test_id("login-submit").click()
    error = page.get_by_test_id("login-error")
    error.filter(has_text="用户名或密码错误").wait_for()
    screenshot(page, "login-wrong-password")
    page.get_by_test_id("login-password").fill("console test password 1")
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(server.url + "/audit")
    # The console speaks Chinese by default; the log shows this login.
    page.get_by_text("审计日志").first.wait_for()
    assert page.get_by_role("cell", name="login").count() >= 1


def test_the_language_switch_holds_across_pages(server: ConsoleServer, page: Any) -> None:
    login(page, server, "ada", lang="zh_CN")
    page.get_by_text("总览").first.wait_for()
    page.get_by_test_id("lang-en").click()
    page.get_by_role("link", name="Overview").wait_for()
    page.goto(server.url + "/audit")
    page.get_by_role("link", name="Audit log").wait_for()
    # Quasar's own texts follow too (the table's pagination).
    page.get_by_text("Records per page").wait_for()
    screenshot(page, "language-english")
    page.get_by_test_id("lang-zh_CN").click()
    page.get_by_role("link", name="审计日志").wait_for()
    page.get_by_text("每页的行数").wait_for()


def test_a_viewer_sees_no_audit_link_and_the_page_refuses(server: ConsoleServer, page: Any) -> None:
    login(page, server, "vic")
    assert page.get_by_role("link", name="Audit log").count() == 0
    page.goto(server.url + "/audit")
    page.get_by_text("the audit log is for admins").wait_for()


def test_logging_out_ends_the_session(server: ConsoleServer, page: Any) -> None:
    login(page, server, "ada")
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    page.wait_for_url(server.url + "/login")
    page.goto(server.url + "/")
    page.wait_for_url(server.url + "/login?next=/")

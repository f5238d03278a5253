"""Shared parts of the console API tests: an app with three accounts (admin, operator, viewer), logging in,
the stable error shape, and a small valid playbook."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's note about the httpx2 fork
    from fastapi.testclient import TestClient

from tests.accounts.conftest import FAST

from sopflow.accounts.users import create_user
from sopflow.settings import load_settings
from sopflow.web.app import create_app
from sopflow.web.auth import CSRF_HEADER
from sopflow.web.services import Services

PASSWORD = "correct horse 1"
ACCOUNTS = (("boss", "admin"), ("op", "operator"), ("guest", "viewer"))

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
        - {id: s1, name: 发圈, at: "D0 10:00", owner: ops, channel: moments, action: 发朋友圈}
        - {id: s2, name: 提醒, at: "D0 20:00", owner: ops, channel: moments, action: 再发一条}
"""


class Console:
    """A test client of one app, logged in as one account at a time (the CSRF token of the latest login)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    @property
    def services(self) -> Services:
        services = self.client.app.state.services  # type: ignore[attr-defined]
        assert isinstance(services, Services)
        return services

    def login(self, name: str) -> Console:
        response = self.client.post("/api/v1/auth/login", json={"name": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        self.csrf = str(response.json()["csrf_token"])
        return self

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params)

    def post(self, path: str, body: Any = None, *, csrf: bool = True) -> httpx.Response:
        headers = {CSRF_HEADER: self.csrf} if csrf else {}
        return self.client.post(path, json=body, headers=headers)

    def patch(self, path: str, body: Any, *, csrf: bool = True) -> httpx.Response:
        headers = {CSRF_HEADER: self.csrf} if csrf else {}
        return self.client.patch(path, json=body, headers=headers)

    def ok(self, response: httpx.Response, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.text
        body = response.json()
        assert isinstance(body, dict)
        return body


def open_console(tmp_path: Path, **overrides: Any) -> Iterator[Console]:
    settings = load_settings(environ={}, home=tmp_path / "ws", **overrides)
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    with client:
        console = Console(client)
        with console.services.database.session() as session:
            for name, role in ACCOUNTS:
                create_user(
                    session=session, name=name, role=role, password=PASSWORD, actor="setup", hasher=FAST
                )
        yield console


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    """The app on the workspace's own SQLite database."""
    yield from open_console(tmp_path)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The stable shape ``{"error": {"code", "message", "field"?}}`` (``problems`` for an invalid playbook)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"]) <= {"code", "message", "field", "problems"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return dict(body["error"])

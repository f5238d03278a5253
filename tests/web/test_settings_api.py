"""The console's Settings API: delivery endpoints (secrets never returned; a test message through the real
adapter to a robot server on 127.0.0.1) and the workspace timezone (used by console imports); roles, CSRF and
the audit log for each write."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.channels.robots import RobotServer

from sopflow.accounts.audit import list_audit
from sopflow.web.auth import CSRF_HEADER
from sopflow.web.background.jobs import job_runner

from .console_api import Console, assert_error, open_console
from .helpers import read_events


@pytest.fixture
def console(tmp_path: Path, database_url: str) -> Iterator[Console]:
    """The app on SQLite and on a real PostgreSQL server (the settings live in the app database)."""
    yield from open_console(tmp_path, database_url=database_url)


@pytest.fixture
def robots() -> Iterator[RobotServer]:
    server = RobotServer()
    yield server
    server.stop()


def audit(c: Console) -> list[tuple[str, str, str, dict[str, Any]]]:
    with c.services.database.session() as session:
        return [(e.actor, e.action, e.target_id, e.details) for e in list_audit(session=session, limit=50)]


def put(c: Console, path: str, body: Any, *, csrf: bool = True) -> Any:
    return c.client.put(path, json=body, headers={CSRF_HEADER: c.csrf} if csrf else {})


def test_endpoints_create_list_test_update_disable(console: Console, robots: RobotServer) -> None:
    c = console.login("boss")
    url = robots.wecom_url("KEY123")
    created = c.ok(c.post("/api/v1/endpoints", {"name": "运营群", "kind": "wecom_robot", "url": url}), 201)
    assert created["active"] and "KEY123" not in json.dumps(created)
    feishu = robots.feishu_url("TOKEN9", "SIGNSECRET")
    c.ok(
        c.post(
            "/api/v1/endpoints",
            {"name": "飞书", "kind": "feishu_bot", "url": feishu, "secret": "SIGNSECRET"},
        ),
        201,
    )
    listed = c.ok(c.get("/api/v1/endpoints"))
    assert [e["name"] for e in listed["endpoints"]] == sorted(["运营群", "飞书"])
    assert "SIGNSECRET" not in json.dumps(listed) and "TOKEN9" not in json.dumps(listed)
    assert {e["name"]: e["has_secret"] for e in listed["endpoints"]} == {"运营群": False, "飞书": True}

    c.login("op")  # operators may send a test, not change endpoints
    result = c.ok(c.post("/api/v1/endpoints/运营群/test", {}))
    assert result["ok"] is True and result["endpoint"] == "运营群"
    [body] = robots.bodies("wecom")
    assert "运营群" in json.dumps(body, ensure_ascii=False)
    assert c.ok(c.post("/api/v1/endpoints/飞书/test", {}))["ok"] is True  # signed with the stored secret
    assert len(robots.bodies("feishu")) == 1
    assert_error(c.patch("/api/v1/endpoints/运营群", {"url": url}), 403, "forbidden")
    assert_error(c.post("/api/v1/endpoints/运营群/disable"), 403, "forbidden")

    c.login("boss")  # a key the robot does not know: the receiver's refusal comes back, as 502
    c.ok(c.patch("/api/v1/endpoints/运营群", {"url": robots.wecom_url("KEY123").replace("KEY123", "WRONG")}))
    error = assert_error(c.post("/api/v1/endpoints/运营群/test", {}), 502, "endpoint_refused")
    assert "93000" in error["message"] or "invalid webhook" in error["message"]
    assert len(robots.bodies("wecom")) == 1

    bad = assert_error(c.patch("/api/v1/endpoints/运营群", {"url": "ftp://x"}), 422, "invalid_endpoint")
    assert "url" in bad["message"]
    disabled = c.ok(c.post("/api/v1/endpoints/运营群/disable"))
    assert disabled["active"] is False
    assert c.ok(c.patch("/api/v1/endpoints/运营群", {"active": True}))["active"] is True
    assert_error(c.post("/api/v1/endpoints/nope/test", {}), 404, "unknown_endpoint")

    actions = [(actor, action, target) for actor, action, target, _d in audit(c)]
    for expected in (
        ("boss", "endpoint.add", "运营群"),
        ("op", "endpoint.test", "运营群"),
        ("boss", "endpoint.update", "运营群"),
        ("boss", "endpoint.disable", "运营群"),
    ):
        assert expected in actions
    refused = [d for _a, action, _t, d in audit(c) if action == "endpoint.test" and d.get("ok") is False]
    assert len(refused) == 1


def test_endpoint_writes_by_role(console: Console, robots: RobotServer) -> None:
    body = {"name": "群", "kind": "wecom_robot", "url": robots.wecom_url("K")}
    c = console.login("op")
    assert_error(c.post("/api/v1/endpoints", body), 403, "forbidden")
    c.login("guest")
    assert_error(c.post("/api/v1/endpoints", body), 403, "forbidden")
    c.login("boss")
    assert_error(c.post("/api/v1/endpoints", body, csrf=False), 403, "csrf_missing")
    assert_error(c.post("/api/v1/endpoints", {**body, "kind": "pigeon"}), 422, "invalid_endpoint")
    assert c.ok(c.get("/api/v1/endpoints"))["endpoints"] == []
    c.ok(c.post("/api/v1/endpoints", body), 201)
    assert_error(c.post("/api/v1/endpoints", body), 422, "duplicate_name")
    c.login("guest")
    assert_error(c.post("/api/v1/endpoints/群/test", {}), 403, "forbidden")
    assert robots.bodies("wecom") == []


def test_workspace_timezone(console: Console) -> None:
    c = console.login("guest")
    assert c.ok(c.get("/api/v1/settings/timezone")) == {
        "timezone": "Asia/Shanghai",
        "default": "Asia/Shanghai",
    }
    assert_error(put(c, "/api/v1/settings/timezone", {"timezone": "UTC"}), 403, "forbidden")
    c.login("op")
    assert_error(put(c, "/api/v1/settings/timezone", {"timezone": "UTC"}), 403, "forbidden")
    c.login("boss")
    assert_error(put(c, "/api/v1/settings/timezone", {"timezone": "UTC"}, csrf=False), 403, "csrf_missing")
    for bad in ("Mars/Olympus", "America", "../etc/passwd"):
        error = assert_error(put(c, "/api/v1/settings/timezone", {"timezone": bad}), 422, "invalid_timezone")
        assert "timezone" in error["message"]
    assert c.ok(c.get("/api/v1/settings/timezone"))["timezone"] == "Asia/Shanghai"
    assert (
        c.ok(put(c, "/api/v1/settings/timezone", {"timezone": "Europe/Berlin"}))["timezone"]
        == "Europe/Berlin"
    )
    assert (
        "boss",
        "workspace.setting",
        "workspace.timezone",
        {"before": "Asia/Shanghai", "after": "Europe/Berlin"},
    ) in audit(c)

    # A console import reads naive times in the workspace timezone (Berlin is UTC+1 in March).
    c.login("op")
    data = b"user_id,event,ts\nu1,signup,2025-03-05 09:00:00\n"
    preview = c.client.post(
        "/api/v1/event-uploads", files={"file": ("a.csv", data)}, headers={CSRF_HEADER: c.csrf}
    )
    job = c.ok(c.post(f"/api/v1/event-uploads/{c.ok(preview, 201)['upload']}/import", {}), 202)
    done = job_runner().wait(job["id"], timeout=60)
    assert done.state == "done" and done.result and done.result["timezone"] == "Europe/Berlin"
    [event] = read_events(c.services.settings.workspace)
    assert event["ts"] == datetime(2025, 3, 5, 8, 0, tzinfo=UTC)

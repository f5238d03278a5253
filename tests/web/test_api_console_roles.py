"""Role and CSRF checks of every write endpoint of the console API: a viewer gets 403 ``forbidden``, a
request without the CSRF header 403 ``csrf_missing``, one without a session 401; and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest

from .console_api import PLAYBOOK, Console, assert_error, console

__all__ = ["console"]

# Every write endpoint, with a body it would accept (ids 1: the first playbook, campaign and task).
WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/api/v1/playbooks", {"yaml": PLAYBOOK.replace("训练营", "新营"), "note": "v2"}),
    ("POST", "/api/v1/playbooks/course/versions/1/approve", None),
    ("POST", "/api/v1/staff", {"name": "韩梅梅", "role": "ops"}),
    ("PATCH", "/api/v1/staff/李雷", {"role": "sales"}),
    ("POST", "/api/v1/campaigns", {"playbook": "course", "start": "now"}),
    ("POST", "/api/v1/campaigns/1/pause", None),
    ("POST", "/api/v1/campaigns/1/resume", None),
    ("POST", "/api/v1/campaigns/1/cancel", {"why": "x"}),
    ("POST", "/api/v1/tasks/1/done", {"note": "x"}),
    ("POST", "/api/v1/tasks/1/skip", {"why": "x"}),
    ("POST", "/api/v1/tasks/1/confirm", {"arrived": True}),
]
IDS = [f"{method} {path}" for method, path, _body in WRITES]


def _send(c: Console, method: str, path: str, body: dict[str, Any] | None, *, csrf: bool = True) -> Any:
    if method == "PATCH":
        return c.patch(path, body, csrf=csrf)
    return c.post(path, body, csrf=csrf)


def _snapshot(c: Console) -> list[Any]:
    """Everything the write endpoints could change, as the API shows it."""
    return [
        c.ok(c.get("/api/v1/playbooks/course/versions")),
        c.ok(c.get("/api/v1/staff")),
        c.ok(c.get("/api/v1/campaigns")),
        c.ok(c.get("/api/v1/tasks", all="true")),
    ]


@pytest.fixture
def ready(console: Console) -> Console:
    """A published (unapproved) playbook, one person, and a running campaign of an approved version."""
    c = console.login("op")
    c.ok(c.post("/api/v1/playbooks", {"yaml": PLAYBOOK}), 201)
    c.ok(c.post("/api/v1/staff", {"name": "李雷", "role": "ops", "email": "lei@example.com"}), 201)
    c.login("boss")
    c.ok(c.post("/api/v1/playbooks/course/versions/1/approve"))
    c.login("op")
    c.ok(c.post("/api/v1/campaigns", {"playbook": "course", "start": "2099-01-01 09:00"}), 201)
    c.ok(c.post("/api/v1/playbooks", {"yaml": PLAYBOOK.replace('"1.0"', '"1.1"')}), 201)
    return c


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=IDS)
def test_a_viewer_may_not_write(ready: Console, method: str, path: str, body: dict[str, Any] | None) -> None:
    c = ready
    before = _snapshot(c)  # as the operator: a viewer sees contact details masked
    c.login("guest")
    error = assert_error(_send(c, method, path, body), 403, "forbidden")
    assert "viewer" in error["message"]
    c.login("op")
    assert _snapshot(c) == before


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=IDS)
def test_a_write_without_csrf_is_refused(
    ready: Console, method: str, path: str, body: dict[str, Any] | None
) -> None:
    c = ready.login("boss")
    before = _snapshot(c)
    assert_error(_send(c, method, path, body, csrf=False), 403, "csrf_missing")
    c.client.cookies.clear()
    assert_error(_send(c, method, path, body), 401, "not_logged_in")
    c.login("boss")
    assert _snapshot(c) == before


def test_approving_is_for_admins_only(ready: Console) -> None:
    c = ready
    error = assert_error(c.post("/api/v1/playbooks/course/versions/2/approve"), 403, "forbidden")
    assert "operator" in error["message"]
    assert [v["approved"] for v in c.ok(c.get("/api/v1/playbooks/course/versions"))["versions"]] == [
        True,
        False,
    ]
    c.login("boss")
    assert c.ok(c.post("/api/v1/playbooks/course/versions/2/approve"))["version"]["approved_by"] == "boss"


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=IDS)
def test_an_operator_may_write_except_approve(
    ready: Console, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = _send(ready, method, path, body)
    if path.endswith("/approve"):
        assert_error(response, 403, "forbidden")
    else:
        # Let through: the service answers. Two refuse on their own terms: the campaign is running, not
        # paused, and the task is pending, not uncertain.
        refused = {
            "/api/v1/campaigns/1/resume": "campaign_not_paused",
            "/api/v1/tasks/1/confirm": "not_uncertain",
        }
        if path in refused:
            assert_error(response, 422, refused[path])
        else:
            assert response.status_code in (200, 201), response.text


def test_reads_need_a_session(console: Console) -> None:
    for path in ("/api/v1/playbooks", "/api/v1/staff", "/api/v1/campaigns", "/api/v1/tasks"):
        assert_error(console.get(path), 401, "not_logged_in")

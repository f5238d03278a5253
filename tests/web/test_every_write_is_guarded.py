"""Every unsafe endpoint of the app (POST, PUT, PATCH, DELETE) is guarded on the server, whoever added it.

The routes are read from the app (:mod:`tests.web.api_surface`), not listed here, so an endpoint added later is
checked too. For each one that is not knowingly public:

- it declares a session and a role check (a ``require(action)`` dependency, see :mod:`sopflow.web.auth`);
- without a session: 401; an admin without the CSRF header: 403 ``csrf_missing``; with a wrong one: 403
  ``csrf_mismatch``; every role below the action's least role (:data:`sopflow.accounts.roles.ACTIONS`), with
  a valid token: 403 ``forbidden``; and none of it changed a row of the app database or stored an event;
- every answer has the one error shape ``{"error": {"code", "message", ...}}`` and no stack trace;
- bad input reaching any of them (a malformed JSON body, a broken upload form, an id too large for the
  database) is a clean 4xx that writes nothing; every read needs a session too.

A new public write, or one any viewer may call, fails here, by its path, until it is added to the lists below
with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text
from tests.conftest import _require_postgres
from tests.postgres import fresh_database

from sopflow.accounts.roles import ACTIONS, ROLES, can
from sopflow.web.auth import CSRF_HEADER, SESSION_COOKIE
from sopflow.web.errors import POSTHOG_PATHS

from .api_surface import Write, app_for_listing, assert_error_shape, writes
from .console_api import PASSWORD, PLAYBOOK, Console, open_console

# Writes anyone may send: they carry their own credentials (an API key, WeCom's signature) or start a session.
PUBLIC_WRITES: dict[str, str] = {
    "POST /api/v1/events": "event ingest: authenticated by an API key (Authorization: Bearer)",
    "POST /api/v1/auth/login": "starts a session: checks the password, rate-limited",
    "POST /wecom/callback": "WeCom callback: signed and encrypted with the corp's token and AES key",
    **{
        f"POST {path}": "PostHog-compatible capture: authenticated by the api_key in the body"
        for path in POSTHOG_PATHS
    },
}
# Unsafe methods that need a session and the CSRF token but no role above viewer: they change nothing shared
# (fnmatch patterns, so a family of queries is one entry).
ANY_ROLE_WRITES: dict[str, str] = {
    "POST /api/v1/auth/logout": "ends the caller's own session",
    "POST /api/v1/playbooks/validate": "validates YAML text; stores nothing",
    "POST /api/v1/analytics/*": "queries whose definition (funnel steps, windows) is a body; read-only, "
    "exports are audited and masked for viewers",
    "POST /api/v1/campaigns/{campaign_id}/report": "starts a background job that reads the events into a "
    "report page; changes nothing",
}
# Reads anyone may send: the docs, and WeCom's URL check (signed).
PUBLIC_READS = frozenset(
    {"/api/openapi.json", "/docs", "/docs/oauth2-redirect", "/api/docs", "/wecom/callback"}
)
# Path parameters that name the fixture's data, so a guard that fails reaches real rows.
SAMPLES = {"playbook_id": "course", "version": "1", "name": "李雷"}
ACCOUNT_OF_ROLE = {"admin": "boss", "operator": "op", "viewer": "guest"}
# Rows that change on every request (a session's last use) or every login: compared by count only.
VOLATILE_TABLES = frozenset({"login_sessions", "login_attempts"})

WRITES = writes(app_for_listing())
GUARDED = [w for w in WRITES if w.id not in PUBLIC_WRITES]


def any_role(write: Write) -> bool:
    return any(fnmatchcase(write.id, pattern) for pattern in ANY_ROLE_WRITES)


READS = [r for r in writes(app_for_listing(), frozenset({"GET"})) if r.path not in PUBLIC_READS]
ROLE_CHECKED = [w for w in GUARDED if not any_role(w)]
FOR_ANY_ROLE = [w for w in GUARDED if any_role(w)]
FORMS = [w for w in GUARDED if w.form_body]


class Guarded:
    """The module's app: three accounts logged in once each (the tests switch cookies, never log in again, so
    the users table stays as it was), a published and approved playbook, a person and a planned campaign."""

    def __init__(self, console: Console, workspace: Path) -> None:
        self.console = console
        self.client = console.client
        self.workspace = workspace
        self.sessions: dict[str, tuple[str, str]] = {}
        c = console.login("op")
        c.ok(c.post("/api/v1/playbooks", {"yaml": PLAYBOOK}), 201)
        c.ok(c.post("/api/v1/staff", {"name": "李雷", "role": "ops", "email": "lei@example.com"}), 201)
        c.login("boss")
        c.ok(c.post("/api/v1/playbooks/course/versions/1/approve"))
        c.login("op")
        c.ok(c.post("/api/v1/campaigns", {"playbook": "course", "start": "2099-01-01 09:00"}), 201)
        for role, name in ACCOUNT_OF_ROLE.items():
            self.sessions[role] = self.login(name)

    def login(self, name: str) -> tuple[str, str]:
        self.client.cookies.clear()
        response = self.client.post("/api/v1/auth/login", json={"name": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return str(response.cookies[SESSION_COOKIE]), str(response.json()["csrf_token"])

    def send(
        self, write: Write, *, role: str | None, csrf: str | None = "valid", body: Any = None
    ) -> httpx.Response:
        """``write`` as ``role`` (None: no session) with the session's token, none, or the given wrong one."""
        self.client.cookies.clear()
        headers: dict[str, str] = {}
        if role is not None:
            token, valid = self.sessions[role]
            self.client.cookies.set(SESSION_COOKIE, token)
            if csrf is not None:
                headers[CSRF_HEADER] = valid if csrf == "valid" else csrf
        url = write.url(SAMPLES)
        if isinstance(body, bytes):
            headers["content-type"] = "application/json"
            return self.client.request(write.method, url, content=body, headers=headers)
        if write.method == "GET":
            return self.client.get(url, headers=headers)
        return self.client.request(write.method, url, json={} if body is None else body, headers=headers)

    def snapshot(self) -> dict[str, Any]:
        """Every row of the app database (volatile tables by count) and the number of stored events."""
        services = self.console.services
        tables: dict[str, Any] = {}
        with services.database.engine.connect() as connection:
            for name in sorted(inspect(connection).get_table_names()):
                rows = connection.execute(text(f'SELECT * FROM "{name}"')).all()
                tables[name] = len(rows) if name in VOLATILE_TABLES else sorted(repr(tuple(r)) for r in rows)
        tables["events stored"] = services.store.scan_arrow(["event"]).num_rows
        return tables


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def guarded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    """On both app databases: a refusal must roll back, and a huge id must be refused, on each."""
    tmp = tmp_path_factory.mktemp("guarded")
    with ExitStack() as stack:
        overrides: dict[str, Any] = {}
        if request.param == "postgresql":
            server_url = _require_postgres(request.getfixturevalue("postgres_server"))
            overrides["database_url"] = stack.enter_context(fresh_database(server_url))
        for console in open_console(tmp, **overrides):
            yield Guarded(console, tmp / "ws")


def test_the_lists_name_real_routes_and_only_known_writes_are_open() -> None:
    ids = {w.id for w in WRITES}
    assert ids >= set(PUBLIC_WRITES), f"listed as public but gone: {sorted(set(PUBLIC_WRITES) - ids)}"
    gone = [p for p in ANY_ROLE_WRITES if not any(fnmatchcase(i, p) for i in ids)]
    assert not gone, f"listed as any-role but gone: {gone}"
    assert len(GUARDED) >= 20  # the listing found the console's routers, not an empty app
    assert FORMS, "no upload form found: the listing lost track of form bodies"
    unguarded = [w.id for w in GUARDED if not w.session]
    assert not unguarded, f"writes without a login check (Depends(require(action))): {unguarded}"
    for_anyone = [w.id for w in ROLE_CHECKED if (w.action or "read") == "read"]
    assert not for_anyone, (
        f"writes a viewer may call: {for_anyone}; guard them with require(<write action>) or, if they change "
        "nothing shared, list them in ANY_ROLE_WRITES with the reason"
    )


@pytest.mark.parametrize("write", GUARDED, ids=[w.id for w in GUARDED])
def test_a_write_needs_a_session_and_the_csrf_token(guarded: Guarded, write: Write) -> None:
    before = guarded.snapshot()
    assert_error_shape(guarded.send(write, role=None), 401, "not_logged_in")
    assert_error_shape(guarded.send(write, role="admin", csrf=None), 403, "csrf_missing")
    _token, valid = guarded.sessions["admin"]
    forged = valid[:-2] + ("xy" if not valid.endswith("xy") else "zz")
    assert_error_shape(guarded.send(write, role="admin", csrf=forged), 403, "csrf_mismatch")
    assert guarded.snapshot() == before


@pytest.mark.parametrize("write", ROLE_CHECKED, ids=[w.id for w in ROLE_CHECKED])
def test_a_role_below_the_action_is_refused_and_writes_nothing(guarded: Guarded, write: Write) -> None:
    assert write.action in ACTIONS
    below = [role for role in ROLES if not can(role, write.action)]
    assert "viewer" in below  # viewers change nothing (checked in the listing test, asserted again here)
    before = guarded.snapshot()
    for role in below:
        error = assert_error_shape(guarded.send(write, role=role), 403, "forbidden")
        assert role in error["message"] and write.action in error["message"]
    assert guarded.snapshot() == before


@pytest.mark.parametrize(
    "write", [w for w in GUARDED if w.json_body], ids=[w.id for w in GUARDED if w.json_body]
)
def test_a_malformed_body_is_a_clean_4xx_that_writes_nothing(guarded: Guarded, write: Write) -> None:
    before = guarded.snapshot()
    for body, status, code in (
        (b"{not json", 422, "invalid_input"),
        (b"[1, 2", 422, "invalid_input"),
        ("a string, not an object", 422, "invalid_input"),
        (b'{"name": "\xff"}', 422, "invalid_input"),  # not UTF-8: FastAPI's own 400, made one of these
    ):
        response = guarded.send(write, role="admin", body=body)
        assert_error_shape(response, status, code)
    assert guarded.snapshot() == before


@pytest.mark.parametrize("write", FORMS, ids=[w.id for w in FORMS])
def test_a_broken_upload_form_is_a_clean_422_that_writes_nothing(guarded: Guarded, write: Write) -> None:
    # Found by schemathesis: Starlette's 400 "Invalid multipart data." had no code and an English message.
    before = guarded.snapshot()
    token, csrf = guarded.sessions["admin"]
    guarded.client.cookies.clear()
    guarded.client.cookies.set(SESSION_COOKIE, token)
    for content_type, body in (
        ("multipart/form-data; boundary=b0", b"--b0\r\n[1, 2]--b0--\r\n"),
        ("multipart/form-data", b"no boundary at all"),
    ):
        headers = {CSRF_HEADER: csrf, "content-type": content_type}
        response = guarded.client.request(write.method, write.url(SAMPLES), content=body, headers=headers)
        assert_error_shape(response, 422, "invalid_input")
    assert guarded.snapshot() == before


@pytest.mark.parametrize("write", FOR_ANY_ROLE, ids=[w.id for w in FOR_ANY_ROLE])
def test_a_viewer_may_call_the_any_role_writes_and_shares_nothing(guarded: Guarded, write: Write) -> None:
    # A fresh session: logging out ends it, and the module's viewer session must survive for other tests.
    token, csrf = guarded.login("guest")
    before = guarded.snapshot()
    guarded.client.cookies.clear()
    guarded.client.cookies.set(SESSION_COOKIE, token)
    response = guarded.client.request(write.method, write.url(SAMPLES), json={}, headers={CSRF_HEADER: csrf})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_error_shape(response)
    after = guarded.snapshot()
    # An export by a viewer is recorded in the audit log (who exported which list); nothing else may change.
    audit_before, audit_after = set(before.pop("audit_log")), set(after.pop("audit_log"))
    assert audit_before <= audit_after
    assert all("'guest'" in row for row in audit_after - audit_before), audit_after - audit_before
    assert after == before


@pytest.mark.parametrize("read", READS, ids=[r.id for r in READS])
def test_a_read_needs_a_session(guarded: Guarded, read: Write) -> None:
    assert read.session, f"{read.id} answers without a login check"
    assert_error_shape(guarded.send(read, role=None), 401, "not_logged_in")


@pytest.mark.parametrize("role", [None, "viewer"])
def test_unknown_paths_and_methods_answer_in_the_shape(guarded: Guarded, role: str | None) -> None:
    guarded.client.cookies.clear()
    if role is not None:
        guarded.client.cookies.set(SESSION_COOKIE, guarded.sessions[role][0])
    assert_error_shape(guarded.client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_error_shape(guarded.client.delete("/api/v1/playbooks"), 405, "method_not_allowed")


def test_the_listing_sees_what_each_route_checks() -> None:
    """The checks above rest on this reading of the dependencies; a route without a guard must show as one."""
    from fastapi import Depends, FastAPI

    from sopflow.web.auth import current_user, require

    app = FastAPI()
    app.add_api_route("/open", lambda: None, methods=["POST"])
    app.add_api_route("/logged-in", lambda auth=Depends(current_user): None, methods=["DELETE"])
    app.add_api_route("/writer", lambda auth=Depends(require("playbook.write")): None, methods=["PUT"])
    app.add_api_route("/read", lambda: None, methods=["GET"])
    seen = {w.id: (w.session, w.action) for w in writes(app)}
    assert seen == {
        "POST /open": (False, None),
        "DELETE /logged-in": (True, None),
        "PUT /writer": (True, "playbook.write"),
    }


def test_the_snapshot_sees_the_fixture_data(guarded: Guarded) -> None:
    snapshot = guarded.snapshot()
    assert len(snapshot["playbook_versions"]) == 1 and len(snapshot["campaigns"]) == 1
    assert len(snapshot["staff"]) == 1 and len(snapshot["tasks"]) >= 2 and snapshot["audit_log"]


def _path_parameters(kind: str) -> list[tuple[str, str, str]]:
    """(method, path, parameter) for every path parameter of JSON type ``kind`` in the spec."""
    spec = app_for_listing().openapi()
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter.get("schema", {}).get("type") == kind:
                    found.append((method.upper(), path, parameter["name"]))
    return sorted(found)


INTEGER_PATHS = _path_parameters("integer")
TEXT_PATHS = _path_parameters("string")


@pytest.mark.parametrize(
    ("method", "path", "name"), INTEGER_PATHS, ids=[f"{m} {p}" for m, p, _n in INTEGER_PATHS]
)
def test_an_id_too_large_for_the_database_is_a_clean_4xx(
    guarded: Guarded, method: str, path: str, name: str
) -> None:
    # Found by schemathesis: GET /api/v1/campaigns/9223372036854775808 reached SQLite (64-bit integers) and
    # answered 500; on PostgreSQL /campaigns/2147483648 did. An admin asks: no role check stops it early.
    before = guarded.snapshot()
    token, csrf = guarded.sessions["admin"]
    guarded.client.cookies.clear()
    guarded.client.cookies.set(SESSION_COOKIE, token)
    write = Write(method, path, None, True, False)
    # 2**31: past PostgreSQL's 32-bit integer ids; 2**63: past SQLite's 64-bit ones.
    for value in (str(2**31), str(-(2**31) - 1), str(2**63), str(-(2**63) - 1), "1" + "0" * 40):
        url = write.url({**SAMPLES, name: value})
        body = None if method == "GET" else {}
        response = guarded.client.request(method, url, headers={CSRF_HEADER: csrf}, json=body)
        assert_error_shape(response)
    assert guarded.snapshot() == before


@pytest.mark.parametrize(("method", "path", "name"), TEXT_PATHS, ids=[f"{m} {p}" for m, p, _n in TEXT_PATHS])
def test_a_nul_character_is_a_clean_4xx(guarded: Guarded, method: str, path: str, name: str) -> None:
    # Found by schemathesis on PostgreSQL, whose text cannot hold U+0000: a login name with one answered 500.
    before = guarded.snapshot()
    token, csrf = guarded.sessions["admin"]
    guarded.client.cookies.clear()
    guarded.client.cookies.set(SESSION_COOKIE, token)
    url = Write(method, path, None, True, False).url({**SAMPLES, name: "a%00b"})
    response = guarded.client.request(
        method, url, headers={CSRF_HEADER: csrf}, json=None if method == "GET" else {}
    )
    assert_error_shape(response)
    assert guarded.snapshot() == before


def test_a_login_name_with_a_nul_character_is_refused_cleanly(guarded: Guarded) -> None:
    guarded.client.cookies.clear()
    response = guarded.client.post("/api/v1/auth/login", json={"name": "boss\x00", "password": PASSWORD})
    # SQLite finds no such user (401); PostgreSQL cannot even compare the text (422): never a 500.
    error = assert_error_shape(response)
    assert (response.status_code, error["code"]) in {(401, "invalid_credentials"), (422, "invalid_input")}

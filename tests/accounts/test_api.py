"""The auth part of the REST API through httpx against create_app: login, session cookie, CSRF, roles, audit.

Every error answer is checked for the one JSON shape and for the absence of a stack trace.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's note about the httpx2 fork
    from fastapi.testclient import TestClient

from sopflow.accounts.users import create_user
from sopflow.settings import Settings, load_settings
from sopflow.store.accounts import LoginSession
from sopflow.web.app import create_app
from sopflow.web.auth import CSRF_HEADER, SESSION_COOKIE
from sopflow.web.services import Services

from .conftest import FAST

PASSWORD = "correct horse 1"


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return load_settings(environ={}, home=tmp_path / "ws", **overrides)


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(_settings(tmp_path, **overrides)), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    client = make_client()
    with _services(client).database.session() as session:
        for name, role in (("boss", "admin"), ("op", "operator"), ("guest", "viewer")):
            create_user(session=session, name=name, role=role, password=PASSWORD, actor="setup", hasher=FAST)
    return client


def _services(client: TestClient) -> Services:
    services = client.app.state.services  # type: ignore[attr-defined]
    assert isinstance(services, Services)
    return services


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The stable shape: ``{"error": {"code", "message", "field"?}}``, and nothing that looks like a trace."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"]) <= {"code", "message", "field"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return dict(body["error"])


def _login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    response = client.post("/api/v1/auth/login", json={"name": name, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def test_login_sets_a_strict_http_only_cookie_and_me_answers(client: TestClient) -> None:
    response = client.post("/api/v1/auth/login", json={"name": "op", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["name"] == "op" and body["user"]["role"] == "operator"
    assert "password_hash" not in response.text and PASSWORD not in response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/" in lowered
    # Development on 127.0.0.1 over plain HTTP: no Secure flag, or the browser would never send it back.
    assert "secure" not in lowered
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["name"] == "op" and me.json()["csrf_token"] == body["csrf_token"]


def test_the_cookie_is_secure_outside_development(make_client: Callable[..., TestClient]) -> None:
    client = make_client(env="production", secret_key="k" * 40)
    with _services(client).database.session() as session:
        create_user(session=session, name="boss", role="admin", password=PASSWORD, actor="t", hasher=FAST)
    response = client.post("/api/v1/auth/login", json={"name": "boss", "password": PASSWORD})
    assert response.status_code == 200
    assert "secure" in response.headers["set-cookie"].lower()


def test_wrong_password_and_unknown_user_are_the_same_401(client: TestClient) -> None:
    wrong = client.post("/api/v1/auth/login", json={"name": "op", "password": "not the password"})
    nobody = client.post("/api/v1/auth/login", json={"name": "ghost", "password": "not the password"})
    assert assert_error(wrong, 401, "invalid_credentials") == assert_error(nobody, 401, "invalid_credentials")
    assert "set-cookie" not in wrong.headers
    assert_error(client.get("/api/v1/auth/me"), 401, "not_logged_in")


def test_a_malformed_body_names_the_field(client: TestClient) -> None:
    error = assert_error(client.post("/api/v1/auth/login", json={"name": "op"}), 422, "invalid_input")
    assert error["field"] == "body.password"
    assert_error(
        client.post("/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}),
        422,
        "invalid_input",
    )


def test_an_expired_session_is_refused(client: TestClient) -> None:
    _login(client, "op")
    with _services(client).database.session() as session:
        session.execute(update(LoginSession).values(last_seen_at=datetime.now(UTC) - timedelta(hours=13)))
    assert_error(client.get("/api/v1/auth/me"), 401, "session_expired")


def test_a_forged_or_missing_csrf_token_is_refused(client: TestClient) -> None:
    csrf = _login(client, "boss")
    assert_error(client.post("/api/v1/auth/logout"), 403, "csrf_missing")
    assert_error(
        client.post("/api/v1/auth/logout", headers={CSRF_HEADER: csrf[:-1] + "x"}), 403, "csrf_mismatch"
    )
    # Nothing happened: still logged in.
    assert client.get("/api/v1/auth/me").status_code == 200
    forged = client.post(
        "/api/v1/users", json={"name": "mole", "role": "admin"}, headers={CSRF_HEADER: "forged"}
    )
    assert_error(forged, 403, "csrf_mismatch")
    assert "mole" not in client.get("/api/v1/users").text


def test_logout_ends_the_session(client: TestClient) -> None:
    csrf = _login(client, "op")
    token = client.cookies.get(SESSION_COOKIE)
    response = client.post("/api/v1/auth/logout", headers={CSRF_HEADER: csrf})
    assert response.status_code == 200 and response.json() == {"logged_out": True}
    assert_error(client.get("/api/v1/auth/me"), 401, "not_logged_in")
    # The old cookie, sent again by hand, no longer works.
    client.cookies.set(SESSION_COOKIE, str(token))
    assert_error(client.get("/api/v1/auth/me"), 401, "session_ended")


@pytest.mark.parametrize("name", ["guest", "op"])
def test_writes_need_the_role(client: TestClient, name: str) -> None:
    csrf = _login(client, name)
    for path, body in (
        ("/api/v1/users", {"name": "mole", "role": "admin"}),
        ("/api/v1/users/boss/disable", None),
        ("/api/v1/users/boss/reset-password", {}),
        ("/api/v1/users/guest/role", {"role": "admin"}),
    ):
        error = assert_error(client.post(path, json=body, headers={CSRF_HEADER: csrf}), 403, "forbidden")
        assert "users.manage" in error["message"]
    listed = client.get("/api/v1/users").json()["users"]  # reading is open to every role
    assert [(u["name"], u["role"], u["active"]) for u in listed] == [
        ("boss", "admin", True),
        ("guest", "viewer", True),
        ("op", "operator", True),
    ]


def test_an_admin_manages_users_and_the_audit_log_records_it(client: TestClient) -> None:
    csrf = _login(client, "boss")
    created = client.post("/api/v1/users", json={"name": "xu", "role": "viewer"}, headers={CSRF_HEADER: csrf})
    assert created.status_code == 201
    password = created.json()["password"]
    assert len(password) == 19
    assert (
        client.post("/api/v1/users/xu/role", json={"role": "operator"}, headers={CSRF_HEADER: csrf}).json()[
            "user"
        ]["role"]
        == "operator"
    )
    error = assert_error(
        client.post("/api/v1/users/boss/disable", headers={CSRF_HEADER: csrf}), 422, "last_admin"
    )
    assert "last active admin" in error["message"]
    assert_error(client.post("/api/v1/users/ghost/enable", headers={CSRF_HEADER: csrf}), 404, "unknown_user")
    entries = client.get("/api/v1/audit", params={"actor": "boss"}).json()["entries"]
    assert [(e["action"], e["target_id"], e["client"]) for e in entries] == [
        ("user.role", "xu", "testclient"),
        ("user.create", "xu", "testclient"),
        ("login", "boss", "testclient"),
    ]
    assert len(client.get("/api/v1/audit", params={"action": "user.*", "limit": 1}).json()["entries"]) == 1
    assert_error(client.get("/api/v1/audit", params={"limit": 0}), 422, "invalid_input")


def test_the_audit_log_is_for_admins(client: TestClient) -> None:
    assert_error(client.get("/api/v1/audit"), 401, "not_logged_in")
    _login(client, "guest")
    assert_error(client.get("/api/v1/audit"), 403, "forbidden")


def test_repeated_failures_are_throttled_with_retry_after(client: TestClient) -> None:
    for _ in range(5):
        assert_error(
            client.post("/api/v1/auth/login", json={"name": "op", "password": "guess guess"}),
            401,
            "invalid_credentials",
        )
    refused = client.post("/api/v1/auth/login", json={"name": "op", "password": PASSWORD})
    error = assert_error(refused, 429, "too_many_attempts")
    assert "15 minutes" in error["message"]
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    _login(client, "guest")  # other names are not affected


def test_errors_speak_the_requested_language(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/login",
        json={"name": "op", "password": "not the password"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert "密码" in assert_error(response, 401, "invalid_credentials")["message"]


def test_the_ingest_api_keeps_its_own_key_auth(client: TestClient) -> None:
    _login(client, "boss")  # a console session is no API key
    response = client.post(
        "/api/v1/events", json=[{"event": "x", "user_id": "u", "ts": "2026-01-01T00:00:00Z"}]
    )
    assert_error(response, 401, "missing_api_key")


def test_the_openapi_spec_lists_the_auth_endpoints(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    for path in (
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/audit",
        "/api/v1/users",
    ):
        assert path in spec["paths"]
    assert "401" in spec["paths"]["/api/v1/auth/me"]["get"]["responses"]

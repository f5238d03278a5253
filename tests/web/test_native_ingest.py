"""POST /api/v1/events in-process: formats, identity, dedupe, limits, 401s, all-or-nothing, error shape."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sopflow.store.api_keys import create_api_key, revoke_api_key

from .conftest import services_of

URL = "/api/v1/events"
Stored = Callable[[], list[dict[str, Any]]]

BATCH = [
    {
        "event": "signup",
        "user_id": "u1",
        "ts": "2025-03-05 09:05:33",
        "channel": "moments",
        "campaign": "spring",
        "properties": {"city": "杭州"},
    },
    {
        "event": "pay",
        "distinct_id": "u1",
        "timestamp": "2025-03-05T10:00:00+08:00",
        "revenue": "99.5",
        "plan": "pro",
        "event_id": "order-1",
    },
]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_native_error(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"code", "message", "field"} and {"code", "message"} <= set(error)
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert error.get("field") == field
    return error


def test_array_is_stored_with_canonical_columns(client: TestClient, api_key: str, stored: Stored) -> None:
    response = client.post(URL, json=BATCH, headers=auth(api_key))
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 2, "duplicates": 0}
    signup, pay = sorted(stored(), key=lambda r: r["event"], reverse=True)
    # Naive times are read in the server's timezone, Asia/Shanghai (UTC+8).
    assert signup["ts"] == datetime(2025, 3, 5, 1, 5, 33, tzinfo=UTC)
    assert (signup["channel"], signup["campaign"], signup["user_id"]) == ("moments", "spring", "u1")
    assert json.loads(signup["properties"]) == {"city": "杭州"}
    assert len(signup["event_id"]) == 32
    assert pay["event_id"] == "order-1"
    assert pay["ts"] == datetime(2025, 3, 5, 2, 0, tzinfo=UTC)
    assert (pay["revenue"], pay["currency"]) == (Decimal("99.5000"), "CNY")
    assert json.loads(pay["properties"]) == {"plan": "pro"}


def test_batch_object_and_gzip(client: TestClient, api_key: str, stored: Stored) -> None:
    body = gzip.compress(json.dumps({"batch": BATCH}).encode())
    headers = {**auth(api_key), "Content-Encoding": "gzip", "Content-Type": "application/json"}
    response = client.post(URL, content=body, headers=headers)
    assert response.json() == {"accepted": 2, "duplicates": 0}
    assert len(stored()) == 2


def test_resending_a_batch_adds_nothing(client: TestClient, api_key: str, stored: Stored) -> None:
    client.post(URL, json=BATCH, headers=auth(api_key))
    again = client.post(URL, json=BATCH, headers=auth(api_key))
    assert again.json() == {"accepted": 0, "duplicates": 2}
    assert len(stored()) == 2


def test_identify_links_anonymous_id(client: TestClient, api_key: str, stored: Stored) -> None:
    events = [{"event": "identify", "user_id": "13800000000", "anon_id": "dev-42", "ts": 1741136733}]
    assert client.post(URL, json=events, headers=auth(api_key)).status_code == 200
    (row,) = stored()
    assert row["event"] == "$identify"
    assert json.loads(row["properties"]) == {"$anon_distinct_id": "dev-42"}
    assert row["ts"] == datetime(2025, 3, 5, 1, 5, 33, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, "missing_api_key"),
        ({"Authorization": "Bearer "}, "missing_api_key"),
        ({"Authorization": "Bearer sf_not_a_real_key"}, "invalid_api_key"),
    ],
)
def test_missing_or_unknown_key_is_401(
    client: TestClient, stored: Stored, headers: dict[str, str], code: str
) -> None:
    response = client.post(URL, json=BATCH, headers=headers)
    assert_native_error(response, 401, code)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert stored() == []


def test_revoked_key_is_401(make_client: Callable[..., TestClient], stored: Stored) -> None:
    client = make_client(api_key_cache_seconds=0)
    services = services_of(client)
    with services.database.session() as session:
        created = create_api_key(session=session, name="app")
    assert client.post(URL, json=BATCH[:1], headers=auth(created.key)).status_code == 200
    with services.database.session() as session:
        revoke_api_key(session=session, ref=str(created.record.id))
    assert_native_error(client.post(URL, json=BATCH[1:], headers=auth(created.key)), 401, "invalid_api_key")
    assert len(stored()) == 1


def test_one_bad_event_rejects_the_whole_batch(client: TestClient, api_key: str, stored: Stored) -> None:
    events = [*BATCH, {"event": "pay", "user_id": "u2", "ts": "2025-02-30 10:00:00"}]
    error = assert_native_error(
        client.post(URL, json=events, headers=auth(api_key)), 422, "invalid_event", "batch[2].ts"
    )
    assert "event 2" in error["message"]
    assert stored() == []


@pytest.mark.parametrize(
    ("content", "status", "code", "field"),
    [
        (b"{oops", 400, "invalid_json", None),
        (b"\xff\xfe\x00", 400, "invalid_json", None),
        (b'"text"', 400, "invalid_body", None),
        (b"[]", 400, "empty_batch", None),
        (b'{"batch": []}', 400, "empty_batch", None),
        (b"[1]", 422, "invalid_input", "batch[0]"),
        (b'[{"event": "a", "ts": 1741136733}]', 422, "invalid_event", "batch[0].user_id"),
        (
            b'[{"event": "a", "user_id": "u", "ts": 1, "properties": [1]}]',
            422,
            "invalid_event",
            "batch[0].properties",
        ),
        (
            json.dumps([{"event": "e" * 201, "user_id": "u", "ts": 1741136733}]).encode(),
            422,
            "invalid_event",
            "batch[0].event",
        ),
    ],
)
def test_unreadable_or_invalid_bodies(
    client: TestClient,
    api_key: str,
    stored: Stored,
    content: bytes,
    status: int,
    code: str,
    field: str | None,
) -> None:
    response = client.post(
        URL, content=content, headers={**auth(api_key), "Content-Type": "application/json"}
    )
    assert_native_error(response, status, code, field)
    assert stored() == []


def test_limits(make_client: Callable[..., TestClient], stored: Stored) -> None:
    client = make_client(max_body_bytes=2048, max_decompressed_bytes=4096, max_batch_events=3)
    with services_of(client).database.session() as session:
        key = create_api_key(session=session, name="app").key
    event = {"event": "view", "user_id": "u", "ts": 1741136733}
    big = json.dumps([{**event, "note": "x" * 3000}]).encode()
    assert_native_error(client.post(URL, content=big, headers=auth(key)), 413, "body_too_large")
    bomb = gzip.compress(json.dumps([{**event, "note": "x" * 8000}]).encode())
    assert len(bomb) < 2048
    headers = {**auth(key), "Content-Encoding": "gzip"}
    assert_native_error(client.post(URL, content=bomb, headers=headers), 413, "body_too_large")
    assert_native_error(client.post(URL, json=[event] * 4, headers=auth(key)), 413, "too_many_events")
    assert_native_error(
        client.post(URL, content=b"[]", headers={**auth(key), "Content-Encoding": "br"}),
        415,
        "unsupported_encoding",
    )
    assert client.post(URL, json=[event] * 3, headers=auth(key)).json() == {"accepted": 1, "duplicates": 2}
    assert len(stored()) == 1


def test_not_found_and_method_not_allowed_have_the_error_shape(client: TestClient) -> None:
    assert_native_error(client.get("/api/v1/nothing"), 404, "not_found")
    assert_native_error(client.get(URL), 405, "method_not_allowed")


def failing_commit(error: BaseException) -> Callable[..., None]:
    """A stand-in for ``EventStore.submit_rows`` whose commit fails with ``error`` (from a store thread)."""

    def submit_rows(rows: object, on_done: Callable[[object, BaseException | None], None]) -> None:
        threading.Thread(target=on_done, args=(None, error)).start()

    return submit_rows


def test_internal_errors_have_the_error_shape(
    client: TestClient, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        services_of(client).store, "submit_rows", failing_commit(RuntimeError("disk on fire"))
    )
    error = assert_native_error(client.post(URL, json=BATCH, headers=auth(api_key)), 500, "internal_error")
    assert "disk on fire" not in error["message"]


def test_busy_store_is_a_retryable_503(
    client: TestClient, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sopflow.events.locks import StoreBusy

    busy = StoreBusy("the event store is busy; nothing was written, try again")
    monkeypatch.setattr(services_of(client).store, "submit_rows", failing_commit(busy))
    response = client.post(URL, json=BATCH, headers=auth(api_key))
    assert_native_error(response, 503, "store_busy")
    assert response.headers["Retry-After"] == "1"


def test_errors_speak_the_language_of_the_request(client: TestClient) -> None:
    response = client.post(URL, json=BATCH, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert "缺少 API 密钥" in response.json()["error"]["message"]
    response = client.post(URL, json=BATCH, headers={"Accept-Language": "en-US"})
    assert response.json()["error"]["message"].startswith("missing API key")


def test_cors_for_browsers(client: TestClient, api_key: str) -> None:
    preflight = client.options(
        URL,
        headers={
            "Origin": "https://h5.example.cn",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://h5.example.cn"
    assert preflight.headers["Access-Control-Allow-Headers"] == "authorization,content-type"
    response = client.post(URL, json=BATCH, headers={**auth(api_key), "Origin": "https://h5.example.cn"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://h5.example.cn"
    assert "Access-Control-Allow-Origin" not in client.get("/api/openapi.json").headers


def test_openapi_documents_the_ingest_endpoint(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/events" in spec["paths"] and "/batch/" in spec["paths"]


def test_the_server_compacts_its_log_in_the_background(
    make_client: Callable[..., TestClient], settings: Any, stored: Stored
) -> None:
    client = make_client(compact_after_events=150)
    with services_of(client).database.session() as session:
        key = create_api_key(session=session, name="app").key
    for start in (0, 100):
        events = [
            {"event": "view", "user_id": f"u{i}", "ts": 1741136733 + i} for i in range(start, start + 100)
        ]
        assert client.post(URL, json=events, headers=auth(key)).status_code == 200
    segments = settings.workspace.events_dir / "segments"
    deadline = time.monotonic() + 20
    while not any(segments.glob("*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(segments.glob("*")), "no compaction happened"
    assert len(stored()) == 200

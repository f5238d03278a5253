"""PostHog-compatible capture in-process: every path and encoding, identity, 401/400/413 in PostHog's shape."""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from sopflow.store.api_keys import create_api_key

from .conftest import services_of

PATHS = ["/batch/", "/batch", "/capture/", "/capture", "/e/", "/e", "/i/v0/e/", "/i/v0/e"]
Stored = Callable[[], list[dict[str, Any]]]
UUID = "0190a5d2-ac96-774b-bcce-6fd8c5d2c1e0"


def js_event(key: str, **extra: Any) -> dict[str, Any]:
    """An event as posthog-js sends it: token and distinct_id inside properties."""
    return {
        "event": "$pageview",
        "uuid": UUID,
        "timestamp": "2025-06-01T10:00:00.250Z",
        "properties": {
            "token": key,
            "distinct_id": "anon-1",
            "$current_url": "https://h5.example.cn/a?x=1",
            "utm_source": "moments",
        },
        **extra,
    }


def assert_stored_pageview(stored: Stored) -> None:
    (row,) = stored()
    assert (row["event_id"], row["event"], row["user_id"]) == (UUID, "$pageview", "anon-1")
    assert row["ts"] == datetime(2025, 6, 1, 10, 0, 0, 250000, tzinfo=UTC)
    assert row["channel"] == "moments"
    props = json.loads(row["properties"])
    assert props == {"$current_url": "https://h5.example.cn/a?x=1", "utm_source": "moments"}


def assert_posthog_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"type", "code", "detail", "attr"}
    assert body["code"] == code and isinstance(body["detail"], str) and body["detail"]
    expected_type = {400: "validation_error", 401: "authentication_error", 413: "validation_error"}[status]
    assert body["type"] == expected_type
    return body


@pytest.mark.parametrize("path", PATHS)
def test_plain_json_on_every_path(client: TestClient, api_key: str, stored: Stored, path: str) -> None:
    response = client.post(path, json=js_event(api_key))
    assert response.status_code == 200 and response.json() == {"status": 1}
    assert_stored_pageview(stored)


def gzipped(key: str) -> bytes:
    return gzip.compress(json.dumps([js_event(key)]).encode())


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(
            lambda c, k: c.post("/e/", content=gzipped(k), headers={"Content-Encoding": "gzip"}),
            id="content-encoding-gzip",
        ),
        pytest.param(
            lambda c, k: c.post(
                f"/e/?compression=gzip-js&ver=1.200.0&_={int(time.time() * 1000)}",
                content=gzipped(k),
                headers={"Content-Type": "text/plain"},
            ),
            id="compression-gzip-js",
        ),
        pytest.param(
            lambda c, k: c.post(
                "/e/", data={"data": base64.b64encode(json.dumps(js_event(k)).encode()).decode()}
            ),
            id="form-base64",
        ),
        pytest.param(
            lambda c, k: c.post(
                "/e/?ver=1.30.0",
                content=urlencode(
                    {"data": base64.b64encode(gzipped(k)).decode(), "compression": "gzip-js"}
                ).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
            id="form-base64-gzip",
        ),
        pytest.param(
            lambda c, k: c.post(
                f"/i/v0/e/?token={k}",
                json={**js_event(k), "properties": {**js_event(k)["properties"], "token": None}},
            ),
            id="token-in-query",
        ),
    ],
)
def test_encodings(client: TestClient, api_key: str, stored: Stored, send: Callable[..., Any]) -> None:
    response = send(client, api_key)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": 1}
    assert_stored_pageview(stored)


def test_python_sdk_batch_with_identify_alias_and_set(
    client: TestClient, api_key: str, stored: Stored
) -> None:
    body = {
        "api_key": api_key,
        "sent_at": "2025-06-01T12:00:00+00:00",
        "batch": [
            {
                "event": "signup",
                "distinct_id": "anon-7",
                "timestamp": "2025-06-01T11:59:00+00:00",
                "properties": {"$lib": "posthog-python", "channel": "community", "campaign": "c1"},
            },
            {
                "event": "$identify",
                "distinct_id": "user-7",
                "timestamp": "2025-06-01T11:59:30+00:00",
                "properties": {"$anon_distinct_id": "anon-7"},
                "$set": {"plan": "trial"},
            },
            {
                "event": "$create_alias",
                "distinct_id": "user-7",
                "timestamp": "2025-06-01T11:59:40+00:00",
                "properties": {"distinct_id": "user-7", "alias": "wx-openid-7"},
            },
            {
                "event": "$set",
                "distinct_id": "user-7",
                "timestamp": "2025-06-01T11:59:50+00:00",
                "$set": {"city": "成都"},
            },
        ],
    }
    assert client.post("/batch/", json=body).json() == {"status": 1}
    by_event = {
        (r["event"], json.dumps(json.loads(r["properties"] or "{}"), sort_keys=True)): r for r in stored()
    }
    assert len(by_event) == 4
    signup = next(r for r in stored() if r["event"] == "signup")
    assert (signup["user_id"], signup["channel"], signup["campaign"]) == ("anon-7", "community", "c1")
    identifies = sorted((r for r in stored() if r["event"] == "$identify"), key=lambda r: r["ts"])
    assert [(r["user_id"], json.loads(r["properties"])) for r in identifies] == [
        ("user-7", {"$anon_distinct_id": "anon-7", "$set": {"plan": "trial"}}),
        ("user-7", {"$anon_distinct_id": "wx-openid-7", "alias": "wx-openid-7"}),
    ]
    (set_row,) = [r for r in stored() if r["event"] == "$set"]
    assert json.loads(set_row["properties"]) == {"$set": {"city": "成都"}}


def test_missing_key_is_401(client: TestClient, stored: Stored) -> None:
    body = assert_posthog_error(
        client.post("/batch/", json={"batch": [{"event": "a", "distinct_id": "u"}]}), 401, "missing_api_key"
    )
    assert body["detail"] == "event submitted without an api_key"
    assert stored() == []


def test_unknown_key_is_401(client: TestClient, stored: Stored) -> None:
    response = client.post("/e/", json={"event": "a", "distinct_id": "u", "api_key": "phc_posthog_key"})
    assert_posthog_error(response, 401, "invalid_api_key")
    assert stored() == []


def test_inconsistent_keys_are_401(client: TestClient, api_key: str) -> None:
    events = [
        {"event": "a", "distinct_id": "u", "token": api_key},
        {"event": "a", "distinct_id": "u", "token": "x"},
    ]
    assert_posthog_error(client.post("/e/", json=events), 401, "multiple_api_keys")


@pytest.mark.parametrize(
    ("event", "code", "attr"),
    [
        ({"distinct_id": "u"}, "missing_event_name", "batch[1].event"),
        ({"event": "a"}, "missing_distinct_id", "batch[1].distinct_id"),
        (
            {"event": "a", "distinct_id": "u", "timestamp": "3月5日"},
            "invalid_timestamp",
            "batch[1].timestamp",
        ),
        (
            {"event": "a", "distinct_id": "u", "timestamp": "1960-01-01T00:00:00Z"},
            "invalid_event",
            "batch[1].ts",
        ),
        (
            {"event": "a", "distinct_id": "u", "properties": {"revenue": "lots"}},
            "invalid_event",
            "batch[1].revenue",
        ),
    ],
)
def test_invalid_event_rejects_the_batch_with_400(
    client: TestClient, api_key: str, stored: Stored, event: dict[str, Any], code: str, attr: str
) -> None:
    good = {"event": "ok", "distinct_id": "u"}
    response = client.post("/batch/", json={"api_key": api_key, "batch": [good, event]})
    assert assert_posthog_error(response, 400, code)["attr"] == attr
    assert stored() == []


def test_unreadable_body_is_400(client: TestClient) -> None:
    assert_posthog_error(
        client.post("/e/", content=b"{nope", headers={"Content-Type": "application/json"}),
        400,
        "invalid_json",
    )
    assert_posthog_error(client.post("/e/", content=b""), 400, "empty_batch")


def test_body_over_the_limit_is_413(make_client: Callable[..., TestClient], stored: Stored) -> None:
    client = make_client(max_body_bytes=1024)
    with services_of(client).database.session() as session:
        key = create_api_key(session=session, name="app").key
    response = client.post(
        "/batch/",
        json={"api_key": key, "batch": [{"event": "a", "distinct_id": "u", "properties": {"x": "y" * 2000}}]},
    )
    assert_posthog_error(response, 413, "body_too_large")
    assert stored() == []


def test_preflight_answers_like_posthog(client: TestClient) -> None:
    response = client.options(
        "/e/", headers={"Origin": "https://shop.example.cn", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 200 and response.json() == {"status": 1}
    assert response.headers["Access-Control-Allow-Credentials"] == "true"

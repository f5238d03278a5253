"""The ingest fast path answers exactly as the FastAPI routes do: same status, body and headers, same store."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sopflow.store.api_keys import create_api_key
from sopflow.web.fastpath import IngestFastPath

from .conftest import services_of

EVENT = {"event": "view", "user_id": "u1", "ts": 1741136733, "page": "/a"}


def bypass_fast_path(client: TestClient) -> None:
    """From now on ``client``'s app serves ingest requests through FastAPI's routes (the reference)."""
    app: Any = client.app
    app.middleware_stack = app.build_middleware_stack()
    assert isinstance(app.middleware_stack, IngestFastPath)
    app.middleware_stack = app.middleware_stack.app


def cases(key: str, run: str) -> list[tuple[str, dict[str, Any]]]:
    """Requests of every outcome; ``run`` makes the stored events of each run new to the store."""
    auth = {"Authorization": f"Bearer {key}"}
    event = {**EVENT, "user_id": f"{run}-1"}
    posthog_batch = {"api_key": key, "batch": [{"event": "e", "distinct_id": "u", "uuid": "not-a-uuid"}]}
    return [
        ("/api/v1/events", {"json": [event], "headers": auth}),
        ("/api/v1/events", {"json": [event], "headers": {**auth, "Origin": "https://h5.example.cn"}}),
        ("/api/v1/events", {"json": [event, {**event, "ts": "2024-02-30"}], "headers": auth}),
        ("/api/v1/events", {"json": [{**event, "ts": "x"}], "headers": {**auth, "Accept-Language": "zh-CN"}}),
        ("/api/v1/events", {"content": b"{oops", "headers": auth}),
        ("/api/v1/events", {"content": b"[1]", "headers": auth}),
        ("/api/v1/events", {"json": [EVENT]}),
        ("/api/v1/events", {"json": [EVENT], "headers": {"Authorization": "Bearer sf_unknown"}}),
        ("/api/v1/events", {"content": b"[]", "headers": {**auth, "Content-Encoding": "br"}}),
        (
            "/api/v1/events",
            {"content": gzip.compress(b"[1") + b"x", "headers": {**auth, "Content-Encoding": "gzip"}},
        ),
        ("/api/v1/events", {"content": b"x" * 5000, "headers": auth}),
        ("/batch/", {"json": {"api_key": key, "batch": [{"event": "e", "distinct_id": run}]}}),
        ("/batch/", {"json": posthog_batch, "headers": {"Origin": "https://h5.example.cn"}}),
        ("/capture", {"json": {"event": "e", "distinct_id": "u"}}),
        ("/e/", {"json": [{"event": "e", "distinct_id": "u", "properties": {"token": "sf_nope"}}]}),
        ("/i/v0/e/", {"content": b"x" * 5000, "params": {"compression": "gzip-js"}}),
    ]


def answers(client: TestClient, key: str, run: str) -> list[tuple[int, Any, dict[str, str]]]:
    out = []
    for path, kwargs in cases(key, run):
        response = client.post(path, **kwargs)
        headers = {k: v for k, v in response.headers.items() if k != "date"}
        out.append((response.status_code, response.json(), headers))
    return out


def test_fast_path_and_routes_answer_alike(make_client: Callable[..., TestClient], stored: Any) -> None:
    client = make_client(max_body_bytes=4096)
    with services_of(client).database.session() as session:
        key = create_api_key(session=session, name="app").key
    fast = answers(client, key, "fast")
    stored_by_fast = len(stored())
    bypass_fast_path(client)
    slow = answers(client, key, "slow")
    for (path, _kwargs), got, expected in zip(cases(key, ""), fast, slow, strict=True):
        assert got == expected, path
    assert [s for s, _b, _h in fast].count(200) == 3
    assert "字段 ts" in fast[3][1]["error"]["message"]
    assert len(stored()) == 2 * stored_by_fast == 2 * 2  # one native and one PostHog event per run


@pytest.mark.parametrize("path", ["/api/v1/events", "/batch/"])
def test_preflight_and_other_methods_still_go_through_fastapi(client: TestClient, path: str) -> None:
    preflight = client.options(
        path, headers={"Origin": "https://a.cn", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == "https://a.cn"
    assert client.get(path).status_code == 405


def test_a_chunked_body_is_read_whole(client: TestClient, api_key: str, stored: Any) -> None:
    def chunks() -> Any:
        body = json.dumps([EVENT, {**EVENT, "user_id": "u2"}]).encode()
        yield body[:7]
        yield body[7:]

    response = client.post("/api/v1/events", content=chunks(), headers={"Authorization": f"Bearer {api_key}"})
    assert response.json() == {"accepted": 2, "duplicates": 0}
    assert len(stored()) == 2

"""Bad input that schemathesis found answering 500, now a clean 4xx; and a real failure is a 500 that shows
nothing of its cause.

(Too-large ids, NUL characters and broken upload forms are checked route by route, on both app databases, in
test_every_write_is_guarded.py.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sopflow.web.app import create_app

from .conftest import TestClient


@pytest.mark.parametrize(
    "batch",
    [
        # A device clock in year 1 makes a year-9999 timestamp overflow once corrected, and the reverse.
        {
            "sent_at": "0001-01-02T00:00:00Z",
            "batch": [{"event": "x", "distinct_id": "u", "timestamp": "9999-12-31T00:00:00Z"}],
        },
        {
            "sent_at": "9999-12-31T00:00:00Z",
            "batch": [{"event": "x", "distinct_id": "u", "timestamp": "0001-01-02T00:00:00Z"}],
        },
        # An offset (milliseconds before receipt) beyond the calendar, either way.
        {"batch": [{"event": "x", "distinct_id": "u", "offset": 1e20}]},
        {"batch": [{"event": "x", "distinct_id": "u", "offset": -1e15}]},
    ],
    ids=["sent_at-year-1", "sent_at-year-9999", "offset-past", "offset-future"],
)
def test_a_posthog_time_out_of_the_calendar_is_a_400_not_a_500(
    client: TestClient, api_key: str, stored: Callable[[], list[dict[str, Any]]], batch: dict[str, Any]
) -> None:
    good = {"event": "ok", "distinct_id": "u", "timestamp": "2026-03-01T09:00:00Z"}
    body = {"api_key": api_key, **batch, "batch": [good, *batch["batch"]]}
    response = client.post("/batch/", json=body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["type"] == "validation_error" and answer["code"] == "invalid_timestamp"
    assert "9999" in answer["detail"] and answer["attr"] == "batch"
    assert stored() == []  # all or nothing: the good event of the same request is not stored either


def test_an_unexpected_failure_is_a_500_in_the_shape_without_its_details(
    make_settings: Callable[..., Any],
) -> None:
    app = create_app(make_settings())

    def broken() -> None:
        raise RuntimeError("secret detail of the failure")

    app.add_api_route("/api/v1/broken", broken, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/broken", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "internal error; please retry later"}
    }
    assert "secret" not in response.text and "Traceback" not in response.text

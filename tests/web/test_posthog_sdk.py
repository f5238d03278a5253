"""The official ``posthog`` Python package, pointed at a local sopflow server, delivers events intact."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from posthog import Posthog

from sopflow.settings import Settings
from sopflow.store.api_keys import create_api_key
from sopflow.web.app import create_app

from .helpers import ThreadServer, free_port, read_events


@pytest.mark.parametrize("gzip", [False, True], ids=["json", "gzip"])
def test_posthog_python_client(settings: Settings, caplog: pytest.LogCaptureFixture, gzip: bool) -> None:
    app = create_app(settings)
    port = free_port()
    with ThreadServer(app, port):
        with app.state.services.database.session() as session:
            key = create_api_key(session=session, name="posthog-python").key
        client = Posthog(key, host=f"http://127.0.0.1:{port}", sync_mode=True, gzip=gzip, max_retries=0)
        with caplog.at_level(logging.WARNING, logger="posthog"):
            uuid = client.capture(
                "course_purchased",
                distinct_id="anon-42",
                properties={"channel": "moments", "campaign": "spring", "revenue": 199, "course": "运营入门"},
                timestamp=datetime(2025, 3, 5, 1, 5, 33, 123456, tzinfo=UTC),
            )
            client.capture("$identify", distinct_id="user-42", properties={"$anon_distinct_id": "anon-42"})
            client.set(distinct_id="user-42", properties={"city": "杭州"})
            client.alias(previous_id="user-42", distinct_id="wx-42")
            client.flush()
            client.shutdown()
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    rows = read_events(settings.workspace)
    by_event: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_event.setdefault(str(row["event"]), []).append(row)
    (purchase,) = by_event["course_purchased"]
    assert purchase["event_id"] == uuid
    assert purchase["user_id"] == "anon-42"
    assert purchase["ts"] == datetime(2025, 3, 5, 1, 5, 33, 123456, tzinfo=UTC)
    assert (purchase["channel"], purchase["campaign"], purchase["currency"]) == ("moments", "spring", "CNY")
    assert str(purchase["revenue"]) == "199.0000"
    props = json.loads(str(purchase["properties"]))
    assert props["course"] == "运营入门" and props["$lib"] == "posthog-python"
    assert key not in json.dumps(props)
    identify, alias = sorted(by_event["$identify"], key=lambda r: r["ts"])  # type: ignore[arg-type,return-value]
    assert identify["user_id"] == "user-42"
    assert json.loads(str(identify["properties"]))["$anon_distinct_id"] == "anon-42"
    assert alias["user_id"] == "user-42"
    assert json.loads(str(alias["properties"]))["$anon_distinct_id"] == "wx-42"
    (person,) = by_event["$set"]
    assert json.loads(str(person["properties"]))["$set"] == {"city": "杭州"}

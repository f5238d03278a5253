"""Small builders of canonical rows for the event store tests."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sopflow.events.normalize import normalize_event

SHANGHAI = ZoneInfo("Asia/Shanghai")


def event(name: str, user: str, ts: str, **extra: Any) -> dict[str, Any]:
    """A canonical row; ``ts`` is read in Asia/Shanghai when it has no offset."""
    return normalize_event({"event": name, "user_id": user, "ts": ts, **extra}, tz=SHANGHAI)


def identify(user: str, anon: str, ts: str) -> dict[str, Any]:
    return event("$identify", user, ts, properties={"$anon_distinct_id": anon})

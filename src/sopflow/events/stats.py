"""``sopflow events stats``: what is in the store (events by name and by day, persons, range)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

import numpy as np

from sopflow.events.reading import fold_log, take_snapshot, view_of

if TYPE_CHECKING:
    from sopflow.events.store import EventStore

HOUR_US = 3_600_000_000
DAY_S = 86_400


@dataclass(frozen=True)
class StoreStats:
    events: int
    persons: int
    raw_ids: int
    first: datetime | None
    last: datetime | None
    by_event: list[tuple[str, int]]
    by_day: list[tuple[str, int]]
    timezone: str
    generation: int
    segments: int
    sealed_events: int
    log_events: int
    bytes_on_disk: int

    def as_json(self) -> dict[str, Any]:
        """The documented ``sopflow events stats --json`` shape."""
        return {
            "events": self.events,
            "persons": self.persons,
            "raw_ids": self.raw_ids,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "timezone": self.timezone,
            "by_event": [{"event": name, "count": count} for name, count in self.by_event],
            "by_day": [{"date": day, "count": count} for day, count in self.by_day],
            "store": {
                "generation": self.generation,
                "segments": self.segments,
                "sealed_events": self.sealed_events,
                "log_events": self.log_events,
                "bytes": self.bytes_on_disk,
            },
        }


def store_stats(store: EventStore, *, tz: tzinfo) -> StoreStats:
    snap = take_snapshot(store)
    view = view_of(fold_log(snap))
    ts = np.asarray(view.ts)
    counts: np.ndarray | list[int] = (
        np.bincount(np.asarray(view.event, dtype=np.int64), minlength=len(view.event_names))
        if len(ts)
        else []
    )
    by_event = sorted(
        ((view.event_names[i], int(c)) for i, c in enumerate(counts) if c), key=lambda x: (-x[1], x[0])
    )
    first = datetime.fromtimestamp(int(ts.min()) / 1e6, UTC).astimezone(tz) if len(ts) else None
    last = datetime.fromtimestamp(int(ts.max()) / 1e6, UTC).astimezone(tz) if len(ts) else None
    size = sum(p.stat().st_size for p in store.events_dir.rglob("*") if p.is_file())
    return StoreStats(
        events=len(ts),
        persons=view.n_persons,
        raw_ids=view.raw_ids,
        first=first,
        last=last,
        by_event=by_event,
        by_day=events_by_day(ts, tz),
        timezone=str(getattr(tz, "key", tz)),
        generation=snap.generation.number,
        segments=len(snap.generation.segments),
        sealed_events=snap.generation.rows,
        log_events=snap.log_rows,
        bytes_on_disk=size,
    )


def events_by_day(ts: np.ndarray, tz: tzinfo) -> list[tuple[str, int]]:
    """Event counts per local calendar day in ``tz`` (one ``utcoffset`` call per distinct UTC hour)."""
    if not len(ts):
        return []
    hours = np.floor_divide(ts, HOUR_US)
    low = int(hours.min())
    per_hour = np.bincount(hours - low)
    days: dict[str, int] = {}
    for index in np.flatnonzero(per_hour).tolist():
        local = datetime.fromtimestamp((low + index) * 3600, UTC).astimezone(tz)
        key = local.date().isoformat()
        days[key] = days.get(key, 0) + int(per_hour[index])
    return sorted(days.items())

"""``--from`` / ``--to`` / ``--window``: the time range of an analysis and the length of a window.

- ``--from`` takes a date (``2026-11-01``: that day's midnight) or a datetime (``2026-11-01 08:30`` or ISO
  ``2026-11-01T08:30:00``), read in ``--tz`` unless it carries an offset; the range includes it.
- ``--to`` as a date includes that whole day (the range ends at the next midnight); as a datetime it is
  exclusive.
- Windows: a number and a unit, ``s``, ``m``, ``h`` or ``d`` (``7d``, ``90m``); a bare number is seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sopflow.errors import InvalidInput
from sopflow.i18n import _

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_WINDOW = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")


@dataclass(frozen=True)
class TimeRange:
    """``[start, end)`` in microseconds since the epoch (UTC); ``None`` is open."""

    start: int | None
    end: int | None
    tz: tzinfo

    def contains(self, ts: int) -> bool:
        return (self.start is None or ts >= self.start) and (self.end is None or ts < self.end)

    def as_json(self) -> dict[str, Any]:
        return {"from": _iso(self.start, self.tz), "to": _iso(self.end, self.tz), "tz": str(self.tz)}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """An aware datetime as µs since the epoch."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int, tz: tzinfo) -> datetime:
    return (_EPOCH + timedelta(microseconds=micros)).astimezone(tz)


def _iso(micros: int | None, tz: tzinfo) -> str | None:
    return None if micros is None else from_micros(micros, tz).isoformat()


def parse_moment(text: str, *, tz: tzinfo, option: str, end: bool = False) -> int:
    """A ``--from``/``--to`` value in µs UTC; a bare date given to ``--to`` (``end``) means the next midnight."""
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is not None and len(value) == 10:
        if end:
            day = day + timedelta(days=1)
        return to_micros(datetime(day.year, day.month, day.day, tzinfo=tz))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            _(
                "{option}: {value!r} is neither a date (2026-11-01) nor a datetime (2026-11-01 08:30)",
                option=option,
                value=text,
            )
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return to_micros(moment)


def parse_range(start: str | None, end: str | None, *, tz: tzinfo) -> TimeRange:
    lo = parse_moment(start, tz=tz, option="--from") if start else None
    hi = parse_moment(end, tz=tz, option="--to", end=True) if end else None
    if lo is not None and hi is not None and hi <= lo:
        raise InvalidInput(_("--to must be later than --from"))
    return TimeRange(lo, hi, tz)


def parse_window(text: str, *, option: str = "--window") -> int:
    """A window length in microseconds."""
    match = _WINDOW.match(text)
    if not match or int(match.group(1)) <= 0:
        raise InvalidInput(
            _("{option}: {value!r} is not a window such as 30m, 12h or 7d", option=option, value=text)
        )
    return int(match.group(1)) * _UNITS[match.group(2) or "s"] * 1_000_000

"""Calendar periods of a time zone: days, and ISO weeks starting on Monday, DST-safe.

A period is an integer that means the same thing on every engine and every partition:

- ``day``: the local date's proleptic ordinal (``date.toordinal()``);
- ``week``: ``(ordinal - 1) // 7``, since ordinal 1 (0001-01-01) is a Monday, so a week runs Monday 00:00
  to the next Monday 00:00 local time.

Timestamps are placed by searching the local midnights (each computed by the time zone database), never
by adding a fixed offset, so a 23- or 25-hour day around a DST change is still one day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

import numpy as np

from sopflow.analytics.timerange import from_micros, to_micros

Period = Literal["day", "week"]
PERIODS: tuple[Period, ...] = ("day", "week")


def local_midnight(day: date, tz: tzinfo) -> int:
    """The first instant of ``day`` in ``tz`` (µs UTC).

    Where midnight does not exist (a DST jump at 00:00), ``fold=0`` takes the offset before the jump, which
    lands exactly on the jump: still the day's first instant.
    """
    return to_micros(datetime(day.year, day.month, day.day, tzinfo=tz))


def day_ordinals(ts: np.ndarray, tz: tzinfo) -> np.ndarray:
    """The local date (as an ordinal) of each µs timestamp."""
    stamps = np.asarray(ts, dtype=np.int64)
    if len(stamps) == 0:
        return np.zeros(0, dtype=np.int64)
    first = from_micros(int(stamps.min()), tz).date()
    last = from_micros(int(stamps.max()), tz).date()
    days = (last - first).days + 1
    midnights = np.array([local_midnight(first + timedelta(days=i), tz) for i in range(days)], dtype=np.int64)
    return first.toordinal() + np.searchsorted(midnights, stamps, side="right").astype(np.int64) - 1


def period_index(ts: np.ndarray, *, period: Period, tz: tzinfo) -> np.ndarray:
    """The period (see the module docstring) of each µs timestamp."""
    ordinals = day_ordinals(ts, tz)
    return ordinals if period == "day" else (ordinals - 1) // 7


def period_start_day(index: int, period: Period) -> date:
    """The local date a period starts on (a Monday for weeks)."""
    return date.fromordinal(index if period == "day" else 7 * index + 1)


def period_start(index: int, *, period: Period, tz: tzinfo) -> int:
    """The first instant of a period (µs UTC)."""
    return local_midnight(period_start_day(index, period), tz)

"""Absolute times of a campaign's steps, in its timezone, across DST changes and month ends.

- D0 00:00 is local midnight of the start day; ``D+N HH:MM`` is the wall-clock time HH:MM on the N-th day
  after it (calendar days, so a step at ``D+1 09:00`` is at 09:00 the next day even when that day has 23
  or 25 hours). A wall-clock time that does not exist (the hour skipped when clocks go forward) moves
  forward by the gap; one that happens twice (clocks go back) is its first occurrence.
- ``after:`` steps are a duration after the moment the step they follow was done (elapsed time, not
  wall-clock), so they are resolved when that happens.
- Quiet hours ``start``–``end`` (local wall clock; ``22:00``–``08:00`` wraps midnight): a due time inside
  them moves to their end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sopflow.playbook.model.policies import QuietHours
from sopflow.playbook.timenode import DAY, parse_clock


def local_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive local wall-clock time in ``zone`` as UTC (gaps move forward, repeats take the first)."""
    # fold=0 uses the offset in force before a transition: a time in a gap lands after it, a repeated
    # time is its first occurrence.
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def day_zero(start: datetime, zone: ZoneInfo) -> datetime:
    """D0 00:00 (UTC) of a campaign starting at the aware time ``start``."""
    return local_to_utc(datetime.combine(start.astimezone(zone).date(), time()), zone)


def node_time(first_day: date, offset: int, zone: ZoneInfo) -> datetime:
    """The UTC time of a time node ``offset`` seconds from D0 00:00 (days counted on the calendar)."""
    days, rest = divmod(offset, DAY)
    local = datetime.combine(first_day + timedelta(days=days), time()) + timedelta(seconds=rest)
    return local_to_utc(local, zone)


@dataclass(frozen=True)
class Quiet:
    start: int  # seconds after local midnight
    end: int

    @classmethod
    def of(cls, hours: QuietHours | None) -> Quiet | None:
        if hours is None:
            return None
        start, end = parse_clock(hours.start), parse_clock(hours.end)
        return None if start == end else cls(start, end)

    def inside(self, clock: int) -> bool:
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end


def after_quiet_hours(due: datetime, quiet: Quiet | None, zone: ZoneInfo) -> datetime:
    """``due``, or the end of the quiet hours it falls in (the next local ``end`` wall-clock time)."""
    if quiet is None:
        return due
    local = due.astimezone(zone)
    clock = local.hour * 3600 + local.minute * 60 + local.second
    if not quiet.inside(clock):
        return due
    day = local.date()
    if quiet.start > quiet.end and clock >= quiet.start:
        day += timedelta(days=1)
    return local_to_utc(datetime.combine(day, time()) + timedelta(seconds=quiet.end), zone)


def parse_start(text: str, zone: ZoneInfo, *, now: datetime) -> datetime:
    """``now`` or ``YYYY-MM-DD[ HH:MM[:SS]]`` (local, in ``zone``; an offset or ``Z`` is honoured) → UTC."""
    value = text.strip()
    if value.lower() == "now":
        return now.astimezone(UTC)
    parsed = datetime.fromisoformat(value.replace(" ", "T", 1) if len(value) > 10 else value)
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    return local_to_utc(parsed, zone)

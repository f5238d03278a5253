"""Timestamps as people and machines write them, to UTC microseconds.

Accepted text (surrounding spaces ignored):

- dates and times: ``2024-03-05 09:05:33``, ``2024-03-05T09:05:33.123456``, ``2024/3/5 9:05``,
  ``2024.03.05``, ``2024年3月5日 9:05``; fractions beyond microseconds are cut; a zone suffix ``Z``,
  ``+08:00``, ``+0800`` or ``+08`` makes the time absolute, otherwise it is read in the import timezone;
- epoch numbers (9 to 19 digits): below 1e11 seconds, below 1e14 milliseconds, below 1e17
  microseconds, else nanoseconds (``1709600733``, ``1709600733123``).

The same grammar is implemented twice: here per value (the reference, used by the HTTP path and for
rows the fast path declines) and vectorised in :mod:`sopflow.events.normalize_table`; a property test
checks that they agree.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TS_MIN_US = 0  # 1970-01-01
TS_MAX_US = int((datetime(2100, 1, 1, tzinfo=UTC) - EPOCH).total_seconds()) * 1_000_000

DATETIME_PATTERN = (
    r"^(?P<y>[0-9]{4})(?:[-/.]|年)(?P<mo>[0-9]{1,2})(?:[-/.]|月)(?P<d>[0-9]{1,2})日?"
    r"(?:(?:T| +)(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{1,2})(?::(?P<s>[0-9]{1,2})(?:\.(?P<f>[0-9]{1,9}))?)?)?"
    r" ?(?P<z>Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?$"
)
EPOCH_PATTERN = r"^[0-9]{9,19}$"
_DATETIME_RE = re.compile(DATETIME_PATTERN)
_EPOCH_RE = re.compile(EPOCH_PATTERN)
_EPOCH_FRACTION_RE = re.compile(r"^[0-9]{9,19}\.[0-9]{1,9}$")

# epoch magnitude thresholds → microseconds per unit (seconds, ms, µs, ns as a divisor)
EPOCH_SECONDS_BELOW = 10**11
EPOCH_MILLIS_BELOW = 10**14
EPOCH_MICROS_BELOW = 10**17


class TimeParseError(ValueError):
    """The value is not a timestamp sopflow understands; ``reason`` says which rule it broke."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def epoch_to_us(value: int) -> int:
    if value < EPOCH_SECONDS_BELOW:
        return value * 1_000_000
    if value < EPOCH_MILLIS_BELOW:
        return value * 1_000
    if value < EPOCH_MICROS_BELOW:
        return value
    return value // 1_000


def _decimal_epoch_to_us(value: Decimal) -> int:
    whole = int(value)
    scale = 1_000_000 if whole < EPOCH_SECONDS_BELOW else 1_000 if whole < EPOCH_MILLIS_BELOW else 1
    if whole >= EPOCH_MICROS_BELOW:
        return int((value / 1_000).to_integral_value(ROUND_FLOOR))
    return int((value * scale).to_integral_value(ROUND_FLOOR))


def zone_offset_seconds(text: str) -> int:
    """``Z`` → 0, ``+08:00`` / ``+0800`` / ``+08`` → 28800."""
    if text in ("Z", "z"):
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        raise TimeParseError("bad_zone")
    return sign * (hours * 3600 + minutes * 60)


def local_to_utc_us(naive: datetime, tz: tzinfo) -> int:
    """A wall-clock time in ``tz`` → UTC µs; ambiguous and skipped times use the offset before the change."""
    offset = tz.utcoffset(naive)
    if offset is None:
        raise TimeParseError("bad_zone")
    return (naive - datetime(1970, 1, 1)) // timedelta(microseconds=1) - offset // timedelta(microseconds=1)


def _check_range(us: int) -> int:
    if not TS_MIN_US <= us < TS_MAX_US:
        raise TimeParseError("out_of_range")
    return us


def parse_text(text: str, tz: tzinfo) -> int:
    """Parse a stripped, non-empty string into UTC microseconds."""
    match = _DATETIME_RE.match(text)
    if match:
        return _check_range(_from_match(match.groups(), tz))
    if _EPOCH_RE.match(text):
        return _check_range(epoch_to_us(int(text)))
    if _EPOCH_FRACTION_RE.match(text):
        return _check_range(_decimal_epoch_to_us(Decimal(text)))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TimeParseError("unrecognised") from None
    return parse_datetime(parsed, tz)


def _from_match(groups: tuple[str | None, ...], tz: tzinfo) -> int:
    year, month, day, hour, minute, second, fraction, zone = groups
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        naive = datetime(
            int(year or 0),
            int(month or 0),
            int(day or 0),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
        )
    except ValueError:
        raise TimeParseError("bad_date") from None
    if zone is None:
        return local_to_utc_us(naive, tz)
    offset = zone_offset_seconds(zone)
    return (naive - datetime(1970, 1, 1)) // timedelta(microseconds=1) - offset * 1_000_000


def parse_datetime(value: datetime | date, tz: tzinfo) -> int:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None or value.utcoffset() is None:
        return _check_range(local_to_utc_us(value.replace(tzinfo=None), tz))
    return _check_range((value - EPOCH) // timedelta(microseconds=1))


def parse_number(value: int | float | Decimal) -> int:
    if isinstance(value, bool):
        raise TimeParseError("unrecognised")
    if isinstance(value, int):
        if value < 0:
            raise TimeParseError("out_of_range")
        return _check_range(epoch_to_us(value))
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else value
        if not number.is_finite() or number < 0:
            raise TimeParseError("out_of_range")
    except InvalidOperation:
        raise TimeParseError("unrecognised") from None
    return _check_range(_decimal_epoch_to_us(number))


def us_to_datetime(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)

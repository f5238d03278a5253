"""The playbook's time grammar.

- A time node ``D-3 10:00`` / ``D0 20:00`` / ``D+2 09:30`` is an offset from the campaign start day
  (D0 00:00 in the campaign's timezone), kept as signed seconds.
- A duration ``2h``, ``90m``, ``1d 2h``, ``45s`` is a non-negative number of seconds.
- A relative node ``step_id + 2h`` (or just ``step_id``) is another step's time plus a duration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sopflow.i18n import _

DAY = 86_400
_NODE = re.compile(r"^\s*D\s*([+-]?\s*\d{1,3})?\s+(\d{1,2}):(\d{2})\s*$")
_DURATION_PART = re.compile(r"(\d+)\s*([dhms])")
_DURATION = re.compile(r"^\s*(?:\d+\s*[dhms]\s*)+$")
_UNIT = {"d": DAY, "h": 3600, "m": 60, "s": 1}
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_AFTER = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_\-]*)\s*(?:\+\s*(.+?))?\s*$")


class TimeSyntaxError(ValueError):
    """A time node, duration or clock time that does not parse; the message is already translated."""


def parse_duration(text: str) -> int:
    if not isinstance(text, str) or not _DURATION.match(text):
        raise TimeSyntaxError(
            _(
                "invalid duration {value!r}: write a number with a unit d, h, m or s, such as 2h, 90m or 1d 2h",
                value=text,
            )
        )
    return sum(int(n) * _UNIT[u] for n, u in _DURATION_PART.findall(text))


def parse_clock(text: str) -> int:
    """``HH:MM`` into seconds after midnight."""
    m = _CLOCK.match(text) if isinstance(text, str) else None
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise TimeSyntaxError(_("invalid clock time {value!r}: write HH:MM, such as 09:30", value=text))
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60


def parse_time_node(text: str) -> int:
    m = _NODE.match(text) if isinstance(text, str) else None
    if not m:
        raise TimeSyntaxError(
            _(
                "invalid time node {value!r}: write D<day> HH:MM, such as D-3 10:00, D0 20:00 or D+2 09:30",
                value=text,
            )
        )
    day = int((m.group(1) or "0").replace(" ", ""))
    hour, minute = int(m.group(2)), int(m.group(3))
    if hour > 23 or minute > 59:
        raise TimeSyntaxError(_("invalid time of day in {value!r}: hours 00-23, minutes 00-59", value=text))
    return day * DAY + hour * 3600 + minute * 60


@dataclass(frozen=True)
class After:
    step: str
    delay: int


def parse_after(text: str) -> After:
    m = _AFTER.match(text) if isinstance(text, str) else None
    if not m:
        raise TimeSyntaxError(
            _("invalid relative time {value!r}: write STEP_ID + DURATION, such as welcome + 2h", value=text)
        )
    delay = parse_duration(m.group(2)) if m.group(2) else 0
    return After(step=m.group(1), delay=delay)


def format_offset(seconds: int) -> str:
    """The inverse of :func:`parse_time_node` (minutes precision)."""
    day, rest = divmod(seconds, DAY)
    sign = "+" if day > 0 else ""
    return f"D{sign}{day} {rest // 3600:02d}:{rest % 3600 // 60:02d}"


def format_duration(seconds: int) -> str:
    parts = []
    for unit, size in (("d", DAY), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n}{unit}")
    return " ".join(parts) or "0m"

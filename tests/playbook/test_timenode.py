"""The time grammar: time nodes (``D+2 09:30``), durations (``1d 2h``), clock times and ``after:``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.playbook.timenode import (
    DAY,
    After,
    TimeSyntaxError,
    format_duration,
    format_offset,
    parse_after,
    parse_clock,
    parse_duration,
    parse_time_node,
)

FAST = settings(max_examples=300, deadline=None)
# Time nodes are minute-precise and days have at most three digits.
offsets = st.integers(min_value=-999 * DAY, max_value=999 * DAY + DAY - 60).map(lambda s: s - s % 60)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("D0 00:00", 0),
        ("D0 20:00", 20 * 3600),
        ("D-3 10:00", -3 * DAY + 10 * 3600),
        ("D+2 09:30", 2 * DAY + 9 * 3600 + 30 * 60),
        ("D2 9:30", 2 * DAY + 9 * 3600 + 30 * 60),
        ("  D + 1   23:59 ", DAY + 23 * 3600 + 59 * 60),
        ("D-0 08:00", 8 * 3600),
    ],
)
def test_parse_time_node(text: str, seconds: int) -> None:
    assert parse_time_node(text) == seconds


@pytest.mark.parametrize(
    "text", ["D+2 25:00", "D0 24:00", "D0 12:60", "tomorrow", "D1", "10:00", "D+1000 10:00", "d0 10:00", ""]
)
def test_bad_time_nodes(text: str) -> None:
    with pytest.raises(TimeSyntaxError):
        parse_time_node(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "D0 00:00"),
        (-3 * DAY + 10 * 3600, "D-3 10:00"),
        (2 * DAY + 570 * 60, "D+2 09:30"),
        (-60, "D-1 23:59"),
    ],
)
def test_format_offset(seconds: int, text: str) -> None:
    assert format_offset(seconds) == text


@FAST
@given(offsets)
def test_time_node_round_trip(seconds: int) -> None:
    text = format_offset(seconds)
    assert parse_time_node(text) == seconds
    assert format_offset(parse_time_node(text)) == text


@FAST
@given(st.integers(-999, 999), st.integers(0, 23), st.integers(0, 59), st.sampled_from(["", " ", "  "]))
def test_written_time_nodes_parse_to_their_parts(day: int, hour: int, minute: int, pad: str) -> None:
    sign = "+" if day > 0 else ""
    text = f"{pad}D{sign}{day} {hour:02d}:{minute:02d}{pad}"
    assert parse_time_node(text) == day * DAY + hour * 3600 + minute * 60


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2h", 7200),
        ("90m", 5400),
        ("1d 2h", 93600),
        ("45s", 45),
        ("1d2h30m", 95400),
        ("0m", 0),
        (" 3 h ", 10800),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["2 hours", "1天", "", "h", "-2h", "2", "1.5h", "2h garbage"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(TimeSyntaxError):
        parse_duration(text)


@FAST
@given(st.integers(min_value=0, max_value=400 * DAY))
def test_duration_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_format_duration() -> None:
    assert format_duration(0) == "0m"
    assert format_duration(93600) == "1d 2h"
    assert format_duration(95445) == "1d 2h 30m 45s"


@pytest.mark.parametrize(
    ("text", "seconds"), [("09:30", 34200), ("0:00", 0), ("23:59", 86340), (" 8:05 ", 29100)]
)
def test_parse_clock(text: str, seconds: int) -> None:
    assert parse_clock(text) == seconds


@pytest.mark.parametrize("text", ["24:00", "12:60", "8点", "0930", ""])
def test_bad_clock(text: str) -> None:
    with pytest.raises(TimeSyntaxError):
        parse_clock(text)


@pytest.mark.parametrize(
    ("text", "after"),
    [
        ("welcome", After("welcome", 0)),
        ("welcome + 2h", After("welcome", 7200)),
        ("a-b_c+1d 30m", After("a-b_c", 88200)),
    ],
)
def test_parse_after(text: str, after: After) -> None:
    assert parse_after(text) == after


@pytest.mark.parametrize("text", ["welcome - 2h", "+ 2h", "welcome + 1 day", "欢迎 + 2h", ""])
def test_bad_after(text: str) -> None:
    with pytest.raises(TimeSyntaxError):
        parse_after(text)


@FAST
@given(st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,10}", fullmatch=True), st.integers(0, 30 * DAY))
def test_after_round_trip(step: str, delay: int) -> None:
    assert parse_after(f"{step} + {format_duration(delay)}") == After(step, delay)


@FAST
@given(st.text(max_size=30))
def test_parsers_raise_only_time_syntax_errors(text: str) -> None:
    """Any text either parses or raises TimeSyntaxError (turned into a located problem by the loader)."""
    for parser in (parse_time_node, parse_duration, parse_clock, parse_after):
        try:
            parser(text)
        except TimeSyntaxError as exc:
            assert str(exc)

"""The sliding-window helper: the slot it gives keeps every window within the limit and is the earliest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.channels.base import RateLimit
from sopflow.channels.ratelimit import Limiter, next_slot

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def _max_in_window(times: list[datetime], seconds: float) -> int:
    """The most sends in any window (u - seconds, u], by brute force over every send as u."""
    width = timedelta(seconds=seconds)
    return max((sum(1 for r in times if u - width < r <= u) for u in times), default=0)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[RateLimit, list[datetime], datetime]:
    count = draw(st.integers(1, 6))
    seconds = draw(st.integers(1, 10))
    limit = RateLimit(count=count, seconds=seconds)
    # Build a history that itself respects the limit (as a log of real sends does), in whole milliseconds.
    times: list[datetime] = []
    for offset in draw(st.lists(st.integers(0, 20_000), max_size=25)):
        t = T0 + offset * MS
        if _max_in_window(sorted([*times, t]), seconds) <= count:
            times.append(t)
    now = T0 + draw(st.integers(0, 25_000)) * MS
    return limit, times, now


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_the_slot_fits_and_nothing_earlier_does(case: tuple[RateLimit, list[datetime], datetime]) -> None:
    limit, times, now = case
    slot = next_slot(limit, times, now)
    assert slot >= now
    assert _max_in_window(sorted([*times, slot]), limit.seconds) <= limit.count
    earlier = slot - MS
    if earlier >= now:
        assert _max_in_window(sorted([*times, earlier]), limit.seconds) > limit.count


def test_twenty_a_minute_for_a_robot() -> None:
    limit = RateLimit(count=20, seconds=60)
    sent = [T0 + timedelta(seconds=i) for i in range(20)]
    assert next_slot(limit, sent[:19], T0 + timedelta(seconds=19)) == T0 + timedelta(seconds=19)
    # The 21st waits until the first send leaves the minute.
    assert next_slot(limit, sent, T0 + timedelta(seconds=20)) == T0 + timedelta(seconds=60)
    assert next_slot(limit, sent, T0 + timedelta(seconds=90)) == T0 + timedelta(seconds=90)


def test_reserved_future_slots_are_respected() -> None:
    """Workers reserve slots ahead; a new one goes after them, not in between."""
    limit = RateLimit(count=2, seconds=10)
    reserved = [T0 + timedelta(seconds=5), T0 + timedelta(seconds=6)]
    slot = next_slot(limit, reserved, T0)
    assert slot == T0 + timedelta(seconds=15)
    assert _max_in_window(sorted([*reserved, slot]), 10) == 2


def test_the_limiter_spaces_sends_with_a_fake_clock() -> None:
    clock = [T0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += timedelta(seconds=seconds)

    limiter = Limiter(clock=lambda: clock[0], sleep=sleep)
    limit = RateLimit(count=20, seconds=60)
    waits = [limiter.wait("ops", limit) for _ in range(25)]
    assert waits[:20] == [0.0] * 20
    assert waits[20] == 60.0 and waits[21:] == [0.0] * 4
    assert limiter.wait("other", limit) == 0.0
    assert limiter.wait("unlimited", None) == 0.0

"""Staying inside a receiver's rate limit: at most ``count`` sends in any window of ``seconds``.

:func:`next_slot` is pure: given the send times already taken (read from the delivery log, so several
worker processes share one robot's budget; they may include slots reserved in the future), it answers the
earliest moment, not before ``now``, at which one more send keeps every window (t − seconds, t] at or
under the limit. :class:`Limiter` is the in-process form (``sopflow endpoints test``, one process): it
sleeps until that moment and records the send.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sopflow.channels.base import RateLimit


def _fits(limit: RateLimit, times: Sequence[datetime], t: datetime) -> bool:
    """Whether a send at ``t`` keeps every window containing it within the limit."""
    width = timedelta(seconds=limit.seconds)
    # A window (u - width, u] contains t for u in [t, t + width); its count only changes at the sends,
    # so checking u = t and u = each send in [t, t + width) covers them all.
    ends = [t, *(r for r in times if t <= r < t + width)]
    return all(sum(1 for r in times if u - width < r <= u) < limit.count for u in ends)


def next_slot(limit: RateLimit, recent: Sequence[datetime], now: datetime) -> datetime:
    """The earliest time ≥ ``now`` at which another message may leave, given the sends in ``recent``."""
    if limit.count <= 0:
        raise ValueError("a rate limit needs a count of at least 1")
    width = timedelta(seconds=limit.seconds)
    times = sorted(r for r in recent if r > now - width)
    if _fits(limit, times, now):
        return now
    # Feasibility only begins where a send leaves the window behind (r + width) or just after a reserved
    # send (r): try those in order.
    candidates = sorted({c for r in times for c in (r + width, r) if c > now})
    for candidate in candidates:
        if _fits(limit, times, candidate):
            return candidate
    return times[-1] + width  # unreachable: after the last send plus a window every window is empty


class Limiter:
    """A thread-safe, in-process sliding-window limiter per key (an endpoint name)."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: dict[str, deque[datetime]] = {}

    def reserve(self, key: str, limit: RateLimit | None) -> datetime:
        """Take the next slot for ``key`` and return when it is (now, or later)."""
        now = self._clock()
        if limit is None:
            return now
        with self._lock:
            sent = self._sent.setdefault(key, deque())
            width = timedelta(seconds=limit.seconds)
            while sent and sent[0] <= now - width:
                sent.popleft()
            slot = next_slot(limit, list(sent), now)
            sent.append(slot)
            return slot

    def wait(self, key: str, limit: RateLimit | None) -> float:
        """Block until a send for ``key`` is allowed; returns the seconds waited."""
        slot = self.reserve(key, limit)
        delay = (slot - self._clock()).total_seconds()
        if delay > 0:
            self._sleep(delay)
        return max(0.0, delay)

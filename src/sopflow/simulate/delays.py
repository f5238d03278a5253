"""When things happen: the timing model of the simulation, every constant in one place.

Times are float seconds from the campaign's D0 00:00 in its timezone (the offsets of the timeline). Delays are
log-normal: most people act within hours, a long tail acts days later, as response times do in practice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sopflow.simulate.rng import F64, I64, U64, Stream, purpose

MINUTE = 60.0
HOUR = 3600.0
DAY = 86_400.0


@dataclass(frozen=True)
class LogNormal:
    median: float
    sigma: float
    floor: float = 1.0
    cap: float = math.inf

    def draw(self, stream: Stream, keys: U64, code: int) -> F64:
        values = stream.lognormal(keys, code, median=self.median, sigma=self.sigma)
        return np.clip(values, self.floor, self.cap)


# Sign-up after an acquisition step (an article, a group notice): hours, some days later.
ARRIVAL_RESPONSE = LogNormal(6 * HOUR, 1.2, floor=MINUTE, cap=5 * DAY)
# A stage whose step is still ahead (the live class, the offer): shortly after the step, a tail to next days.
AFTER_STEP = LogNormal(45 * MINUTE, 1.3)
# A stage with no step ahead: hours after the previous stage.
AFTER_PREVIOUS = LogNormal(3 * HOUR, 1.5)
# An invitee signs up after the inviter reached the inviters stage and shared.
VIRAL_CYCLE = LogNormal(DAY, 1.0, floor=5 * MINUTE, cap=14 * DAY)
# Anonymous browsing before sign-up.
ANON_LEAD = LogNormal(20 * MINUTE, 1.2, floor=10.0)
# Gap before the j-th return visit: the median grows by RETURN_GROWTH per visit, up to RETURN_MAX_MEDIAN.
RETURN_GAP = LogNormal(DAY, 0.8, floor=HOUR, cap=30 * DAY)
RETURN_GROWTH = 1.3
RETURN_MAX_MEDIAN = 10 * DAY
# Late delivery of an event (a mini program flushing its queue later), and the retry of a duplicate send.
MAX_DELIVERY_LAG = 3 * DAY
LATE_DELIVERY = LogNormal(30 * MINUTE, 1.5, cap=MAX_DELIVERY_LAG)
RETRY_DELIVERY = LogNormal(2 * MINUTE, 1.0, cap=MAX_DELIVERY_LAG)

# Share of sign-ups per hour of the local day (Chinese mobile usage: lunch and evening peaks).
DIURNAL = np.array(
    [2, 1, 0.6, 0.4, 0.4, 0.5, 1, 2, 4, 5, 5, 5, 6, 5, 4, 4, 4, 5, 6, 7, 9, 10, 8, 4], dtype=np.float64
)
_DIURNAL_CUM = np.cumsum(DIURNAL)

# Draw families (see rng.purpose): each random decision has its own, so adding one never shifts the others.
CHANNEL, PERSONA, PULSE, RESPONSE = 1, 2, 3, 4
SPREAD_DAY, SPREAD_HOUR, SPREAD_SECOND, SPREAD_PLAIN = 5, 6, 7, 8
CONVERT, STAGE_DELAY, STAGE_SQUEEZE = 10, 11, 12
INVITES, VIRAL = 20, 21
ANON, ANON_COUNT, ANON_LEAD_DRAW, ANON_ID = 30, 31, 32, 33
RETURN_GO, RETURN_GAP_DRAW, RETURN_PAGE = 40, 41, 42
TOUCH_VARIANT, TOUCH_JITTER = 50, 51
NOISE_LATE, NOISE_DUP, NOISE_LAG, NOISE_RETRY = 60, 61, 62, 63


def spread_arrivals(stream: Stream, keys: U64, *, start: float, end: float) -> F64:
    """Sign-ups spread over [start, end) with a day-and-night pattern (channels with no acquisition step)."""
    days = np.floor(start / DAY) + np.floor(
        stream.uniform(keys, SPREAD_DAY) * max(1.0, np.ceil((end - start) / DAY))
    )
    hours = stream.choice(keys, SPREAD_HOUR, _DIURNAL_CUM)
    times = days * DAY + hours * HOUR + stream.uniform(keys, SPREAD_SECOND) * HOUR
    # The first and last day are partial: outside the window fall back to a plain uniform time.
    plain = start + stream.uniform(keys, SPREAD_PLAIN) * (end - start)
    out: F64 = np.where((times >= start) & (times < end), times, plain)
    return out


def pulse_arrivals(stream: Stream, keys: U64, pulses: F64) -> F64:
    """Sign-ups after one of the channel's acquisition steps, picked uniformly."""
    picked = stream.choice(keys, PULSE, np.arange(1, len(pulses) + 1, dtype=np.float64))
    out: F64 = pulses[picked] + ARRIVAL_RESPONSE.draw(stream, keys, RESPONSE)
    return out


def stage_times(
    stream: Stream, keys: U64, *, stage: int, previous: F64, entry: F64, anchor: float | None, window: float
) -> F64:
    """When people who convert reach ``stage``, given when they reached the one before.

    Shortly after the stage's step when it is still ahead, else some hours after the previous stage; always
    within ``window`` of the entry (the funnel's window), so a funnel with the playbook's window measures the
    planned rates: a time past the window is moved to a uniform point between the previous stage and the
    window's end.
    """
    if anchor is not None:
        ahead = previous < anchor
        after_step = anchor + AFTER_STEP.draw(stream, keys, purpose(STAGE_DELAY, stage))
        after_previous = previous + AFTER_PREVIOUS.draw(stream, keys, purpose(STAGE_DELAY, stage))
        times = np.where(ahead, after_step, after_previous)
    else:
        times = previous + AFTER_PREVIOUS.draw(stream, keys, purpose(STAGE_DELAY, stage))
    deadline = entry + window
    late = times > deadline
    if late.any():
        room = np.maximum(deadline - previous, 0.0)
        squeezed = previous + room * stream.uniform(keys, purpose(STAGE_SQUEEZE, stage))
        times = np.where(late, squeezed, times)
    out: F64 = np.maximum(times, previous)
    return out


def return_gap(stream: Stream, keys: U64, visit: int) -> F64:
    median = min(RETURN_GAP.median * RETURN_GROWTH**visit, RETURN_MAX_MEDIAN)
    gap = LogNormal(median, RETURN_GAP.sigma, RETURN_GAP.floor, RETURN_GAP.cap)
    return gap.draw(stream, keys, purpose(RETURN_GAP_DRAW, visit))


def delivery_lag(stream: Stream, keys: U64, code: int, model: LogNormal) -> I64:
    """A delivery lag in microseconds."""
    return (model.draw(stream, keys, code) * 1e6).astype(np.int64)

"""The people of one chunk: channel users, their invitees generation by generation, and when each reached
each funnel stage.

Channel user ``n`` (0-based over the whole run) is ``u`` + ``n`` in 8 or more digits; the ``j``-th invitee
(1-based) of a person is that person's id + ``.j``, so ids are unique by construction and stable whatever
the chunk size. An invitee belongs to the chunk of the channel user at the root of its invitation tree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from sopflow.simulate import delays
from sopflow.simulate.delays import CHANNEL, CONVERT, INVITES, PERSONA, VIRAL
from sopflow.simulate.rng import F64, I64, U64, Stream, child_keys, fixed_width_strings, mix64, purpose
from sopflow.simulate.scenario import Scenario

ID_DIGITS = 8
_USER_SALT = np.uint64(0x2545F4914F6CDD1D)


@dataclass
class Population:
    """Arrays over the people of a chunk, channel users first, then each generation of invitees."""

    keys: U64
    generation: npt.NDArray[np.int8]
    channel: I64
    persona: I64
    parent: I64  # index of the inviter in this population, -1 for channel users
    root: I64  # index of the channel user at the root of the invitation tree
    ids: pa.Array
    times: F64  # (people, stages): when each stage was reached, NaN if never

    @property
    def size(self) -> int:
        return len(self.keys)


def id_width(users: int) -> int:
    return max(ID_DIGITS, len(str(max(users - 1, 0))))


def person_keys(numbers: U64) -> U64:
    return mix64(numbers ^ _USER_SALT)


def build_population(scenario: Scenario, stream: Stream, *, first: int, count: int, width: int) -> Population:
    """Channel users ``first … first + count − 1`` and everyone they bring in."""
    numbers = np.arange(first, first + count, dtype=np.uint64)
    keys = person_keys(numbers)
    channel = stream.choice(keys, CHANNEL, scenario.channel_cum)
    entry = _channel_arrivals(scenario, stream, keys, channel)
    parts = [
        Population(
            keys=keys,
            generation=np.zeros(count, dtype=np.int8),
            channel=channel,
            persona=_personas(scenario, stream, keys),
            parent=np.full(count, -1, dtype=np.int64),
            root=np.arange(count, dtype=np.int64),
            ids=fixed_width_strings(b"u", numbers, width=width, base=10),
            times=progress(scenario, stream, keys, channel, entry),
        )
    ]
    if scenario.referral is not None:
        offset = 0
        for generation, cdf in enumerate(scenario.referral.cdfs):
            children = _invitees(scenario, stream, parts[-1], offset, generation, cdf)
            if children is None:
                break
            offset += parts[-1].size
            parts.append(children)
    return _concat(parts)


def _channel_arrivals(scenario: Scenario, stream: Stream, keys: U64, channel: I64) -> F64:
    entry = np.empty(len(keys), dtype=np.float64)
    start, end = scenario.acquisition
    for c, pulses in enumerate(scenario.pulses):
        chosen = np.flatnonzero(channel == c)
        if not len(chosen):
            continue
        if len(pulses):
            entry[chosen] = delays.pulse_arrivals(stream, keys[chosen], pulses)
        else:
            entry[chosen] = delays.spread_arrivals(stream, keys[chosen], start=start, end=end)
    return entry


def _personas(scenario: Scenario, stream: Stream, keys: U64) -> I64:
    if not scenario.persona_ids:
        return np.full(len(keys), -1, dtype=np.int64)
    picked = stream.choice(keys, PERSONA, scenario.persona_cum)
    return np.where(picked >= len(scenario.persona_ids), -1, picked)


def progress(scenario: Scenario, stream: Stream, keys: U64, channel: I64, entry: F64) -> F64:
    """Stage times: each stage converts with the channel's rate, heavy-tailed delays, within the window."""
    stages = scenario.stage_count
    times = np.full((len(keys), stages), np.nan)
    times[:, 0] = entry
    alive = np.flatnonzero(entry < scenario.end)
    for stage in range(1, stages):
        rate = scenario.rates[channel[alive], stage]
        alive = alive[stream.uniform(keys[alive], purpose(CONVERT, stage)) < rate]
        if not len(alive):
            break
        times[alive, stage] = delays.stage_times(
            stream,
            keys[alive],
            stage=stage,
            previous=times[alive, stage - 1],
            entry=entry[alive],
            anchor=scenario.anchors[stage],
            window=scenario.window,
        )
    return times


def _invitees(
    scenario: Scenario, stream: Stream, inviters: Population, offset: int, generation: int, cdf: F64
) -> Population | None:
    """The next generation: NB(k) invitees per person of ``inviters`` who reached the inviters stage."""
    assert scenario.referral is not None
    at = scenario.referral.inviters_stage
    shared = inviters.times[:, at]
    who = np.flatnonzero(shared < scenario.end)
    if not len(who) or len(cdf) == 1:
        return None
    counts = stream.choice(inviters.keys[who], purpose(INVITES, generation), cdf)
    parent = np.repeat(who, counts)
    if not len(parent):
        return None
    ordinal = np.arange(len(parent), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    keys = child_keys(inviters.keys[parent], ordinal)
    entry = shared[parent] + delays.VIRAL_CYCLE.draw(stream, keys, VIRAL)
    keep = np.flatnonzero(entry < scenario.end)
    if not len(keep):
        return None
    parent, ordinal, keys, entry = parent[keep], ordinal[keep], keys[keep], entry[keep]
    channel = np.full(len(keys), scenario.referral_channel, dtype=np.int64)
    suffix = pc.cast(pa.array(ordinal + 1), pa.string())
    ids = pc.binary_join_element_wise(inviters.ids.take(pa.array(parent)), suffix, ".")
    return Population(
        keys=keys,
        generation=np.full(len(keys), generation + 1, dtype=np.int8),
        channel=channel,
        persona=_personas(scenario, stream, keys),
        parent=parent + offset,
        root=inviters.root[parent],
        ids=ids,
        times=progress(scenario, stream, keys, channel, entry),
    )


def _concat(parts: list[Population]) -> Population:
    if len(parts) == 1:
        return parts[0]
    return Population(
        keys=np.concatenate([p.keys for p in parts]),
        generation=np.concatenate([p.generation for p in parts]),
        channel=np.concatenate([p.channel for p in parts]),
        persona=np.concatenate([p.persona for p in parts]),
        parent=np.concatenate([p.parent for p in parts]),
        root=np.concatenate([p.root for p in parts]),
        ids=pa.concat_arrays([p.ids.cast(pa.string()) for p in parts]),
        times=np.concatenate([p.times for p in parts]),
    )

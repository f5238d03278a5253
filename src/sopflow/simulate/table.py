"""One chunk's rows as an Arrow table of :data:`EVENT_SCHEMA`, in delivery order, with optional noise.

Order: grouped by invitation tree (a channel user and everyone they brought in, by the channel user's
number), and within a tree by delivery time: the event time plus, for a few late events, a delivery lag;
events delivered in the same millisecond keep the order anonymous visits, ``$identify``, stages, touches,
return visits. ``ts`` is UTC in whole milliseconds (as SDKs send it), so without noise each tree is sorted by
``ts``.
Chunks follow one another in user order, so the output is the same whatever the chunk size, and it is *not*
sorted by ``ts`` as a whole.

Noise (on by default): ``LATE_SHARE`` of events arrive late (placed after later events of the same tree) and
``DUPLICATE_SHARE`` are sent twice (the same row, same ``event_id``, shortly after): what real SDKs do.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sopflow.events.schema import EVENT_SCHEMA
from sopflow.simulate.delays import (
    LATE_DELIVERY,
    NOISE_DUP,
    NOISE_LAG,
    NOISE_LATE,
    NOISE_RETRY,
    RETRY_DELIVERY,
    delivery_lag,
)
from sopflow.simulate.identity import Anonymous
from sopflow.simulate.population import Population
from sopflow.simulate.rng import I64, Stream, mix64
from sopflow.simulate.rows import Rows, Slots
from sopflow.simulate.scenario import Scenario

LATE_SHARE = 0.003
DUPLICATE_SHARE = 0.002
_TIME_BITS = 39  # milliseconds of delivery time within the period: 3,650 days + lag fit in 2**39
MAX_CHUNK_USERS = 1 << (63 - _TIME_BITS)


class Dictionaries:
    """Arrow arrays a row's small integers index into, built once per run."""

    def __init__(self, scenario: Scenario, slots: Slots) -> None:
        kinds = scenario.kinds
        self.names = pa.array(kinds.names, pa.string())
        self.properties = pa.array(kinds.properties, pa.string())
        self.steps = pa.array(kinds.steps, pa.string())
        self.variants = pa.array(kinds.variants, pa.string())
        self.revenue = pa.array(kinds.revenue, EVENT_SCHEMA.field("revenue").type)
        self.currency = pa.array(kinds.currency, pa.string())
        self.channels = pa.array(scenario.channels, pa.string())
        self.slots = pa.array(slots.names, pa.string())
        self.slot_salts = mix64(np.arange(len(slots.names), dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15))


def build_table(
    scenario: Scenario,
    stream: Stream,
    people: Population,
    rows: Rows,
    anonymous: Anonymous,
    dictionaries: Dictionaries,
    *,
    noise: bool,
) -> pa.Table:
    inside = np.flatnonzero((rows.ts >= scenario.start) & (rows.ts < scenario.end))
    person, kind, slot = rows.person[inside], rows.kind[inside], rows.slot[inside]
    uid = person if rows.uid is None else np.where(rows.uid[inside] < 0, person, rows.uid[inside])
    props = kind if rows.props is None else np.where(rows.props[inside] < 0, kind, rows.props[inside])
    # Whole milliseconds, as SDKs send them: ordering by delivery time in ms is then exact.
    ts_us = scenario.d0_us + np.floor(rows.ts[inside] * 1e3).astype(np.int64) * 1000
    lag = np.zeros(len(inside), dtype=np.int64)
    take = np.arange(len(inside), dtype=np.int64)
    if noise and len(inside):
        row_keys = mix64(people.keys[person] ^ dictionaries.slot_salts[slot])
        late = np.flatnonzero(stream.uniform(row_keys, NOISE_LATE) < LATE_SHARE)
        lag[late] = delivery_lag(stream, row_keys[late], NOISE_LAG, LATE_DELIVERY)
        dup = np.flatnonzero(stream.uniform(row_keys, NOISE_DUP) < DUPLICATE_SHARE)
        take = np.concatenate([take, dup])
        lag = np.concatenate(
            [lag, lag[dup] + delivery_lag(stream, row_keys[dup], NOISE_RETRY, RETRY_DELIVERY)]
        )
    start_us = scenario.d0_us + round(scenario.start * 1e6)
    delivered_ms = (ts_us[take] + lag - start_us) // 1000
    order_key = (people.root[person[take]] << _TIME_BITS) | delivered_ms
    order = take[np.argsort(order_key, kind="stable")]
    return _columns(
        scenario,
        people,
        anonymous,
        dictionaries,
        person=person[order],
        kind=kind[order],
        slot=slot[order],
        uid=uid[order],
        props=props[order],
        ts_us=ts_us[order],
    )


def repeated(text: str, count: int) -> pa.Array:
    """``count`` copies of ``text`` as a string array, built with one buffer copy."""
    data = text.encode()
    offsets = np.arange(count + 1, dtype=np.int64) * len(data)
    buffer = pa.py_buffer(data * count)
    if offsets[-1] < 2**31:
        return pa.StringArray.from_buffers(count, pa.py_buffer(offsets.astype(np.int32)), buffer)
    return pa.LargeStringArray.from_buffers(count, pa.py_buffer(offsets), buffer).cast(pa.string())


def _columns(
    scenario: Scenario,
    people: Population,
    anonymous: Anonymous,
    d: Dictionaries,
    *,
    person: I64,
    kind: I64,
    slot: I64,
    uid: I64,
    props: I64,
    ts_us: I64,
) -> pa.Table:
    kinds = pa.array(kind)
    user_id = pa.concat_arrays([people.ids, anonymous.ids]).take(pa.array(uid))
    parent = people.parent[person]
    inviter = people.ids.take(pa.array(parent, mask=parent < 0))
    columns = {
        "event_id": pc.binary_join_element_wise(scenario.run_tag, user_id, d.slots.take(pa.array(slot)), "-"),
        "event": d.names.take(kinds),
        "user_id": user_id,
        "ts": pa.array(ts_us, EVENT_SCHEMA.field("ts").type),
        "channel": d.channels.take(pa.array(people.channel[person])),
        "campaign": repeated(scenario.campaign, len(kind)),
        "step": d.steps.take(kinds),
        "variant": d.variants.take(kinds),
        "inviter_id": inviter,
        "revenue": d.revenue.take(kinds),
        "currency": d.currency.take(kinds),
        "properties": pa.concat_arrays([d.properties, anonymous.properties]).take(pa.array(props)),
    }
    return pa.Table.from_arrays([columns[name] for name in EVENT_SCHEMA.names], schema=EVENT_SCHEMA)

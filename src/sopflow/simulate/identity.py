"""Anonymous browsing before sign-up, then ``$identify``: so identity merge has real work to do.

Some people (``ANON_SHARE``) visit the landing page one to three times under an anonymous id before they
sign up; at sign-up an ``$identify`` event of their user id carries ``{"$anon_distinct_id": ANON_ID}``. The
anonymous visits happen after the inviter arrived, for invitees, and never before the simulated period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sopflow.events.schema import ANON_ID_PROPERTY
from sopflow.simulate.delays import ANON, ANON_COUNT, ANON_ID, ANON_LEAD, ANON_LEAD_DRAW
from sopflow.simulate.population import Population
from sopflow.simulate.rng import Stream, fixed_width_strings
from sopflow.simulate.rows import MAX_ANON, Rows, Slots
from sopflow.simulate.scenario import Scenario

ANON_SHARE = 0.35
# Probabilities of 1, 2, 3 anonymous visits (MAX_ANON).
ANON_VISITS = np.cumsum([0.5, 0.3, 0.2])


@dataclass
class Anonymous:
    visits: Rows
    identify: Rows
    ids: pa.Array  # the anonymous ids, in the order of ``identify``'s rows
    properties: pa.Array  # the ``$identify`` properties, in the same order


def anonymous(
    scenario: Scenario, stream: Stream, people: Population, slots: Slots, *, kinds: int
) -> Anonymous:
    """``kinds``: how many kinds there are (the identify rows' properties come after them)."""
    entry = people.times[:, 0]
    candidates = np.flatnonzero(entry < scenario.end)
    who = candidates[stream.uniform(people.keys[candidates], ANON) < ANON_SHARE]
    keys = people.keys[who]
    parent = people.parent[who]
    floor = np.where(parent >= 0, people.times[np.maximum(parent, 0), 0], scenario.start)
    at = entry[who]
    lead = np.minimum(ANON_LEAD.draw(stream, keys, ANON_LEAD_DRAW), 0.9 * (at - floor))
    count = 1 + stream.choice(keys, ANON_COUNT, ANON_VISITS)
    ordinal = np.arange(len(who), dtype=np.int64)
    visits = []
    for j in range(MAX_ANON):
        sel = np.flatnonzero(count > j)
        visits.append((sel, at[sel] - lead[sel] * (count[sel] - j) / count[sel], j))
    person = np.concatenate([who[sel] for sel, _t, _j in visits])
    rows = Rows(
        person=person,
        ts=np.concatenate([t for _s, t, _j in visits]),
        kind=np.full(len(person), scenario.anon_kind, dtype=np.int64),
        slot=np.concatenate([np.full(len(sel), slots.anon + j, dtype=np.int64) for sel, _t, j in visits]),
        uid=people.size + np.concatenate([ordinal[sel] for sel, _t, _j in visits]),
    )
    identify = Rows(
        person=who,
        ts=at,
        kind=np.full(len(who), scenario.identify_kind, dtype=np.int64),
        slot=np.full(len(who), slots.identify, dtype=np.int64),
        props=kinds + ordinal,
    )
    ids = fixed_width_strings(b"anon-", stream.bits(keys, ANON_ID), width=16, base=16)
    properties = pc.binary_join_element_wise(f'{{"{ANON_ID_PROPERTY}":"', ids, '"}', "")
    return Anonymous(visits=rows, identify=identify, ids=ids, properties=properties)

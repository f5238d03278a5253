"""Return visits on later days, so retention has data.

After sign-up a person keeps coming back (a ``visit`` event with a ``page``) with a probability per visit
that grows with how deep they went in the funnel, from ``KEEP_BASE`` (sign-up only) to ``KEEP_BASE +
KEEP_DEPTH`` (last stage): the chance of still returning decays geometrically with each visit, and the gaps
between visits grow (see :mod:`sopflow.simulate.delays`), so day-N retention decays as in real cohorts.
"""

from __future__ import annotations

import numpy as np

from sopflow.simulate.delays import RETURN_GO, RETURN_PAGE, return_gap
from sopflow.simulate.population import Population
from sopflow.simulate.rng import Stream, purpose
from sopflow.simulate.rows import MAX_RETURNS, Rows, Slots
from sopflow.simulate.scenario import Scenario

KEEP_BASE = 0.55
KEEP_DEPTH = 0.4


def return_visits(scenario: Scenario, stream: Stream, people: Population, slots: Slots) -> Rows:
    times = people.times
    stages = scenario.stage_count
    depth = np.where(~np.isnan(times), np.arange(stages), 0).max(axis=1)
    keep = KEEP_BASE + KEEP_DEPTH * depth / max(stages - 1, 1)
    active = np.flatnonzero(times[:, 0] < scenario.end)
    at = times[active, 0]
    blocks: list[Rows] = []
    for visit in range(MAX_RETURNS):
        go = stream.uniform(people.keys[active], purpose(RETURN_GO, visit)) < keep[active]
        active, at = active[go], at[go]
        at = at + return_gap(stream, people.keys[active], visit)
        inside = at < scenario.end
        active, at = active[inside], at[inside]
        if not len(active):
            break
        page = stream.choice(people.keys[active], purpose(RETURN_PAGE, visit), scenario.return_cum)
        blocks.append(
            Rows(
                person=active,
                ts=at,
                kind=scenario.return_kind + page,
                slot=np.full(len(active), slots.returns + visit, dtype=np.int64),
            )
        )
    if not blocks:
        empty = np.zeros(0, dtype=np.int64)
        return Rows(person=empty, ts=np.zeros(0), kind=empty, slot=empty)
    return Rows(
        person=np.concatenate([b.person for b in blocks]),
        ts=np.concatenate([b.ts for b in blocks]),
        kind=np.concatenate([b.kind for b in blocks]),
        slot=np.concatenate([b.slot for b in blocks]),
    )

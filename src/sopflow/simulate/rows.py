"""Rows of events before they become Arrow columns: small integer arrays that index the run's dictionaries.

Each event of a person has a slot, a short code unique for that person (``s2``: stage 2, ``i``: the
``$identify``, ``a0``: first anonymous visit, ``r5``: sixth return visit, ``t3``: touch of the fourth
messaging step). The event id is ``RUNTAG-USERID-SLOT``: unique, and the same on every run with the same
playbook, seed and start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sopflow.simulate.rng import F64, I64
from sopflow.simulate.scenario import Scenario

MAX_ANON = 3
MAX_RETURNS = 60


@dataclass
class Rows:
    person: I64
    ts: F64
    kind: I64
    slot: I64
    uid: I64 | None = None  # index into the ids (people, then anonymous ids); None: the person's own id
    props: I64 | None = None  # index into the properties (kinds, then per-row texts); None: the kind's


@dataclass(frozen=True)
class Slots:
    identify: int
    anon: int
    returns: int
    touches: int
    names: list[str]


def slots(scenario: Scenario) -> Slots:
    stages = scenario.stage_count
    names = [f"s{i}" for i in range(stages)] + ["i"]
    names += [f"a{j}" for j in range(MAX_ANON)] + [f"r{j}" for j in range(MAX_RETURNS)]
    names += [f"t{i}" for i in range(len(scenario.touches))]
    return Slots(
        identify=stages,
        anon=stages + 1,
        returns=stages + 1 + MAX_ANON,
        touches=stages + 1 + MAX_ANON + MAX_RETURNS,
        names=names,
    )


def stage_rows(scenario: Scenario, times: F64, persona: I64) -> Rows:
    """One event per stage reached: the stage's event, with properties that match its ``where``."""
    person, stage = np.nonzero(~np.isnan(times))
    kind = scenario.stage_kind + stage * (len(scenario.persona_ids) + 1) + (persona[person] + 1)
    return Rows(
        person=person.astype(np.int64), ts=times[person, stage], kind=kind, slot=stage.astype(np.int64)
    )


def concat(blocks: list[Rows]) -> Rows:
    def joined(name: str) -> I64 | None:
        values = [getattr(b, name) for b in blocks]
        if all(v is None for v in values):
            return None
        fills = [
            v if v is not None else np.full(len(b.person), -1, dtype=np.int64)
            for v, b in zip(values, blocks, strict=True)
        ]
        return np.concatenate(fills)

    return Rows(
        person=np.concatenate([b.person for b in blocks]),
        ts=np.concatenate([b.ts for b in blocks]),
        kind=np.concatenate([b.kind for b in blocks]),
        slot=np.concatenate([b.slot for b in blocks]),
        uid=joined("uid"),
        props=joined("props"),
    )

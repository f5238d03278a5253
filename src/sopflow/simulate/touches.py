"""Touches (触达): an event ``sop_touch`` for each user a messaging step of the timeline reaches.

A step reaches the people who signed up before it and match its audience at the step's time: ``reached`` /
``not_reached`` stages, ``channels`` and ``personas``; ``exit_when`` (a stage, or an event that is a stage's
event) removes those who already got there. ``audience.where`` is not simulated (the touch goes to everyone
else the step targets). Steps of preparation and review phases are the team's own work and touch nobody.
Touches are spread over the step's deadline (at most a day; an hour when none), carry ``step``, the script
``variant`` drawn by weight (``control`` for the base text, none when the script has no variants) and
``{"delivery_channel": …}``; ``channel`` stays the person's acquisition channel. Variants do not change how
people convert (an A/A test).
"""

from __future__ import annotations

import numpy as np

from sopflow.simulate.delays import TOUCH_JITTER, TOUCH_VARIANT
from sopflow.simulate.population import Population
from sopflow.simulate.rng import Stream, purpose
from sopflow.simulate.rows import Rows, Slots
from sopflow.simulate.scenario import Scenario, Touch


def audience(touch: Touch, people: Population) -> np.ndarray:
    """Indexes of the people ``touch`` reaches (stage times compare false when NaN: never reached)."""
    times, at = people.times, touch.offset
    chosen = times[:, 0] <= at
    if touch.reached is not None:
        chosen &= times[:, touch.reached] <= at
    if touch.not_reached is not None:
        chosen &= ~(times[:, touch.not_reached] <= at)
    for stage in touch.exits:
        chosen &= ~(times[:, stage] <= at)
    if touch.channels is not None:
        chosen &= np.isin(people.channel, touch.channels)
    if touch.personas is not None:
        chosen &= np.isin(people.persona, touch.personas)
    return np.flatnonzero(chosen)


def touch_rows(scenario: Scenario, stream: Stream, people: Population, slots: Slots) -> list[Rows]:
    blocks = []
    for touch, first_kind in zip(scenario.touches, scenario.touch_kind, strict=True):
        if not scenario.start <= touch.offset < scenario.end:
            continue
        who = audience(touch, people)
        keys = people.keys[who]
        at = touch.offset + stream.uniform(keys, purpose(TOUCH_JITTER, touch.index)) * touch.spread
        variant = (
            stream.choice(keys, purpose(TOUCH_VARIANT, touch.index), touch.variant_cum)
            if len(touch.variants) > 1
            else np.zeros(len(who), dtype=np.int64)
        )
        blocks.append(
            Rows(
                person=who,
                ts=at,
                kind=first_kind + variant,
                slot=np.full(len(who), slots.touches + touch.index, dtype=np.int64),
            )
        )
    return blocks

"""Who a task is for, decided at its due time from the events, through the analytics engine.

- Campaign members: persons with an event tagged ``campaign`` = the campaign's name or its playbook id;
  when no event carries either, persons whose first channel is one of the playbook's channels.
- A step's ``audience`` narrows the members; every given filter must hold, on events up to the due time:
  ``channels`` (the person's first channel), ``reached`` / ``not_reached`` (a funnel stage's event, with
  its ``where``), ``where`` (each condition holds on some event of the person), ``personas`` (any of them:
  each persona criterion ``event`` done ``min_count`` times within ``within`` before the due time, and its
  ``properties`` conditions on some event).
- ``exit_when`` (an event or a stage reached by the due time) takes persons out of the step.

The per-person function is one NumPy pass over the frame, as every metric is (:mod:`sopflow.analytics.frame`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sopflow.analytics.aarrr.profile import StageRule, first_values, stage_rows, stage_rules
from sopflow.analytics.conditions import Condition, from_playbook, rows_holding
from sopflow.analytics.frame import Coded, Engine, FrameRequest, PersonFrame, PersonTable
from sopflow.playbook.model import Playbook, Step
from sopflow.playbook.timenode import parse_duration


@dataclass(frozen=True)
class Criterion:
    event: str
    tests: tuple[Condition, ...]
    min_count: int
    within_us: int | None


@dataclass(frozen=True)
class PersonaRule:
    properties: tuple[Condition, ...]
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class AudienceSpec:
    """Everything the per-person function needs, as plain hashable data."""

    campaign_keys: tuple[str, ...]
    playbook_channels: tuple[str, ...]
    cutoff: int  # µs UTC: events up to and including this time count
    channels: tuple[str, ...] = ()
    reached: StageRule | None = None
    not_reached: StageRule | None = None
    where: tuple[Condition, ...] = ()
    personas: tuple[PersonaRule, ...] = ()
    exit_event: str | None = None
    exit_stage: StageRule | None = None

    @property
    def filtered(self) -> bool:
        """Does the step choose among members (so an empty result means nothing to send)?"""
        return bool(
            self.channels
            or self.reached
            or self.not_reached
            or self.where
            or self.personas
            or self.exit_event
            or self.exit_stage
        )

    def request(self) -> FrameRequest:
        props = ["campaign", "channel"]
        rules = [r for r in (self.reached, self.not_reached, self.exit_stage) if r is not None]
        tests = [t for r in rules for t in r.tests] + list(self.where)
        for persona in self.personas:
            tests += list(persona.properties) + [t for c in persona.criteria for t in c.tests]
        props += [t.prop for t in tests if t.prop not in props]
        return FrameRequest(
            events=None, columns=tuple(dict.fromkeys(props)), person_ids=True, exact_events=False
        )


def audience_spec(*, playbook: Playbook, step: Step, campaign_name: str, cutoff_us: int) -> AudienceSpec:
    stages = {rule.id: rule for rule in stage_rules(playbook)}
    aud, exit_when = step.audience, step.exit_when
    personas: list[PersonaRule] = []
    if aud is not None:
        for persona in (p for p in playbook.personas if p.id in aud.personas):
            criteria = tuple(
                Criterion(
                    c.event,
                    from_playbook(c.where),
                    c.min_count,
                    parse_duration(c.within) * 1_000_000 if c.within else None,
                )
                for c in persona.criteria
            )
            personas.append(PersonaRule(from_playbook(persona.properties), criteria))
    return AudienceSpec(
        campaign_keys=tuple(dict.fromkeys((campaign_name, playbook.meta.id))),
        playbook_channels=tuple(c.id for c in playbook.channels),
        cutoff=cutoff_us,
        channels=tuple(aud.channels) if aud else (),
        reached=stages.get(aud.reached) if aud and aud.reached else None,
        not_reached=stages.get(aud.not_reached) if aud and aud.not_reached else None,
        where=from_playbook(aud.where) if aud else (),
        personas=tuple(personas),
        exit_event=exit_when.event if exit_when else None,
        exit_stage=stages.get(exit_when.stage) if exit_when and exit_when.stage else None,
    )


def _any(person: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(person[rows], minlength=n) > 0


def _counts(person: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(person[rows], minlength=n)


def _in_values(column: Coded, wanted: tuple[str, ...]) -> np.ndarray:
    lookup = np.array([v in wanted for v in column.values] + [False], dtype=bool)
    picked: np.ndarray = lookup[np.asarray(column.codes)]
    return picked


@dataclass(frozen=True)
class AudienceFunction:
    spec: AudienceSpec

    def __call__(self, frame: PersonFrame) -> PersonTable:
        spec, n = self.spec, frame.n_persons
        person = frame.person_of_rows()
        ts = np.asarray(frame.ts, dtype=np.int64)
        event = np.asarray(frame.event)
        upto = ts <= spec.cutoff
        # The worker's own sop_touch events carry the campaign too (for staff, ``staff:<name>``): membership
        # comes from the users' events only.
        tagged = (
            _in_values(frame.columns["campaign"], spec.campaign_keys)
            & upto
            & (event != frame.event_code("sop_touch"))
        )
        channel, _ts = first_values(person, ts, frame.columns["channel"], n)
        channel_ok = np.array([v in spec.playbook_channels for v in channel.values] + [False], dtype=bool)
        by_channel = channel_ok[np.asarray(channel.codes)] & (np.bincount(person[upto], minlength=n) > 0)
        chosen = np.ones(n, dtype=bool)
        if spec.channels:
            wanted = np.array([v in spec.channels for v in channel.values] + [False], dtype=bool)
            chosen &= wanted[np.asarray(channel.codes)]
        if spec.reached is not None:
            chosen &= _any(person, stage_rows(frame, spec.reached, event) & upto, n)
        if spec.not_reached is not None:
            chosen &= ~_any(person, stage_rows(frame, spec.not_reached, event) & upto, n)
        for test in spec.where:
            chosen &= _any(person, rows_holding(test, frame.columns[test.prop]) & upto, n)
        if spec.personas:
            chosen &= self._personas(frame, person, ts, event, upto, n)
        exited = np.zeros(n, dtype=bool)
        if spec.exit_event is not None:
            exited |= _any(person, (event == frame.event_code(spec.exit_event)) & upto, n)
        if spec.exit_stage is not None:
            exited |= _any(person, stage_rows(frame, spec.exit_stage, event) & upto, n)
        ids = frame.person_ids or [str(i) for i in range(n)]
        return {
            "person": Coded(np.arange(n, dtype=np.int32), list(ids)),
            "tagged": _any(person, tagged, n),
            "by_channel": by_channel,
            "chosen": chosen,
            "exited": exited,
        }

    def _personas(
        self,
        frame: PersonFrame,
        person: np.ndarray,
        ts: np.ndarray,
        event: np.ndarray,
        upto: np.ndarray,
        n: int,
    ) -> np.ndarray:
        spec = self.spec
        matched = np.zeros(n, dtype=bool)
        for persona in spec.personas:
            fits = np.ones(n, dtype=bool)
            for test in persona.properties:
                fits &= _any(person, rows_holding(test, frame.columns[test.prop]) & upto, n)
            for criterion in persona.criteria:
                rows = (event == frame.event_code(criterion.event)) & upto
                for test in criterion.tests:
                    rows &= rows_holding(test, frame.columns[test.prop])
                if criterion.within_us is not None:
                    rows &= ts >= spec.cutoff - criterion.within_us
                fits &= _counts(person, rows, n) >= criterion.min_count
            matched |= fits
        return matched


@dataclass(frozen=True)
class Audience:
    persons: list[str]  # who the step is for, sorted
    exited: int  # members who met the exit condition
    filtered: bool


def evaluate_audience(engine: Engine, spec: AudienceSpec) -> Audience:
    table = engine.map_persons(spec.request(), AudienceFunction(spec))
    if not table:
        return Audience([], 0, spec.filtered)
    person = table["person"]
    assert isinstance(person, Coded)
    tagged, by_channel = np.asarray(table["tagged"]), np.asarray(table["by_channel"])
    members = tagged if tagged.any() else by_channel
    chosen, exited = np.asarray(table["chosen"]) & members, np.asarray(table["exited"]) & members
    ids = person.decoded()
    keep = np.flatnonzero(chosen & ~exited)
    return Audience(sorted(str(ids[i]) for i in keep), int(np.count_nonzero(chosen & exited)), spec.filtered)

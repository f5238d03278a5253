"""AARRR counts and rates from the person profile rows, overall and per channel.

``--json`` shape of ``sopflow aarrr``::

    {"playbook": {"id", "name", "version"},
     "stages": [{"stage" (acquisition…referral), "name", "funnel_stages": [stage ids tagged with it],
                 "funnel_stage_names", "users" (null: no stage tagged), "rate_from_acquisition",
                 "rate_from_previous"}],
     "by": null | "channel",
     "breakdown": [{"channel", "name", "stages": [...as above]}],     (empty without --by channel)
     "persons", "invitees", "unresolved_invitees", "range": {"from", "to", "tz"}, "engine"}

``rate_from_acquisition`` = users ÷ acquisition users; ``rate_from_previous`` = users ÷ the users of the
nearest earlier stage that has a count (null for acquisition); a rate is null when its denominator is 0 or
missing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sopflow.analytics.aarrr.channels import channel_ids, channel_name, count_by_channel, ordered_channels
from sopflow.analytics.aarrr.definition import AarrrSpec, aarrr_spec, invitation_counts, stage_membership
from sopflow.analytics.aarrr.invitations import resolve_inviters
from sopflow.analytics.aarrr.profile import profile_rows
from sopflow.analytics.frame import Coded, Engine, PersonTable
from sopflow.analytics.timerange import TimeRange
from sopflow.playbook.estimate import clean_numbers
from sopflow.playbook.labels import label
from sopflow.playbook.model import AARRR_STAGES, Playbook


@dataclass(frozen=True)
class StageCount:
    stage: str
    name: str
    funnel_stages: list[str]
    funnel_stage_names: list[str]
    users: int | None
    rate_from_acquisition: float | None
    rate_from_previous: float | None


@dataclass(frozen=True)
class ChannelStages:
    channel: str
    name: str
    stages: list[StageCount]


@dataclass(frozen=True)
class AarrrResult:
    playbook: dict[str, str]
    stages: list[StageCount]
    by: str | None
    breakdown: list[ChannelStages]
    persons: int
    invitees: int
    unresolved_invitees: int
    range: dict[str, Any] = field(default_factory=dict)
    engine: str = ""

    def as_json(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = clean_numbers(asdict(self))
        return cleaned


def compute_aarrr(
    *, engine: Engine, playbook: Playbook, time_range: TimeRange | None = None, by_channel: bool = False
) -> AarrrResult:
    """The five AARRR stages of ``playbook``'s funnel on the engine's events (definitions: ``definition``)."""
    spec = aarrr_spec(playbook, time_range=time_range)
    table = engine.map_persons(spec.profile.request(), spec.person_function)
    return aggregate_aarrr(
        table, spec=spec, playbook=playbook, by_channel=by_channel, time_range=time_range, engine=engine.name
    )


def aggregate_aarrr(
    table: PersonTable,
    *,
    spec: AarrrSpec,
    playbook: Playbook,
    by_channel: bool = False,
    time_range: TimeRange | None = None,
    engine: str = "",
) -> AarrrResult:
    table = profile_rows(table, spec.profile)
    inviters = resolve_inviters(table)
    member = stage_membership(table, spec, inviters)
    invitees, unresolved = invitation_counts(table, spec, inviters)
    breakdown: list[ChannelStages] = []
    if by_channel:
        channel = table["channel"]
        assert isinstance(channel, Coded)
        ids = channel_ids(channel)
        weight = count_by_channel(ids)
        for cid in ordered_channels(playbook, weight, weight):
            rows = member[ids == cid]
            breakdown.append(ChannelStages(cid, channel_name(playbook, cid), _stages(spec, playbook, rows)))
    return AarrrResult(
        playbook={"id": playbook.meta.id, "name": playbook.meta.name, "version": playbook.meta.version},
        stages=_stages(spec, playbook, member),
        by="channel" if by_channel else None,
        breakdown=breakdown,
        persons=len(member),
        invitees=invitees,
        unresolved_invitees=unresolved,
        range=time_range.as_json() if time_range else {"from": None, "to": None, "tz": None},
        engine=engine,
    )


def _stages(spec: AarrrSpec, playbook: Playbook, member: np.ndarray) -> list[StageCount]:
    funnel = playbook.funnel.stages
    counts = [int(c) for c in member.sum(axis=0)] if len(member) else [0] * len(AARRR_STAGES)
    users = [counts[j] if spec.counted(j) else None for j in range(len(AARRR_STAGES))]
    out = []
    previous: int | None = None
    for j, stage in enumerate(AARRR_STAGES):
        out.append(
            StageCount(
                stage=stage,
                name=label("aarrr", stage),
                funnel_stages=[funnel[i].id for i in spec.tagged[j]],
                funnel_stage_names=[funnel[i].name for i in spec.tagged[j]],
                users=users[j],
                rate_from_acquisition=_rate(users[j], users[0]),
                rate_from_previous=_rate(users[j], previous) if j else None,
            )
        )
        if users[j] is not None:
            previous = users[j]
    return out


def _rate(numerator: int | None, denominator: int | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator

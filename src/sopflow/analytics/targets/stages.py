"""Persons per funnel stage, counted by the funnel (:func:`sopflow.analytics.funnel.run_funnel`).

The one place the targets depend on the funnel. The playbook's funnel becomes a funnel spec: its stages'
events as steps, their ``where`` as step conditions, the funnel's ``window``, ``ordered`` steps and
``--entry any`` (the best attempt counts), over the range; broken down by the channel of the entry event.
"""

from __future__ import annotations

from dataclasses import dataclass

from sopflow.analytics.aarrr.channels import NO_CHANNEL
from sopflow.analytics.conditions import from_playbook
from sopflow.analytics.frame import Engine
from sopflow.analytics.funnel import FunnelSpec, run_funnel
from sopflow.analytics.funnel.aggregate import NONE_VALUE
from sopflow.analytics.timerange import TimeRange
from sopflow.playbook.model import Playbook
from sopflow.playbook.timenode import parse_duration

# Every channel gets its own row: a playbook rarely has more, and "(other)" would hide the worst one.
_ALL_CHANNELS = 10_000


@dataclass(frozen=True)
class StageCounts:
    users: list[int]  # per funnel stage
    by_channel: dict[str, list[int]]  # per entry channel ("(none)": the entry event had none)


def funnel_spec(playbook: Playbook, time_range: TimeRange | None) -> FunnelSpec:
    stages = playbook.funnel.stages
    return FunnelSpec(
        steps=tuple(s.event for s in stages),
        window_us=parse_duration(playbook.funnel.window) * 1_000_000,
        where=tuple(from_playbook(s.where) for s in stages),
        by="channel",
        top=_ALL_CHANNELS,
        range=time_range,
    )


def count_stages(*, engine: Engine, playbook: Playbook, time_range: TimeRange | None) -> StageCounts:
    result = run_funnel(engine, funnel_spec(playbook, time_range))
    by_channel = {
        (NO_CHANNEL if value == NONE_VALUE else value): [s.users for s in steps]
        for value, steps in result.breakdown
    }
    return StageCounts(users=[s.users for s in result.steps], by_channel=by_channel)

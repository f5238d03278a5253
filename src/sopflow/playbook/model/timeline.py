"""The timeline (时间推进表): the campaign span, phases, and the steps at each time node."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from sopflow.i18n import _
from sopflow.playbook.model.base import AfterNode, Base, Condition, Duration, Id, Text, TextList, TimeNode

DeliveryChannel = Literal[
    "community_group",
    "moments",
    "private_chat",
    "official_account",
    "mini_program",
    "offline",
    "email",
    "webhook",
]
PhaseKind = Literal["preparation", "warm_up", "launch", "conversion", "retention", "review", "other"]


class Audience(Base):
    """Who a step is for; every given filter must hold."""

    personas: list[Id] = Field(default_factory=list)
    channels: list[Id] = Field(default_factory=list)
    reached: Id | None = None
    not_reached: Id | None = None
    where: list[Condition] = Field(default_factory=list)


class ExitCondition(Base):
    """Users who meet this are skipped (e.g. those who already paid): by event name or by funnel stage."""

    event: str | None = None
    stage: Id | None = None

    @model_validator(mode="after")
    def _one_given(self) -> ExitCondition:
        if (self.event is None) == (self.stage is None):
            raise PydanticCustomError("exit_condition", _("exit_when needs exactly one of: event, stage"))
        return self


class Step(Base):
    id: Id
    name: Text
    at: TimeNode | None = None
    after: AfterNode | None = None
    owner: Id
    channel: DeliveryChannel
    action: Text
    script: Id | None = None
    materials: list[Id] = Field(default_factory=list)
    checklist: TextList = Field(default_factory=list)
    deadline: Duration | None = None
    audience: Audience | None = None
    exit_when: ExitCondition | None = None
    stage: Id | None = None
    notes: str = ""

    @model_validator(mode="after")
    def _one_time(self) -> Step:
        if (self.at is None) == (self.after is None):
            raise PydanticCustomError("step_time", _("a step needs exactly one of: at, after"))
        return self


class Phase(Base):
    id: Id
    name: Text
    kind: PhaseKind = "other"
    steps: list[Step] = Field(min_length=1)


class Span(Base):
    start: TimeNode
    end: TimeNode


class Timeline(Base):
    span: Span
    phases: list[Phase] = Field(min_length=1)

    def steps(self) -> list[Step]:
        return [step for phase in self.phases for step in phase.steps]

"""The root of a playbook document."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from sopflow.playbook.model.audience import Persona
from sopflow.playbook.model.base import Base, stringify_scalar
from sopflow.playbook.model.channels import Channel
from sopflow.playbook.model.content import CostItem, Material, Script
from sopflow.playbook.model.funnel import Funnel
from sopflow.playbook.model.meta import Brief, Meta, PersonaKit, Team
from sopflow.playbook.model.policies import EstimateSettings, Policies
from sopflow.playbook.model.targets import Target
from sopflow.playbook.model.timeline import Timeline


class Playbook(Base):
    format: Literal[1] = 1
    meta: Meta
    brief: Brief
    team: Team
    personas: list[Persona] = Field(default_factory=list)
    persona_kit: PersonaKit | None = None
    channels: list[Channel] = Field(min_length=1)
    funnel: Funnel
    targets: list[Target] = Field(default_factory=list)
    # `course_price: 699` is a value to paste into a script: keep it as the text written.
    variables: dict[str, Annotated[str, BeforeValidator(stringify_scalar)]] = Field(default_factory=dict)
    scripts: list[Script] = Field(default_factory=list)
    materials: list[Material] = Field(default_factory=list)
    costs: list[CostItem] = Field(default_factory=list)
    timeline: Timeline
    policies: Policies = Field(default_factory=Policies)
    estimate: EstimateSettings = Field(default_factory=EstimateSettings)

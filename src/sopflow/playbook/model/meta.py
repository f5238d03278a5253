"""Who owns the playbook and why the campaign exists: meta, brief (活动背景/宗旨/目标) and research."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from sopflow.i18n import _
from sopflow.playbook.model.base import Base, Id, Text, TextList, VersionText


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


class Meta(Base):
    id: Id
    name: Text
    version: VersionText
    owner: Text
    summary: str = ""
    tags: TextList = Field(default_factory=list)
    timezone: str = "Asia/Shanghai"
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in _timezones():
            raise PydanticCustomError("invalid_timezone", _("unknown timezone {value!r}", value=value))
        return value


class ResearchItem(Base):
    """One item of the pre-planning checklist: what was found, and whether it is done."""

    notes: str = ""
    done: bool = False


# The eight questions to answer before planning (seed 001: 制定计划之前).
RESEARCH_ITEMS = (
    "user_needs",
    "past_campaigns",
    "growth_goal",
    "selling_point",
    "resource_channels",
    "user_scenarios",
    "cost_and_acquisition",
    "profit_model",
)


class Research(Base):
    user_needs: ResearchItem = Field(default_factory=ResearchItem)
    past_campaigns: ResearchItem = Field(default_factory=ResearchItem)
    growth_goal: ResearchItem = Field(default_factory=ResearchItem)
    selling_point: ResearchItem = Field(default_factory=ResearchItem)
    resource_channels: ResearchItem = Field(default_factory=ResearchItem)
    user_scenarios: ResearchItem = Field(default_factory=ResearchItem)
    cost_and_acquisition: ResearchItem = Field(default_factory=ResearchItem)
    profit_model: ResearchItem = Field(default_factory=ResearchItem)

    def items(self) -> list[tuple[str, ResearchItem]]:
        return [(key, getattr(self, key)) for key in RESEARCH_ITEMS]


class Brief(Base):
    background: Text
    purpose: Text
    goals: list[Text] = Field(min_length=1)
    research: Research = Field(default_factory=Research)


class KitItem(Base):
    value: str = ""
    notes: str = ""
    done: bool = False


# 人设六件套, in the seed's order.
PERSONA_KIT_ITEMS = ("nickname", "wechat_id", "avatar", "signature", "moments_cover", "moments_plan")


class PersonaKit(Base):
    nickname: KitItem = Field(default_factory=KitItem)
    wechat_id: KitItem = Field(default_factory=KitItem)
    avatar: KitItem = Field(default_factory=KitItem)
    signature: KitItem = Field(default_factory=KitItem)
    moments_cover: KitItem = Field(default_factory=KitItem)
    moments_plan: KitItem = Field(default_factory=KitItem)

    def items(self) -> list[tuple[str, KitItem]]:
        return [(key, getattr(self, key)) for key in PERSONA_KIT_ITEMS]


class Role(Base):
    """An owner role for steps (运营, 社群助理, 讲师…), with the people who hold it."""

    id: Id
    name: Text
    people: TextList = Field(default_factory=list)
    escalate_to: Id | None = None


class Team(Base):
    roles: list[Role] = Field(min_length=1)

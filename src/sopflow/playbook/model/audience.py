"""Personas (用户画像): named segments with descriptive attributes and the criteria that identify them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from sopflow.i18n import _
from sopflow.playbook.model.base import Base, Condition, Duration, Id, Rate, Text, TextList


class Criterion(Base):
    """Users who did ``event`` (at least ``min_count`` times, within ``within``), optionally filtered."""

    event: Text
    where: list[Condition] = Field(default_factory=list)
    min_count: int = Field(default=1, ge=1)
    within: Duration | None = None


class Persona(Base):
    id: Id
    name: Text
    description: str = ""
    age: tuple[int, int] | None = None
    gender: Literal["any", "female", "male"] = "any"
    preferences: TextList = Field(default_factory=list)
    occupation: TextList = Field(default_factory=list)
    region: TextList = Field(default_factory=list)
    income: str | None = None
    share: Rate | None = None
    properties: list[Condition] = Field(default_factory=list)
    criteria: list[Criterion] = Field(default_factory=list)

    @field_validator("age")
    @classmethod
    def _age_range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not (0 <= value[0] <= value[1] <= 120):
            raise PydanticCustomError(
                "invalid_range", _("age range must be [low, high] with 0 <= low <= high <= 120")
            )
        return value

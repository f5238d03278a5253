"""The funnel (漏斗模型): ordered stages mapped to events and AARRR stages, plus the expected fission."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sopflow.playbook.model.base import Base, Condition, Duration, Id, Money, Rate, Text

AarrrStage = Literal["acquisition", "activation", "retention", "revenue", "referral"]
AARRR_STAGES: tuple[AarrrStage, ...] = ("acquisition", "activation", "retention", "revenue", "referral")


class Stage(Base):
    """A funnel stage. ``expected_rate`` is the expected conversion from the previous stage (not on stage 1);
    ``value`` is the revenue each person reaching this stage brings (a price, a renewal fee)."""

    id: Id
    name: Text
    event: Text
    where: list[Condition] = Field(default_factory=list)
    aarrr: AarrrStage
    expected_rate: Rate | None = None
    value: Money = 0


class Referral(Base):
    """Fission (裂变): each generation of users brings ``k`` new users per person at ``inviters_stage``.

    ``k`` is one number for every generation or a list, one per generation; generations stop after
    ``max_generations`` (a cap, since a plan with K ≥ 1 would otherwise never end).
    """

    k: float | list[float]
    max_generations: int = Field(default=3, ge=1, le=10)
    inviters_stage: Id | None = None
    entry_stage: Id | None = None
    reward_per_invitee: Money = 0

    def k_for(self, generation: int) -> float:
        """K for the step from ``generation`` to ``generation + 1`` (0-based)."""
        if isinstance(self.k, list):
            return self.k[generation] if generation < len(self.k) else 0.0
        return self.k


class Funnel(Base):
    window: Duration = "7d"
    stages: list[Stage] = Field(min_length=2)
    referral: Referral | None = None

    def stage(self, stage_id: str) -> Stage:
        return next(s for s in self.stages if s.id == stage_id)

    def index(self, stage_id: str) -> int:
        return next(i for i, s in enumerate(self.stages) if s.id == stage_id)

"""Policies that protect users from the team: quiet hours and a per-user frequency cap across steps."""

from __future__ import annotations

from pydantic import Field

from sopflow.playbook.model.base import Base, Clock, Duration, Rate


class QuietHours(Base):
    start: Clock = "22:00"
    end: Clock = "08:00"


class FrequencyCap(Base):
    max_touches: int = Field(ge=1)
    per: Duration


class Policies(Base):
    quiet_hours: QuietHours | None = None
    frequency_cap: FrequencyCap | None = None


class EstimateSettings(Base):
    """Spread used by the Monte Carlo estimate: relative standard deviation of rates, K and reach."""

    rate_spread: Rate = 0.15
    reach_spread: Rate = 0.15

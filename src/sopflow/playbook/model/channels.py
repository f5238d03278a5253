"""Acquisition channels (渠道) and their advance estimate (测算): base users, posters, reach, rates, cost, 人力."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sopflow.playbook.model.base import Base, Count, Id, Money, Rate, Text

ChannelKind = Literal[
    "moments",
    "community_fission",
    "community",
    "official_account",
    "mini_program",
    "private_chat",
    "paid",
    "offline",
    "referral",
    "email",
    "other",
]


class Manpower(Base):
    people: Count = 0
    hours: float = Field(default=0, ge=0)


class Channel(Base):
    """Where users come from, and what the team expects of it before launch.

    Reach is ``expected_reach`` when given, else ``posters × reach_per_poster`` (e.g. how many people post
    on Moments and how many friends each post reaches), else ``base_users``. ``entry_rate`` turns reach into
    users at the funnel's first stage; ``rates`` overrides the funnel's stage rates for this channel.
    """

    id: Id
    name: Text
    kind: ChannelKind
    base_users: Count = 0
    posters: Count | None = None
    reach_per_poster: float | None = Field(default=None, ge=0)
    expected_reach: Count | None = None
    entry_rate: Rate = 1.0
    rates: dict[Id, Rate] = Field(default_factory=dict)
    cost: Money = 0
    manpower: Manpower = Field(default_factory=Manpower)
    notes: str = ""

    def reach(self) -> float:
        if self.expected_reach is not None:
            return float(self.expected_reach)
        if self.posters is not None and self.reach_per_poster is not None:
            return self.posters * self.reach_per_poster
        return float(self.base_users)

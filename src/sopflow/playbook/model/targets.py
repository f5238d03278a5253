"""Targets (预期): expected values of named metrics, which analytics later compares with actuals.

Metric names (the one vocabulary shared by the estimate and the analytics):

=========================  ==================================================================
``users.<stage>``          persons reaching the stage
``rate.<stage>``           conversion from the previous stage
``rate_from_first.<stage>`` conversion from the first stage
``channel_users.<channel>`` persons entering through the channel
``new_users``              persons entering at the first stage (channels and referrals)
``referred_users``         persons entering through referrals
``revenue`` ``cost``       money, in the playbook's currency
``roi``                    revenue ÷ cost (投产比)
``cac``                    cost ÷ persons reaching the first revenue stage
``k_factor``               invitees ÷ persons who could invite
=========================  ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from sopflow.playbook.model.base import Base, Id, Text

SCALAR_METRICS = ("new_users", "referred_users", "revenue", "cost", "roi", "cac", "k_factor")
STAGE_METRICS = ("users", "rate", "rate_from_first")
CHANNEL_METRICS = ("channel_users",)
RATE_KINDS = ("rate", "rate_from_first")
LOWER_IS_BETTER = ("cost", "cac")

Direction = Literal["at_least", "at_most"]


@dataclass(frozen=True)
class MetricName:
    kind: str
    subject: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}.{self.subject}" if self.subject else self.kind

    @property
    def is_rate(self) -> bool:
        return self.kind in RATE_KINDS


def parse_metric(text: str) -> MetricName | None:
    """The metric named by ``text``, or None when the grammar does not know it (subjects are checked later)."""
    kind, _, subject = text.strip().partition(".")
    if not subject:
        return MetricName(kind) if kind in SCALAR_METRICS else None
    if kind in STAGE_METRICS or kind in CHANNEL_METRICS:
        return MetricName(kind, subject)
    return None


class Target(Base):
    id: Id
    name: Text
    metric: Text
    expected: float
    direction: Direction | None = None
    tolerance: float = Field(default=0.1, ge=0, le=1)

    def effective_direction(self) -> Direction:
        if self.direction:
            return self.direction
        return "at_most" if self.metric in LOWER_IS_BETTER else "at_least"

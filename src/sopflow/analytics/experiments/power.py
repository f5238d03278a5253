"""``sopflow experiment plan``: persons per arm (and days) a test needs to detect a given lift.

Two-sided test of two proportions with the normal approximation and unpooled variances (the variance
Welch's test estimates), equal arms:

    n per arm = (z_{1−α'/2} + z_{power})² · (p₁(1 − p₁) + p₂(1 − p₂)) / δ²

with ``p₁`` the baseline, ``δ`` the minimum detectable effect (absolute, or ``baseline × mde`` with
``--relative``) and ``p₂ = p₁ + δ``. With more than two arms each variant is compared with the control at
``α' = α / (arms − 1)`` (Bonferroni: the Holm correction's first step, so the plan holds under ``--correction
holm``). The same formula for any metric with variances ``s²`` is :func:`persons_for_difference`.

Days: the persons needed in all arms ÷ persons exposed per day, from ``--daily-persons`` or the playbook's
planned traffic at the step (see :func:`planned_step_persons`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from sopflow.errors import InvalidInput
from sopflow.i18n import _

if TYPE_CHECKING:
    from sopflow.playbook.model import Playbook


@dataclass(frozen=True)
class PowerPlan:
    baseline: float
    mde_abs: float
    mde_rel: float
    power: float
    alpha: float
    arms: int
    alpha_per_comparison: float
    persons_per_arm: int
    persons_total: int
    daily_persons: float | None
    days: int | None
    step: str | None
    step_persons: float | None  # planned persons the step reaches in one run of the playbook

    def as_json(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "mde_abs": self.mde_abs,
            "mde_rel": self.mde_rel,
            "power": self.power,
            "alpha": self.alpha,
            "arms": self.arms,
            "alpha_per_comparison": self.alpha_per_comparison,
            "persons_per_arm": self.persons_per_arm,
            "persons_total": self.persons_total,
            "daily_persons": self.daily_persons,
            "days": self.days,
            "step": self.step,
            "step_persons": self.step_persons,
        }


def persons_for_difference(*, variance_sum: float, delta: float, power: float, alpha: float) -> int:
    """Persons per arm to detect ``delta`` when ``s²_control + s²_variant = variance_sum``."""
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return max(2, math.ceil(z * z * variance_sum / (delta * delta)))


def plan_experiment(
    *,
    baseline: float,
    mde: float,
    relative: bool = False,
    power: float = 0.8,
    alpha: float = 0.05,
    arms: int = 2,
    daily_persons: float | None = None,
    playbook: Playbook | None = None,
    step: str | None = None,
) -> PowerPlan:
    _check(baseline=baseline, mde=mde, power=power, alpha=alpha, arms=arms)
    delta = baseline * mde if relative else mde
    p2 = baseline + delta
    if not 0 < p2 < 1:
        raise InvalidInput(
            _(
                "--baseline plus the lift is {value:.4g}, outside 0 to 1: a conversion rate cannot get there",
                value=p2,
            )
        )
    per_comparison = alpha / (arms - 1)
    n = persons_for_difference(
        variance_sum=baseline * (1 - baseline) + p2 * (1 - p2),
        delta=delta,
        power=power,
        alpha=per_comparison,
    )
    step_persons = None
    if playbook is not None:
        if step is None:
            raise InvalidInput(_("--playbook needs --step: the step whose planned traffic sizes the test"))
        step_persons, span_days = planned_step_persons(playbook, step)
        daily_persons = step_persons / span_days
    elif daily_persons is not None and not daily_persons > 0:
        raise InvalidInput(_("--daily-persons must be more than 0, got {value}", value=daily_persons))
    days = math.ceil(n * arms / daily_persons) if daily_persons else None
    return PowerPlan(
        baseline=baseline,
        mde_abs=delta,
        mde_rel=delta / baseline,
        power=power,
        alpha=alpha,
        arms=arms,
        alpha_per_comparison=per_comparison,
        persons_per_arm=n,
        persons_total=n * arms,
        daily_persons=daily_persons,
        days=days,
        step=step,
        step_persons=step_persons,
    )


def _check(*, baseline: float, mde: float, power: float, alpha: float, arms: int) -> None:
    if not 0 < baseline < 1:
        raise InvalidInput(_("--baseline must be a rate between 0 and 1, got {value}", value=baseline))
    if mde == 0 or not math.isfinite(mde):
        raise InvalidInput(_("--mde must be a lift other than 0, got {value}", value=mde))
    if not 0 < power < 1:
        raise InvalidInput(_("--power must be between 0 and 1, got {value}", value=power))
    check_alpha(alpha)
    if arms < 2:
        raise InvalidInput(_("--arms must be at least 2 (the control and one variant), got {n}", n=arms))


def check_alpha(alpha: float) -> None:
    if not 0 < alpha < 0.5:
        raise InvalidInput(_("--alpha must be between 0 and 0.5, got {value}", value=alpha))


def planned_step_persons(playbook: Playbook, step: str) -> tuple[float, float]:
    """Planned persons the step reaches in one run, and the timeline's span in days.

    The step reaches the planned persons of its audience's ``reached`` stage (the funnel's first stage when
    none), less those of its ``not_reached`` stage; a one-off step's persons spread over the span.
    """
    from sopflow.analytics.experiments.spec import find_step
    from sopflow.playbook.estimate import estimate
    from sopflow.playbook.timenode import parse_time_node

    found = find_step(playbook, step)
    users = {s.id: s.users for s in estimate(playbook).stages}
    first = playbook.funnel.stages[0].id
    audience = found.audience
    persons = users.get((audience.reached if audience else None) or first, 0.0)
    if audience and audience.not_reached in users:
        persons = max(0.0, persons - users[audience.not_reached])
    span = playbook.timeline.span
    days = max(1.0, (parse_time_node(span.end) - parse_time_node(span.start)) / 86_400)
    if not persons > 0:
        raise InvalidInput(_("the playbook plans no persons at step {step!r}", step=step))
    return persons, days

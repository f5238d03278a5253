"""Always-valid confidence sequences (``--sequential``): look every day and the error rate still holds.

The asymptotic confidence sequence of Howard et al. (2021, "Time-uniform, nonparametric, nonasymptotic
confidence sequences", eq. 14, the two-sided normal mixture; made asymptotic by Waudby-Smith et al.),
tuned as GrowthBook documents (docs.growthbook.io/statistics/sequential): with ``N`` persons in the two
arms and the mixture's ``ρ`` chosen so the interval is narrowest at ``N* = 5000`` persons,

    ρ² = (−2·ln α + ln(−2·ln α + 1)) / N*
    half-width = se · √( 2·(N·ρ² + 1) / (N·ρ²) · ln(√(N·ρ² + 1) / α) )

around the same ``Δ`` and ``se`` as Welch's test (the relative lift uses its delta-method ``se``). The
always-valid p-value is the smallest ``α`` whose sequence (same ``ρ``) excludes 0, the mixture SPRT's:

    p = min(1, √(N·ρ² + 1) · exp(−z² · N·ρ² / (2·(N·ρ² + 1))))   with z = Δ / se

so ``p < α`` exactly when the interval excludes 0. The intervals are wider than fixed-horizon ones; that
is the price of peeking.
"""

from __future__ import annotations

import math

from sopflow.analytics.experiments.stats.frequentist import TestResult
from sopflow.analytics.experiments.stats.moments import Difference

TUNING_PERSONS = 5000


def mixture_rho_sq(alpha: float, tuning: int = TUNING_PERSONS) -> float:
    log_alpha = -2 * math.log(alpha)
    return (log_alpha + math.log(log_alpha + 1)) / tuning


def width_factor(persons: int, alpha: float, tuning: int = TUNING_PERSONS) -> float:
    """Half-width ÷ se of the confidence sequence after ``persons`` persons in both arms."""
    v = persons * mixture_rho_sq(alpha, tuning)
    return math.sqrt(2 * (v + 1) / v * math.log(math.sqrt(v + 1) / alpha))


def always_valid_p(z: float, persons: int, alpha: float, tuning: int = TUNING_PERSONS) -> float:
    v = persons * mixture_rho_sq(alpha, tuning)
    return min(1.0, math.sqrt(v + 1) * math.exp(-z * z * v / (2 * (v + 1))))


def sequential_test(
    diff: Difference, *, alpha: float, persons: int, tuning: int = TUNING_PERSONS
) -> TestResult:
    se = diff.se_abs
    if not se > 0 or not math.isfinite(se) or persons < 1:
        return TestResult()
    factor = width_factor(persons, alpha, tuning)
    lift = diff.lift_abs
    rel, se_rel = diff.lift_rel, diff.se_rel
    return TestResult(
        p_value=always_valid_p(lift / se, persons, alpha, tuning),
        ci_abs=(lift - factor * se, lift + factor * se),
        ci_rel=None if rel is None or se_rel is None else (rel - factor * se_rel, rel + factor * se_rel),
    )

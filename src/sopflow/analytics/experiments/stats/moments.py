"""Per-arm sufficient statistics and the difference of two arms' means, as GrowthBook's gbstats does.

An arm is ``n`` persons with metric values ``y`` (0/1 for a conversion, money for revenue) and, for CUPED,
pre-exposure values ``x``: the engine hands over ``n, Σy, Σy², Σx, Σx², Σxy`` and nothing else.
Variances are sample variances (divisor ``n − 1``). The difference of means carries the variance of each
mean (``s² / n``) and the Welch–Satterthwaite degrees of freedom, so every test below reads one object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ArmStats:
    n: int
    total: float  # Σy
    total_sq: float  # Σy²
    pre_total: float = 0.0  # Σx (CUPED)
    pre_total_sq: float = 0.0  # Σx²
    cross: float = 0.0  # Σxy
    positives: int = 0  # persons with y > 0 (converted, paid, came back)

    def __add__(self, other: ArmStats) -> ArmStats:
        return ArmStats(
            self.n + other.n,
            self.total + other.total,
            self.total_sq + other.total_sq,
            self.pre_total + other.pre_total,
            self.pre_total_sq + other.pre_total_sq,
            self.cross + other.cross,
            self.positives + other.positives,
        )

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        return _variance(self.n, self.total, self.total_sq)

    @property
    def pre_mean(self) -> float:
        return self.pre_total / self.n if self.n else math.nan

    @property
    def pre_variance(self) -> float:
        return _variance(self.n, self.pre_total, self.pre_total_sq)

    @property
    def covariance(self) -> float:
        """Sample covariance of ``x`` and ``y`` (divisor ``n − 1``)."""
        if self.n < 2:
            return math.nan
        return (self.cross - self.total * self.pre_total / self.n) / (self.n - 1)


def _variance(n: int, total: float, total_sq: float) -> float:
    if n < 2:
        return math.nan
    # Σy² − (Σy)²/n can come out a hair below zero for constant values: it is zero then.
    return max(0.0, (total_sq - total * total / n) / (n - 1))


@dataclass(frozen=True)
class Difference:
    """``variant − control`` of two means, with the variance of each mean and Welch's degrees of freedom."""

    control_mean: float
    variant_mean: float
    control_var: float  # variance of the control's mean: s²/n
    variant_var: float
    df: float

    @property
    def lift_abs(self) -> float:
        return self.variant_mean - self.control_mean

    @property
    def se_abs(self) -> float:
        return math.sqrt(self.control_var + self.variant_var)

    @property
    def lift_rel(self) -> float | None:
        if self.control_mean == 0:
            return None
        return self.variant_mean / self.control_mean - 1

    @property
    def se_rel(self) -> float | None:
        """Delta method for ``mean_t / mean_c − 1`` with independent arms (GrowthBook's relative lift)."""
        c, t = self.control_mean, self.variant_mean
        if c == 0:
            return None
        return math.sqrt(self.variant_var / c**2 + self.control_var * t**2 / c**4)


def difference(control: ArmStats, variant: ArmStats) -> Difference | None:
    """The difference of the two arms' means, or ``None`` when an arm has fewer than 2 persons."""
    if control.n < 2 or variant.n < 2:
        return None
    return make_difference(
        control.mean, variant.mean, control.variance, variant.variance, control.n, variant.n
    )


def make_difference(
    control_mean: float, variant_mean: float, control_s2: float, variant_s2: float, nc: int, nt: int
) -> Difference:
    vc, vt = control_s2 / nc, variant_s2 / nt
    return Difference(control_mean, variant_mean, vc, vt, welch_df(vc, vt, nc, nt))


def welch_df(vc: float, vt: float, nc: int, nt: int) -> float:
    """Welch–Satterthwaite: (vc + vt)² / (vc²/(nc−1) + vt²/(nt−1)); infinite when both are 0."""
    denominator = vc * vc / (nc - 1) + vt * vt / (nt - 1)
    if denominator == 0:
        return math.inf
    return (vc + vt) ** 2 / denominator

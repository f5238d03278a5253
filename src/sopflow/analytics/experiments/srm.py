"""Sample ratio mismatch: are the persons per arm what the weights promise?

Pearson's chi-square goodness of fit of the persons per arm against ``total × weight`` (as
``scipy.stats.chisquare``), ``k − 1`` degrees of freedom. A p-value below ``SRM_P = 0.001`` (GrowthBook's
threshold) flags a mismatch: the assignment or the exposure logging is broken, and no lift can be trusted
until it is explained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy import special

SRM_P = 0.001


@dataclass(frozen=True)
class SampleRatio:
    p_value: float | None  # None with fewer than two arms or no persons
    observed: dict[str, int]
    expected: dict[str, float]

    @property
    def mismatch(self) -> bool:
        return self.p_value is not None and self.p_value < SRM_P


def sample_ratio(observed: Sequence[tuple[str, int]], weights: Sequence[tuple[str, float]]) -> SampleRatio:
    """``observed``: persons per arm; ``weights``: each arm's share (summing to 1), same arms."""
    share = dict(weights)
    total = sum(n for _arm, n in observed)
    expected = {arm: total * share[arm] for arm, _n in observed}
    counted = dict(observed)
    if total == 0 or len(observed) < 2:
        return SampleRatio(None, counted, expected)
    statistic = sum((n - expected[arm]) ** 2 / expected[arm] for arm, n in observed)
    p_value = float(special.chdtrc(len(observed) - 1, statistic))
    return SampleRatio(p_value, counted, expected)

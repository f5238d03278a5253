"""Welch's two-sided t-test on the per-person values, with GrowthBook's delta-method relative interval.

- absolute lift ``Δ = mean_t − mean_c``, ``se = √(s_c²/n_c + s_t²/n_t)``, ``t = Δ / se`` on Welch's degrees
  of freedom, ``p = 2·(1 − F_t(|t|))`` (as ``scipy.stats.ttest_ind(equal_var=False)``);
- ``ci_abs = Δ ± t_{1−α/2, df} · se``; ``ci_rel = Δ_rel ± t_{1−α/2, df} · se_rel`` (see :mod:`.moments`).

No variation at all (``se = 0``: both arms all 0 or all 1) leaves the test undefined: ``p`` and the
intervals are ``None`` (SciPy answers NaN), and the analysis says so in a warning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# scipy.special, not scipy.stats: the t distribution without a second of import time
from scipy import special

from sopflow.analytics.experiments.stats.moments import Difference

Interval = tuple[float, float]


@dataclass(frozen=True)
class TestResult:
    """What a test says about one variant against the control; ``None``: does not apply or undefined."""

    p_value: float | None = None
    ci_abs: Interval | None = None
    ci_rel: Interval | None = None
    chance_to_beat_control: float | None = None
    expected_loss: float | None = None

    __test__ = False  # not a pytest class, whatever its name


def welch_test(diff: Difference, *, alpha: float) -> TestResult:
    se = diff.se_abs
    if not se > 0 or not math.isfinite(se):
        return TestResult()
    t_stat = diff.lift_abs / se
    p_value = float(2 * special.stdtr(diff.df, -abs(t_stat)))
    crit = float(special.stdtrit(diff.df, 1 - alpha / 2))
    return TestResult(
        p_value=p_value,
        ci_abs=_around(diff.lift_abs, crit * se),
        ci_rel=_relative(diff, crit),
    )


def _around(centre: float, half: float) -> Interval:
    return (centre - half, centre + half)


def _relative(diff: Difference, crit: float) -> Interval | None:
    lift, se = diff.lift_rel, diff.se_rel
    if lift is None or se is None:
        return None
    return _around(lift, crit * se)

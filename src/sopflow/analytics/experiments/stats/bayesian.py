"""Bayesian test with a flat prior on the lift (GrowthBook's default), normal approximation.

With a flat prior the posterior of the absolute lift is ``N(Δ, se²)`` (``Δ``, ``se`` as Welch's, see
:mod:`.moments`). Hence:

- chance to beat control ``= Φ(Δ / se)``;
- credible interval ``Δ ± z_{1−α/2} · se`` (and the relative lift's with its delta-method ``se``);
- expected loss (risk) of choosing the variant ``= E[max(0, −lift)] = se·φ(Δ/se) − Δ·Φ(−Δ/se)``, in the
  metric's own units (persons' conversion share, money per person).

With ``se = 0`` nothing can be said: every field is ``None``.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from sopflow.analytics.experiments.stats.frequentist import TestResult
from sopflow.analytics.experiments.stats.moments import Difference


def flat_prior_test(diff: Difference, *, alpha: float) -> TestResult:
    se = diff.se_abs
    if not se > 0 or not math.isfinite(se):
        return TestResult()
    lift = diff.lift_abs
    z = lift / se
    normal = NormalDist()
    crit = normal.inv_cdf(1 - alpha / 2)
    rel, se_rel = diff.lift_rel, diff.se_rel
    return TestResult(
        ci_abs=(lift - crit * se, lift + crit * se),
        ci_rel=None if rel is None or se_rel is None else (rel - crit * se_rel, rel + crit * se_rel),
        chance_to_beat_control=normal.cdf(z),
        expected_loss=se * normal.pdf(z) - lift * normal.cdf(-z),
    )

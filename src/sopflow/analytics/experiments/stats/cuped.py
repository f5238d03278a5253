"""CUPED (``--cuped``): less variance from the same metric measured before exposure (Deng et al., 2013).

Each person's value ``y`` is replaced by ``y − θ·(x − x̄)``, where ``x`` is the same metric in the
pre-exposure period and ``θ = cov(x, y) / var(x)`` over the persons of both arms pooled (one ``θ`` for the
comparison, as GrowthBook computes it, so the adjustment cannot favour an arm). Per arm this gives

    mean_adj = ȳ − θ·(x̄_arm − x̄_pooled)
    s²_adj   = s²_y + θ²·s²_x − 2·θ·cov(x, y)

and the tests read the adjusted means and variances as they read raw ones (Welch's degrees of freedom
included). When ``x`` does not vary, ``θ = 0``: nothing changes.
"""

from __future__ import annotations

import math

from sopflow.analytics.experiments.stats.moments import ArmStats, Difference, make_difference


def theta(control: ArmStats, variant: ArmStats) -> float:
    pooled = control + variant
    var_x = pooled.pre_variance
    if not var_x > 0 or math.isnan(var_x):
        return 0.0
    return pooled.covariance / var_x


def adjusted_difference(control: ArmStats, variant: ArmStats) -> Difference | None:
    if control.n < 2 or variant.n < 2:
        return None
    slope = theta(control, variant)
    pooled_x = (control + variant).pre_mean

    def mean(arm: ArmStats) -> float:
        return arm.mean - slope * (arm.pre_mean - pooled_x)

    def s2(arm: ArmStats) -> float:
        return max(0.0, arm.variance + slope * slope * arm.pre_variance - 2 * slope * arm.covariance)

    return make_difference(mean(control), mean(variant), s2(control), s2(variant), control.n, variant.n)

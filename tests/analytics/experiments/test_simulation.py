"""Simulated experiments, vectorised on the sufficient statistics: error rates and power as promised.

- 500 A/A experiments: each test's false positive rate sits near α (binomial error at n = 500 is ≈ 1 point);
- the same A/A experiments looked at every day for 30 days: Welch's test, if one stopped at the first
  significant day, goes far above α; the sequential test stays under it;
- A/B experiments with a known lift at the persons ``experiment plan`` asks for: power near the plan's.
"""

from __future__ import annotations

import numpy as np

from sopflow.analytics.experiments.power import plan_experiment
from sopflow.analytics.experiments.stats.bayesian import flat_prior_test
from sopflow.analytics.experiments.stats.frequentist import TestResult, welch_test
from sopflow.analytics.experiments.stats.moments import ArmStats, difference
from sopflow.analytics.experiments.stats.sequential import sequential_test

ALPHA = 0.05
EXPERIMENTS = 500


def conversions(rng: np.random.Generator, n: int, rate: float, size: tuple[int, ...]) -> np.ndarray:
    return rng.binomial(n, rate, size=size)


def run(c: int, nc: int, t: int, nt: int, test: str, persons: int = 0) -> TestResult:
    """One comparison from counts of 0/1 values: Σy = Σy² = conversions."""
    diff = difference(ArmStats(nc, float(c), float(c)), ArmStats(nt, float(t), float(t)))
    assert diff is not None
    if test == "bayesian":
        return flat_prior_test(diff, alpha=ALPHA)
    if test == "sequential":
        return sequential_test(diff, alpha=ALPHA, persons=persons)
    return welch_test(diff, alpha=ALPHA)


def rejects(result: TestResult, test: str) -> bool:
    if test == "bayesian":
        return (result.chance_to_beat_control or 0.0) >= 1 - ALPHA  # declared a winner
    return result.p_value is not None and result.p_value < ALPHA


def test_aa_false_positive_rate_is_near_alpha() -> None:
    rng = np.random.default_rng(20261206)
    n = 4000
    c = conversions(rng, n, 0.1, (EXPERIMENTS,))
    t = conversions(rng, n, 0.1, (EXPERIMENTS,))
    for test in ("frequentist", "bayesian"):
        rate = np.mean([rejects(run(int(a), n, int(b), n, test), test) for a, b in zip(c, t, strict=True)])
        assert 0.025 <= rate <= 0.08, (test, rate)
    rate = np.mean(
        [
            rejects(run(int(a), n, int(b), n, "sequential", 2 * n), "sequential")
            for a, b in zip(c, t, strict=True)
        ]
    )
    assert rate <= ALPHA


def test_peeking_daily_inflates_welch_but_not_the_sequential_test() -> None:
    rng = np.random.default_rng(7)
    days, daily = 30, 300
    c = np.cumsum(conversions(rng, daily, 0.1, (EXPERIMENTS, days)), axis=1)
    t = np.cumsum(conversions(rng, daily, 0.1, (EXPERIMENTS, days)), axis=1)
    ever = {"frequentist": 0, "sequential": 0}
    for e in range(EXPERIMENTS):
        for test in ever:
            for d in range(days):
                n = daily * (d + 1)
                if rejects(run(int(c[e, d]), n, int(t[e, d]), n, test, 2 * n), test):
                    ever[test] += 1
                    break
    assert ever["frequentist"] / EXPERIMENTS > 2 * ALPHA  # peeking breaks a fixed-horizon test
    assert ever["sequential"] / EXPERIMENTS <= ALPHA


def test_power_matches_the_plan() -> None:
    plan = plan_experiment(baseline=0.08, mde=0.02, power=0.8, alpha=ALPHA)
    n = plan.persons_per_arm
    rng = np.random.default_rng(11)
    runs = 2000
    c = conversions(rng, n, 0.08, (runs,))
    t = conversions(rng, n, 0.10, (runs,))
    power = np.mean(
        [rejects(run(int(a), n, int(b), n, "frequentist"), "frequentist") for a, b in zip(c, t, strict=True)]
    )
    assert abs(power - plan.power) < 0.03, (power, n)


def test_power_with_three_arms_and_relative_mde() -> None:
    plan = plan_experiment(baseline=0.2, mde=0.1, relative=True, power=0.8, alpha=ALPHA, arms=3)
    n = plan.persons_per_arm
    rng = np.random.default_rng(12)
    runs = 1000
    c = conversions(rng, n, 0.2, (runs,))
    t = conversions(rng, n, 0.22, (runs,))
    hit = [
        (r.p_value or 1.0) < plan.alpha_per_comparison
        for r in (run(int(a), n, int(b), n, "frequentist") for a, b in zip(c, t, strict=True))
    ]
    assert abs(np.mean(hit) - 0.8) < 0.04

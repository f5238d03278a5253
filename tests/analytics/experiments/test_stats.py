"""The statistics on literal per-person values, cross-checked against SciPy and statsmodels (to 1e-6)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from sopflow.analytics.experiments.corrections import adjust
from sopflow.analytics.experiments.srm import sample_ratio
from sopflow.analytics.experiments.stats.bayesian import flat_prior_test
from sopflow.analytics.experiments.stats.cuped import adjusted_difference, theta
from sopflow.analytics.experiments.stats.frequentist import welch_test
from sopflow.analytics.experiments.stats.moments import ArmStats, difference
from sopflow.analytics.experiments.stats.sequential import sequential_test, width_factor

TOL = 1e-6


def arm(y: list[float] | np.ndarray, x: list[float] | np.ndarray | None = None) -> ArmStats:
    """The sufficient statistics of per-person values, as the engine hands them over."""
    y = np.asarray(y, dtype=np.float64)
    x = np.zeros_like(y) if x is None else np.asarray(x, dtype=np.float64)
    return ArmStats(
        len(y),
        float(y.sum()),
        float((y * y).sum()),
        float(x.sum()),
        float((x * x).sum()),
        float((x * y).sum()),
    )


def ones(k: int, n: int) -> list[float]:
    """``k`` conversions among ``n`` persons."""
    return [1.0] * k + [0.0] * (n - k)


CASES = {
    "conversions": (ones(80, 1000), ones(102, 1000)),
    "unequal_weights": (ones(60, 700), ones(35, 300)),
    "zero_conversions_in_control": (ones(0, 50), ones(4, 50)),
    "all_converted_in_variant": (ones(30, 40), ones(40, 40)),
    "equal_arms": (ones(12, 100), ones(12, 100)),
    "tiny": ([0.0, 1.0], [1.0, 1.0, 0.0]),
    "revenue": ([0, 0, 699, 0, 99.5, 0, 0, 1398], [0, 699, 699, 0, 0, 999, 0, 0, 0, 99.5]),
}


@pytest.mark.parametrize("name", CASES)
def test_welch_matches_scipy_and_statsmodels(name: str) -> None:
    control, variant = CASES[name]
    diff = difference(arm(control), arm(variant))
    assert diff is not None
    result = welch_test(diff, alpha=0.05)
    expected = stats.ttest_ind(variant, control, equal_var=False)
    assert result.p_value == pytest.approx(float(expected.pvalue), abs=TOL)
    low, high = CompareMeans(DescrStatsW(np.array(variant)), DescrStatsW(np.array(control))).tconfint_diff(
        alpha=0.05, usevar="unequal"
    )
    assert result.ci_abs == pytest.approx((low, high), abs=TOL)
    assert diff.lift_abs == pytest.approx(np.mean(variant) - np.mean(control), abs=1e-12)


def test_no_variation_leaves_the_test_undefined_as_scipy_does() -> None:
    control, variant = ones(0, 30), ones(0, 40)
    diff = difference(arm(control), arm(variant))
    assert diff is not None
    assert math.isnan(stats.ttest_ind(variant, control, equal_var=False).pvalue)
    result = welch_test(diff, alpha=0.05)
    assert result.p_value is None and result.ci_abs is None


def test_an_arm_of_one_person_cannot_be_compared() -> None:
    assert difference(arm([1.0]), arm(ones(3, 10))) is None


@pytest.mark.parametrize("name", ["conversions", "unequal_weights", "all_converted_in_variant", "revenue"])
def test_relative_interval_is_the_delta_method_on_the_raw_values(name: str) -> None:
    control, variant = (np.array(v, dtype=float) for v in CASES[name])
    diff = difference(arm(control), arm(variant))
    assert diff is not None
    result = welch_test(diff, alpha=0.1)
    mc, mt = control.mean(), variant.mean()
    vc, vt = control.var(ddof=1) / len(control), variant.var(ddof=1) / len(variant)
    # gradient of mt/mc − 1 with respect to (mc, mt), independent arms
    se = math.sqrt((mt / mc**2) ** 2 * vc + (1 / mc) ** 2 * vt)
    df = (vc + vt) ** 2 / (vc**2 / (len(control) - 1) + vt**2 / (len(variant) - 1))
    crit = stats.t.ppf(0.95, df)
    assert diff.lift_rel == pytest.approx(mt / mc - 1, abs=1e-12)
    assert result.ci_rel == pytest.approx((mt / mc - 1 - crit * se, mt / mc - 1 + crit * se), abs=TOL)


def test_relative_lift_is_undefined_without_control_conversions() -> None:
    control, variant = CASES["zero_conversions_in_control"]
    diff = difference(arm(control), arm(variant))
    assert diff is not None and diff.lift_rel is None
    assert welch_test(diff, alpha=0.05).ci_rel is None


@pytest.mark.parametrize("name", ["conversions", "unequal_weights", "equal_arms", "revenue"])
def test_bayesian_flat_prior(name: str) -> None:
    control, variant = CASES[name]
    diff = difference(arm(control), arm(variant))
    assert diff is not None
    result = flat_prior_test(diff, alpha=0.05)
    mean, se = float(np.mean(variant) - np.mean(control)), diff.se_abs
    posterior = stats.norm(mean, se)
    assert result.chance_to_beat_control == pytest.approx(float(posterior.sf(0)), abs=TOL)
    assert result.ci_abs == pytest.approx(posterior.interval(0.95), abs=TOL)
    loss, _err = integrate.quad(lambda d: -d * posterior.pdf(d), mean - 12 * se, 0)
    assert result.expected_loss == pytest.approx(loss, abs=TOL)
    assert result.p_value is None


def test_equal_arms_are_a_coin_flip() -> None:
    diff = difference(arm(ones(12, 100)), arm(ones(12, 100)))
    assert diff is not None
    assert flat_prior_test(diff, alpha=0.05).chance_to_beat_control == pytest.approx(0.5, abs=1e-12)


def test_sequential_interval_and_p_value_agree_and_are_wider() -> None:
    control, variant = CASES["conversions"]
    diff = difference(arm(control), arm(variant))
    assert diff is not None
    fixed = welch_test(diff, alpha=0.05)
    seq = sequential_test(diff, alpha=0.05, persons=2000)
    assert seq.ci_abs is not None and fixed.ci_abs is not None and seq.p_value is not None
    assert seq.ci_abs[0] < fixed.ci_abs[0] and seq.ci_abs[1] > fixed.ci_abs[1]
    assert seq.p_value > fixed.p_value  # type: ignore[operator]
    # the p-value is the α at which the interval (same ρ) would just touch 0
    factor = width_factor(2000, 0.05)
    assert (seq.ci_abs[0] > 0) == (seq.p_value < 0.05)
    half = factor * diff.se_abs
    assert seq.ci_abs == pytest.approx((diff.lift_abs - half, diff.lift_abs + half), abs=1e-12)


def test_sequential_half_width_is_howard_normal_mixture() -> None:
    alpha, n, tuning = 0.05, 12_000, 5000
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning
    expected = math.sqrt(2 * (n * rho2 + 1) / (n * rho2) * math.log(math.sqrt(n * rho2 + 1) / alpha))
    assert width_factor(n, alpha) == pytest.approx(expected, rel=1e-12)
    # narrowest relative to the fixed interval near the tuning size, and always wider than z
    assert width_factor(n, alpha) > stats.norm.ppf(0.975)


def test_cuped_is_welch_on_the_adjusted_values() -> None:
    rng = np.random.default_rng(7)
    x_c, x_t = rng.poisson(2.0, 400).astype(float), rng.poisson(2.0, 380).astype(float)
    y_c = (rng.random(400) < 0.1 + 0.05 * x_c).astype(float)
    y_t = (rng.random(380) < 0.13 + 0.05 * x_t).astype(float)
    c, t = arm(y_c, x_c), arm(y_t, x_t)
    x_all, y_all = np.concatenate([x_c, x_t]), np.concatenate([y_c, y_t])
    slope = np.cov(x_all, y_all, ddof=1)[0, 1] / x_all.var(ddof=1)
    assert theta(c, t) == pytest.approx(slope, abs=1e-9)
    adj_c, adj_t = y_c - slope * (x_c - x_all.mean()), y_t - slope * (x_t - x_all.mean())
    diff = adjusted_difference(c, t)
    assert diff is not None
    result = welch_test(diff, alpha=0.05)
    expected = stats.ttest_ind(adj_t, adj_c, equal_var=False)
    assert result.p_value == pytest.approx(float(expected.pvalue), abs=TOL)
    low, high = CompareMeans(DescrStatsW(adj_t), DescrStatsW(adj_c)).tconfint_diff(usevar="unequal")
    assert result.ci_abs == pytest.approx((low, high), abs=TOL)
    raw = difference(c, t)
    assert raw is not None and diff.se_abs < raw.se_abs  # the point of it


def test_cuped_without_pre_period_variation_changes_nothing() -> None:
    c, t = arm(ones(8, 100)), arm(ones(15, 100))
    assert theta(c, t) == 0.0
    assert adjusted_difference(c, t) == difference(c, t)


@pytest.mark.parametrize(
    ("observed", "weights"),
    [
        ([("control", 5000), ("b", 5100)], [("control", 0.5), ("b", 0.5)]),
        ([("control", 700), ("b", 300)], [("control", 0.7), ("b", 0.3)]),
        ([("control", 1000), ("b", 1200), ("c", 990)], [("control", 1 / 3), ("b", 1 / 3), ("c", 1 / 3)]),
    ],
)
def test_sample_ratio_is_scipy_chisquare(
    observed: list[tuple[str, int]], weights: list[tuple[str, float]]
) -> None:
    result = sample_ratio(observed, weights)
    counts = [n for _a, n in observed]
    expected = [sum(counts) * w for _a, w in weights]
    assert result.p_value == pytest.approx(float(stats.chisquare(counts, expected).pvalue), abs=TOL)
    assert result.mismatch == (result.p_value is not None and result.p_value < 0.001)


def test_a_clear_mismatch_is_flagged() -> None:
    assert sample_ratio([("control", 5000), ("b", 5400)], [("control", 0.5), ("b", 0.5)]).mismatch


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_corrections_match_statsmodels(method: str) -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        p = rng.random(rng.integers(1, 9)) ** 2
        name = "holm" if method == "holm" else "fdr_bh"
        expected = multipletests(p, method=name)[1]
        assert adjust(list(p), method) == pytest.approx(list(expected), abs=1e-12)  # type: ignore[arg-type]


def test_corrections_keep_missing_p_values_out_of_the_family() -> None:
    assert adjust([0.01, None, 0.04], "holm") == pytest.approx([0.02, None, 0.04])

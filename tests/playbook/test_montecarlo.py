"""Monte Carlo bands of the estimate: determinism, ordering, and agreement with the expected plan."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.errors import InvalidInput
from sopflow.playbook.estimate import estimate
from sopflow.playbook.model import Playbook
from sopflow.playbook.montecarlo import MAX_SIMULATIONS, _beta, _gamma, simulate


def make(
    *, rate_spread: float = 0.15, reach_spread: float = 0.15, reach: int = 5000, **funnel: Any
) -> Playbook:
    """One channel (reach 5000 → 500 → 200 → 20 payers at 99) plus a second with an override, and fission."""
    return Playbook.model_validate({
        "meta": {"id": "mc", "name": "模拟", "version": "1", "owner": "运营"},
        "brief": {"background": "b", "purpose": "p", "goals": ["g"]},
        "team": {"roles": [{"id": "ops", "name": "运营"}]},
        "channels": [
            {"id": "group", "name": "社群", "kind": "community", "expected_reach": reach, "entry_rate": 0.1,
             "cost": 800},
            {"id": "ads", "name": "投放", "kind": "paid", "base_users": 1000, "entry_rate": 0.2, "cost": 1500,
             "rates": {"pay": 0.15}},
        ],
        "funnel": {"stages": [
            {"id": "join", "name": "进群", "event": "join", "aarrr": "acquisition"},
            {"id": "attend", "name": "听课", "event": "attend", "aarrr": "activation", "expected_rate": 0.4},
            {"id": "pay", "name": "付费", "event": "pay", "aarrr": "revenue", "expected_rate": 0.1, "value": 99},
        ], **funnel},
        "costs": [{"id": "gift", "name": "礼品", "amount": 5, "per": "user", "stage": "attend"}],
        "timeline": {
            "span": {"start": "D0 09:00", "end": "D+1 21:00"},
            "phases": [{"id": "go", "name": "启动", "steps": [
                {"id": "s1", "name": "发", "at": "D0 10:00", "owner": "ops", "channel": "moments", "action": "发"},
            ]}],
        },
        "estimate": {"rate_spread": rate_spread, "reach_spread": reach_spread},
    })  # fmt: skip


REFERRAL: dict[str, Any] = {"referral": {"k": [0.6, 0.3], "max_generations": 2, "inviters_stage": "attend",
                         "reward_per_invitee": 1}}  # fmt: skip


def test_same_seed_same_bands_other_seed_other_bands() -> None:
    playbook = make(**REFERRAL)
    first, again = simulate(playbook, n=2000, seed=7), simulate(playbook, n=2000, seed=7)
    assert first == again
    assert simulate(playbook, n=2000, seed=8).metrics["users.pay"] != first.metrics["users.pay"]
    assert (first.n, first.seed) == (2000, 7)


def test_every_metric_has_ordered_bands() -> None:
    playbook = make(**REFERRAL)
    bands = simulate(playbook, n=3000, seed=0)
    assert list(bands.metrics) == list(estimate(playbook).metrics)
    for name, band in bands.metrics.items():
        if name == "rate.join":  # the first stage has no previous stage
            assert (band.p10, band.p50, band.p90) == (None, None, None)
            continue
        assert band.p10 is not None and band.p50 is not None and band.p90 is not None, name
        assert band.p10 <= band.p50 <= band.p90, name
    pay = bands.metrics["users.pay"]
    assert pay.p10 is not None and pay.p90 is not None and pay.p10 < pay.p90  # there is spread


def test_p50_matches_the_plan_when_only_counting_noise_is_left() -> None:
    playbook = make(rate_spread=0, reach_spread=0, reach=200_000, **REFERRAL)
    plan = estimate(playbook).metrics
    bands = simulate(playbook, n=20_000, seed=1).metrics
    for name in ("users.join", "users.attend", "users.pay", "referred_users", "revenue", "cost", "roi", "cac",
                 "k_factor", "rate.pay"):  # fmt: skip
        expected, p50 = plan[name], bands[name].p50
        assert expected is not None and p50 is not None
        assert p50 == pytest.approx(expected, rel=0.01), name


def test_p50_is_near_the_plan_with_default_spreads() -> None:
    playbook = make(**REFERRAL)
    plan = estimate(playbook).metrics
    bands = simulate(playbook, n=100_000, seed=2).metrics
    for name in ("users.join", "users.pay", "revenue", "cost", "k_factor"):
        expected, band = plan[name], bands[name]
        assert expected is not None and band.p10 is not None and band.p90 is not None and band.p50 is not None
        assert band.p10 < expected < band.p90, name
        # the median of a product of skewed factors sits a little below its mean
        assert band.p50 == pytest.approx(expected, rel=0.1), name


def test_no_spread_and_no_people_give_fixed_values() -> None:
    bands = simulate(make(rate_spread=0, reach_spread=0, reach=0), n=500, seed=3).metrics
    joins = bands["channel_users.group"]
    assert (joins.p10, joins.p50, joins.p90) == (0, 0, 0)
    ads = bands["channel_users.ads"]
    assert (
        ads.p10 is not None and ads.p90 is not None and 150 < ads.p10 <= ads.p90 < 250
    )  # Binomial(1000, 0.2)


def test_beta_and_gamma_have_the_asked_mean_and_spread() -> None:
    rng = np.random.default_rng(0)
    rates = _beta(rng, 0.3, 0.2, 200_000)
    assert rates.mean() == pytest.approx(0.3, rel=0.01)
    assert rates.std() == pytest.approx(0.06, rel=0.02)
    capped = _beta(rng, 0.9, 0.5, 200_000)  # 0.45 > sqrt(0.9 · 0.1) = 0.3: capped at 0.9 × 0.3
    assert capped.mean() == pytest.approx(0.9, rel=0.01)
    assert capped.std() == pytest.approx(0.27, rel=0.03)
    assert ((capped >= 0) & (capped <= 1)).all()
    reach = _gamma(rng, 1000, 0.15, 200_000)
    assert reach.mean() == pytest.approx(1000, rel=0.01)
    assert reach.std() / reach.mean() == pytest.approx(0.15, rel=0.02)
    assert (_beta(rng, 1.0, 0.3, 5) == 1).all() and (_beta(rng, 0.0, 0.3, 5) == 0).all()
    assert (_gamma(rng, 0.0, 0.3, 5) == 0).all() and (_gamma(rng, 7.0, 0.0, 5) == 7).all()


@pytest.mark.parametrize(("n", "seed"), [(0, 0), (-5, 0), (MAX_SIMULATIONS + 1, 0), (10, -1)])
def test_bad_simulation_arguments_are_clear_errors(n: int, seed: int) -> None:
    with pytest.raises(InvalidInput) as raised:
        simulate(make(), n=n, seed=seed)
    assert ("--simulations" if seed == 0 else "--seed") in raised.value.message


def test_json_shape_of_the_bands() -> None:
    data = simulate(make(**REFERRAL), n=50, seed=4).as_json()
    assert (data["n"], data["seed"]) == (50, 4)
    metrics = data["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["rate.join"] == {"p10": None, "p50": None, "p90": None}
    assert set(metrics["users.pay"]) == {"p10", "p50", "p90"}


@settings(max_examples=25, deadline=None)
@given(
    rate_spread=st.floats(0, 1),
    reach_spread=st.floats(0, 1),
    k=st.floats(0, 3),
    reach=st.integers(0, 100_000),
    seed=st.integers(0, 2**32),
)
def test_any_spreads_give_ordered_finite_bands(
    rate_spread: float, reach_spread: float, k: float, reach: int, seed: int
) -> None:
    playbook = make(rate_spread=rate_spread, reach_spread=reach_spread, reach=reach,
                    referral={"k": k, "max_generations": 3})  # fmt: skip
    for name, band in simulate(playbook, n=200, seed=seed).metrics.items():
        values = [band.p10, band.p50, band.p90]
        if values[0] is None:
            assert values == [None, None, None], name
            continue
        assert all(v is not None and math.isfinite(v) and v >= 0 for v in values), name
        assert band.p10 <= band.p50 <= band.p90, name  # type: ignore[operator]


def test_absurdly_many_people_are_refused_before_drawing() -> None:
    with pytest.raises(InvalidInput) as raised:
        simulate(make(reach=10**15), n=10, seed=0)
    assert "too many to simulate" in raised.value.message

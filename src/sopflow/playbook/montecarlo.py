"""Monte Carlo bands of the estimate (``sopflow playbook plan --simulations N --seed S``).

Each of the N runs draws the plan's parameters, then moves whole people through the funnel, using the same
definitions as :mod:`sopflow.playbook.estimate` (one code path, vectorised over runs with NumPy):

- reach of each channel ~ Gamma with mean ``reach`` and coefficient of variation ``estimate.reach_spread``
  (fixed when the reach or the spread is 0);
- every rate ~ Beta with mean r and standard deviation ``estimate.rate_spread × r``, capped at
  ``_MAX_SD_SHARE × sqrt(r(1 − r))`` so the Beta exists (fixed when r is 0 or 1 or the spread is 0). Entry
  rates and channel overrides get their own draw; a funnel stage rate is drawn once per run and shared by
  the channels without an override and by referred users (a funnel that converts worse does so for all);
- K of each generation ~ Gamma with mean k and coefficient of variation ``rate_spread``;
- counts: entrants ~ Binomial(round(reach), entry_rate), stage users ~ Binomial(previous stage, rate),
  invitees ~ Poisson(inviters × K).

The result is P10/P50/P90 (NumPy's default linear percentiles) of every metric of the plan's ``metrics``;
runs where a metric is undefined (a division by 0) are left out of its band, which is ``None`` when no run
defines it. The same seed gives the same bands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.playbook.estimate import (
    Array,
    ExpectedFlow,
    Inputs,
    channel_rates,
    clean_numbers,
    expected_inputs,
    generation_ks,
    metric_values,
    run_flows,
    stage_rates,
    total_money,
)
from sopflow.playbook.model import Playbook

MAX_SIMULATIONS = 1_000_000
MAX_PEOPLE = 1e12
_MAX_SD_SHARE = 0.9
# Spreads (and relative standard deviations) below this are no spread: drawing them would only overflow.
_NO_SPREAD = 1e-6


@dataclass(frozen=True)
class Band:
    p10: float | None
    p50: float | None
    p90: float | None


@dataclass(frozen=True)
class Simulation:
    n: int
    seed: int
    metrics: dict[str, Band]

    def as_json(self) -> dict[str, object]:
        metrics = {name: {"p10": b.p10, "p50": b.p50, "p90": b.p90} for name, b in self.metrics.items()}
        data: dict[str, object] = clean_numbers({"n": self.n, "seed": self.seed, "metrics": metrics})
        return data


class RandomFlow:
    """Whole people, drawn at random."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def entrants(self, reach: Array, rate: Array) -> Array:
        return self.rng.binomial(np.rint(reach).astype(np.int64), rate).astype(np.float64)

    def advance(self, users: Array, rate: Array) -> Array:
        return self.rng.binomial(users.astype(np.int64), rate).astype(np.float64)

    def invite(self, inviters: Array, k: Array) -> Array:
        return self.rng.poisson(inviters * k).astype(np.float64)


def check_simulation_args(*, n: int, seed: int) -> None:
    if not 1 <= n <= MAX_SIMULATIONS:
        raise InvalidInput(
            _(
                "--simulations must be a whole number from 1 to {most}, got {n}",
                most=f"{MAX_SIMULATIONS:,}",
                n=n,
            ),
            code="invalid_simulations",
        )
    if seed < 0:
        raise InvalidInput(_("--seed must be 0 or more, got {seed}", seed=seed), code="invalid_seed")


def simulate(playbook: Playbook, *, n: int, seed: int = 0) -> Simulation:
    """P10/P50/P90 of every plan metric over ``n`` random runs; raises InvalidInput for a bad n or seed."""
    check_simulation_args(n=n, seed=seed)
    _check_scale(playbook)
    rng = np.random.default_rng(seed)
    inputs = sample_inputs(playbook, rng=rng, n=n)
    flows = run_flows(playbook, inputs, RandomFlow(rng), keep_channels=False)
    revenue, cost = total_money(playbook, flows)
    values = metric_values(playbook, flows, revenue=revenue, cost=cost)
    return Simulation(n=n, seed=seed, metrics={name: band(v) for name, v in values.items()})


def _check_scale(playbook: Playbook) -> None:
    # Counts are drawn as 64-bit integers; a plan of trillions of people is a typo, not a campaign.
    expected = expected_inputs(playbook)
    flows = run_flows(playbook, expected, ExpectedFlow(), keep_channels=False)
    largest = max(float(a[0]) for a in [*expected.reach, *flows.totals, *flows.invitees])
    if largest > MAX_PEOPLE:
        raise InvalidInput(
            _("the plan counts {count} people somewhere, too many to simulate (at most {most})",
              count=f"{largest:,.0f}", most=f"{MAX_PEOPLE:,.0f}"),
            code="too_many_people",
        )  # fmt: skip


def sample_inputs(playbook: Playbook, *, rng: np.random.Generator, n: int) -> Inputs:
    settings = playbook.estimate
    channels = playbook.channels
    reach = [_gamma(rng, c.reach(), settings.reach_spread, n) for c in channels]
    entry_rate = [_beta(rng, c.entry_rate, settings.rate_spread, n) for c in channels]
    funnel = [np.ones(n)] + [_beta(rng, r, settings.rate_spread, n) for r in stage_rates(playbook)[1:]]
    stages = playbook.funnel.stages
    rates = [
        [
            funnel[i] if i == 0 or stages[i].id not in c.rates else _beta(rng, r, settings.rate_spread, n)
            for i, r in enumerate(per_stage)
        ]
        for c, per_stage in zip(channels, channel_rates(playbook), strict=True)
    ]
    k = [_gamma(rng, k, settings.rate_spread, n) for k in generation_ks(playbook)]
    return Inputs(reach=reach, entry_rate=entry_rate, rates=rates, funnel_rates=funnel, k=k)


def _gamma(rng: np.random.Generator, mean: float, cv: float, n: int) -> Array:
    if mean <= 0 or cv < _NO_SPREAD:
        return np.full(n, float(mean))
    shape = 1 / cv**2
    return rng.gamma(shape, mean / shape, size=n)


def _beta(rng: np.random.Generator, mean: float, spread: float, n: int) -> Array:
    if not 0 < mean < 1 or spread < _NO_SPREAD:
        return np.full(n, float(mean))
    variance = min(spread * mean, _MAX_SD_SHARE * math.sqrt(mean * (1 - mean))) ** 2
    if variance < _NO_SPREAD**2 * mean * (1 - mean):
        return np.full(n, float(mean))
    concentration = mean * (1 - mean) / variance - 1
    draws = rng.beta(mean * concentration, (1 - mean) * concentration, size=n)
    return np.where(np.isfinite(draws), draws, mean)


def band(values: Array) -> Band:
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return Band(None, None, None)
    p10, p50, p90 = np.percentile(defined, [10, 50, 90])
    return Band(float(p10), float(p50), float(p90))

"""The playbook compiled for the simulation: filter-satisfying properties, invite counts, timing, random draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.simulate.helpers import matches

from sopflow.playbook.model import Playbook
from sopflow.playbook.model.base import Condition
from sopflow.playbook.timenode import parse_time_node
from sopflow.simulate import delays
from sopflow.simulate.rng import Stream, fixed_width_strings
from sopflow.simulate.scenario import (
    DEFAULT_START,
    build_scenario,
    default_days,
    invite_cdf,
    satisfying_properties,
)


def _c(prop: str, op: str, value: object) -> Condition:
    return Condition.model_validate({"property": prop, "op": op, "value": value})


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([_c("product", "=", "system_course")], {"product": "system_course"}),
        ([_c("job_level", "in", ["高级", "专家"])], {"job_level": "高级"}),
        ([_c("order_index", ">=", 2)], {"order_index": 2}),
        ([_c("amount", ">", 99)], {"amount": 100}),
        ([_c("years", "<=", 3)], {"years": 3}),
        ([_c("tags", "contains", "宝妈")], {"tags": "宝妈"}),
        ([_c("paid", "=", True)], {"paid": True}),
        ([_c("city", "!=", "北京")], {"city": "北京_other"}),
        ([_c("a", ">=", 10), _c("a", "<", 20), _c("b", "=", 1)], {"a": 10, "b": 1}),
    ],
)
def test_satisfying_properties(conditions: list[Condition], expected: dict[str, object]) -> None:
    assert satisfying_properties(conditions) == expected
    assert matches(expected, conditions)


@settings(max_examples=200, deadline=None)
@given(
    low=st.one_of(st.none(), st.integers(-1000, 1000)),
    width=st.integers(2, 1000),
    low_op=st.sampled_from([">", ">="]),
    high_op=st.sampled_from(["<", "<="]),
)
def test_numeric_ranges_get_a_value_inside(low: int | None, width: int, low_op: str, high_op: str) -> None:
    conditions = [_c("x", high_op, (low or 0) + width)]
    if low is not None:
        conditions.append(_c("x", low_op, low))
    assert matches(satisfying_properties(conditions), conditions)


@pytest.mark.parametrize("k", [0.05, 0.35, 1.0, 2.5])
def test_invite_counts_have_mean_k(k: float) -> None:
    cdf = invite_cdf(k)
    pmf = np.diff(cdf, prepend=0.0)
    assert cdf[-1] == pytest.approx(1.0, abs=1e-11)
    assert float((pmf * np.arange(len(pmf))).sum()) == pytest.approx(k, rel=1e-9)
    assert pmf[0] > math.exp(-k), "heavier at zero than Poisson: most people invite nobody"


def test_no_invites_when_k_is_zero() -> None:
    assert invite_cdf(0.0).tolist() == [1.0]


def test_the_acquisition_period_runs_from_warm_up_to_launch(fission: Playbook) -> None:
    scenario = build_scenario(playbook=fission, days=default_days(fission), seed=1, start=DEFAULT_START)
    assert scenario.acquisition == (parse_time_node("D-5 20:30"), parse_time_node("D0 18:00"))
    pulses = dict(zip(scenario.channels, scenario.pulses, strict=False))
    assert pulses["official_account"].tolist() == [parse_time_node("D-5 20:30")]
    assert pulses["old_groups"].tolist() == [parse_time_node("D-4 12:00")]
    assert pulses["moments"].tolist() == [parse_time_node("D-5 21:00")], "setup_kit is preparation"
    assert pulses["paid_feed"].tolist() == [], "paid feeds have no step: spread over the period"
    assert default_days(fission) == 22 + 28
    assert scenario.window == 14 * 86_400
    assert scenario.anchors[2] == parse_time_node("D0 20:00")  # attend ← opening_class


def test_stage_times_stay_within_the_window_and_after_the_previous_stage() -> None:
    stream = Stream(3)
    keys = np.arange(20_000, dtype=np.uint64)
    previous = np.linspace(0, 10 * 86_400, len(keys))
    entry = previous - 3_600
    window = 7 * 86_400.0
    times = delays.stage_times(
        stream, keys, stage=2, previous=previous, entry=entry, anchor=5 * 86_400.0, window=window
    )
    assert (times >= previous).all()
    assert (times <= entry + window).all()
    ahead = previous < 5 * 86_400
    assert (times[ahead] >= 5 * 86_400).mean() > 0.99


def test_spread_arrivals_stay_in_the_period_and_follow_the_day() -> None:
    stream = Stream(1)
    keys = np.arange(50_000, dtype=np.uint64)
    times = delays.spread_arrivals(stream, keys, start=-5 * 86_400.0, end=0.0)
    assert times.min() >= -5 * 86_400 and times.max() < 0
    hours = np.floor(np.mod(times, 86_400) / 3_600).astype(int)
    counts = np.bincount(hours, minlength=24)
    assert counts[21] > 4 * counts[3], "evenings are busier than nights"


def test_uniform_draws_are_open_interval_and_balanced() -> None:
    stream = Stream(42)
    u = stream.uniform(np.arange(200_000, dtype=np.uint64), 5)
    assert u.min() > 0 and u.max() < 1
    assert u.mean() == pytest.approx(0.5, abs=0.005)
    assert np.histogram(u, bins=10)[0].min() > 19_000
    other = stream.uniform(np.arange(200_000, dtype=np.uint64), 6)
    assert abs(np.corrcoef(u, other)[0, 1]) < 0.01


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.integers(0, 2**64 - 1), max_size=50), base=st.sampled_from([10, 16]))
def test_fixed_width_strings_match_python_formatting(values: list[int], base: int) -> None:
    width = 20 if base == 10 else 16
    got = fixed_width_strings(b"u", np.array(values, dtype=np.uint64), width=width, base=base).to_pylist()
    fmt = "{:020d}" if base == 10 else "{:016x}"
    assert got == ["u" + fmt.format(v) for v in values]

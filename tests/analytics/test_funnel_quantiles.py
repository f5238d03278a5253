"""The funnel's percentiles are NumPy's default (linear) percentiles, computed from one integer partition."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sopflow.analytics.funnel.aggregate import quantiles


@given(
    values=st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=200),
    percents=st.lists(st.floats(0, 100), min_size=1, max_size=4).map(tuple),
)
def test_quantiles_match_numpy(values: list[int], percents: tuple[float, ...]) -> None:
    array = np.array(values, dtype=np.int64)
    expected = np.percentile(array.astype(np.float64), percents)
    assert np.allclose(quantiles(array, percents), expected, rtol=1e-9, atol=1e-3)


@given(
    values=st.lists(
        st.one_of(st.integers(0, 3), st.integers(-(2**63), 2**63 - 1), st.integers(0, 7 * 86_400_000_000)),
        min_size=1,
        max_size=3000,
    ),
    percents=st.lists(st.floats(0, 100), min_size=1, max_size=4).map(tuple),
)
def test_order_statistics_are_exact_with_repeats_and_extreme_values(
    values: list[int], percents: tuple[float, ...]
) -> None:
    # The compiled selection works on the integers: the statistics it picks are exactly the sorted ones.
    array = np.array(values, dtype=np.int64)
    ordered = np.sort(array)
    last = len(array) - 1
    expected = []
    for p in percents:
        x = last * p / 100
        lo = int(np.floor(x))
        at, above = float(ordered[lo]), float(ordered[min(lo + 1, last)])
        expected.append(at + (above - at) * (x - lo))
    assert quantiles(array, percents) == expected
    assert np.array_equal(array, np.array(values, dtype=np.int64))  # left in place

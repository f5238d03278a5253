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

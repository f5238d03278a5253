"""The embedded engine against the reference funnel, on hypothesis-generated logs and funnels."""

from __future__ import annotations

import tempfile
from itertools import pairwise
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from funnel_cases import event_logs, specs
from funnel_reference import Ev, Spec, funnel
from funnel_support import assert_same, file_engine, run_product
from hypothesis import HealthCheck, given, settings

from sopflow.analytics.kernel import parallel


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_logs(), spec=specs())
def test_embedded_engine_matches_the_reference(events: list[Ev], spec: Spec) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = file_engine(Path(tmp), events)
        assert_same(run_product(engine, spec), funnel(spec, events))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_logs(), spec=specs())
def test_persons_split_over_threads_give_the_same_answer(events: list[Ev], spec: Spec) -> None:
    # Tiny logs normally run in one part; here every few events (or persons, in the aggregation) make a
    # part of their own, and the groups' percentiles run beside the whole's.
    with (
        tempfile.TemporaryDirectory() as tmp,
        patch.object(parallel, "ROWS_PER_THREAD", 2),
        patch.object(parallel, "cpus", lambda: 8),
    ):
        engine = file_engine(Path(tmp), events)
        assert_same(run_product(engine, spec), funnel(spec, events))


def test_split_ranges_cover_every_person_once_balanced_by_events() -> None:
    offsets = np.array([0, 5, 6, 7, 20, 21, 40], dtype=np.int64)
    with patch.object(parallel, "ROWS_PER_THREAD", 1), patch.object(parallel, "cpus", lambda: 2):
        assert parallel.split(offsets) == [(0, 4), (4, 6)]  # persons 0-3 hold 20 of the 40 events
        assert parallel.split_evenly(5) == [(0, 2), (2, 5)]
    with patch.object(parallel, "ROWS_PER_THREAD", 1), patch.object(parallel, "cpus", lambda: 4):
        parts = parallel.split(offsets)
    assert parts[0][0] == 0 and parts[-1][1] == 6
    assert all(a < b and b == c for (a, b), (c, _) in pairwise(parts))
    with patch.object(parallel, "ROWS_PER_THREAD", 100):
        assert parallel.split(offsets) == [(0, 6)]
        assert parallel.split_evenly(0) == [(0, 0)]


def test_an_error_in_a_part_reaches_the_caller() -> None:
    def work(begin: int, end: int) -> None:
        if begin == 3:
            raise ValueError("part 3")

    with pytest.raises(ValueError, match="part 3"):
        parallel.run_parts(work, [(0, 3), (3, 6)])


def test_persons_with_many_events_take_the_general_path_with_the_same_answer() -> None:
    # The kernel copies a person's step events aside only up to 256 events; longer lives take the
    # general search. Both must agree with the reference, ties in time included.
    rng = np.random.default_rng(7)
    names = ["visit", "signup", "pay", "touch", "refund"]
    events = [
        Ev(
            f"u{p}",
            int(rng.integers(0, 40)) * 3_600_000_000,
            names[int(rng.integers(0, len(names)))],
            channel=f"c{int(rng.integers(0, 3))}",
            uid=i,
        )
        for p, size in enumerate((3, 40, 255, 256, 257, 600))
        for i in range(size)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        engine = file_engine(Path(tmp), events)
        for entry in ("any", "first"):
            spec = Spec(("visit", "signup", "visit", "pay"), 6 * 3_600_000_000, entry=entry, by="channel")
            assert_same(run_product(engine, spec), funnel(spec, events))

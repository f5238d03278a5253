"""The embedded engine against the reference funnel, on hypothesis-generated logs and funnels."""

from __future__ import annotations

import tempfile
from pathlib import Path

from funnel_cases import event_logs, specs
from funnel_reference import Ev, Spec, funnel
from funnel_support import assert_same, file_engine, run_product
from hypothesis import HealthCheck, given, settings


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_logs(), spec=specs())
def test_embedded_engine_matches_the_reference(events: list[Ev], spec: Spec) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = file_engine(Path(tmp), events)
        assert_same(run_product(engine, spec), funnel(spec, events))

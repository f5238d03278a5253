"""Funnels: how many persons reach each step, in order, within a window (see docs/funnels.md)."""

from __future__ import annotations

from sopflow.analytics.frame import Engine
from sopflow.analytics.funnel.aggregate import FunnelResult, aggregate, dropped_rows
from sopflow.analytics.funnel.definition import FunnelPersons, request_for
from sopflow.analytics.funnel.spec import FunnelSpec, check_spec

__all__ = ["FunnelResult", "FunnelSpec", "run_funnel"]


def run_funnel(engine: Engine, spec: FunnelSpec) -> FunnelResult:
    check_spec(spec)
    table = engine.map_persons(request_for(spec), FunnelPersons(spec))
    result = aggregate(table, spec, engine=engine.name)
    if spec.dropped_at is not None:
        assert spec.range is not None
        result.dropped = dropped_rows(table, spec, spec.range.tz)
    return result

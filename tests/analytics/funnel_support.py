"""Run the product's funnel on a list of reference events (:class:`funnel_reference.Ev`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
from funnel_reference import Ev, Spec

from sopflow.analytics.conditions import Condition
from sopflow.analytics.engines.embedded import EmbeddedEngine
from sopflow.analytics.frame import Engine
from sopflow.analytics.funnel import FunnelSpec, run_funnel
from sopflow.analytics.funnel.spec import Exclusion
from sopflow.analytics.timerange import TimeRange
from sopflow.events.schema import EVENT_SCHEMA
from sopflow.workspace import Workspace

TZ = ZoneInfo("Asia/Shanghai")
BASE = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp()) * 1_000_000  # a Monday


def canonical_table(events: list[Ev]) -> pa.Table:
    rows: dict[str, list[Any]] = {name: [] for name in EVENT_SCHEMA.names}
    for i, e in enumerate(events):
        rows["event_id"].append(f"e{i}-{e.uid}")
        rows["event"].append(e.event)
        rows["user_id"].append(e.person)
        rows["ts"].append(e.ts)
        rows["channel"].append(e.channel)
        rows["properties"].append(json.dumps(e.props) if e.props else None)
        for name in ("campaign", "step", "variant", "inviter_id", "revenue", "currency"):
            rows[name].append(None)
    columns = [pa.array(rows[f.name], type=pa.int64() if f.name == "ts" else None) for f in EVENT_SCHEMA]
    columns[EVENT_SCHEMA.get_field_index("ts")] = columns[EVENT_SCHEMA.get_field_index("ts")].cast(
        pa.timestamp("us", tz="UTC")
    )
    typed = [c.cast(f.type) if c.type != f.type else c for c, f in zip(columns, EVENT_SCHEMA, strict=True)]
    return pa.Table.from_arrays(typed, schema=EVENT_SCHEMA)


def write_events(path: Path, events: list[Ev]) -> Path:
    pq.write_table(canonical_table(events), path)
    return path


def product_spec(
    spec: Spec, *, top: int = 100, trend: str | None = None, dropped_at: int | None = None
) -> FunnelSpec:
    per_step: list[list[Condition]] = [[] for _ in spec.steps]
    for step, prop, op, value in spec.where:
        indexes = [int(step) - 1] if step.isdigit() else [i for i, s in enumerate(spec.steps) if s == step]
        for i in indexes:
            per_step[i].append(Condition(prop, op, value))
    return FunnelSpec(
        steps=spec.steps,
        window_us=spec.window,
        order=spec.order,  # type: ignore[arg-type]
        entry=spec.entry,  # type: ignore[arg-type]
        where=tuple(tuple(c) for c in per_step),
        exclusions=tuple(Exclusion(*x) for x in spec.exclusions),
        by=spec.by,
        top=top,
        range=TimeRange(spec.start, spec.end, TZ),
        trend=trend,  # type: ignore[arg-type]
        dropped_at=dropped_at,
    )


def file_engine(tmp: Path, events: list[Ev]) -> Engine:
    path = write_events(tmp / "events.parquet", events)
    return EmbeddedEngine.open(workspace=Workspace.resolve(tmp / "ws"), events_path=path, tz=TZ)


def run_product(engine: Engine, spec: Spec) -> dict[str, Any]:
    """The product's answer in the reference's shape."""
    result = run_funnel(engine, product_spec(spec)).as_json()
    breakdown = {b["value"]: [s["users"] for s in b["steps"]] for b in result["breakdown"]}
    return {"steps": result["steps"], "breakdown": breakdown}


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))
    return bool(a == b)


def assert_same(product: dict[str, Any], expected: dict[str, Any]) -> None:
    for got, want in zip(product["steps"], expected["steps"], strict=True):
        for key, value in want.items():
            assert close(got[key], value), (key, got, want)
    assert product["breakdown"] == expected["breakdown"]

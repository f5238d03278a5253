"""The Spark engine against the reference funnel (and so against the embedded engine, checked the same way)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from funnel_cases import event_logs, specs
from funnel_reference import Ev, Spec, funnel
from funnel_support import TZ, assert_same, run_product, write_events
from hypothesis import HealthCheck, given, settings
from spark_support import requires_java, spark_engine

# One JVM per test process: keep every Spark test on one xdist worker (make test uses --dist loadgroup).
pytestmark = pytest.mark.xdist_group("spark")


@requires_java
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_logs(), spec=specs())
def test_spark_engine_matches_the_reference(events: list[Ev], spec: Spec) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_events(Path(tmp) / "events.parquet", events)
        engine = spark_engine(Path(tmp) / "ws", events_path=path, tz=TZ)
        assert_same(run_product(engine, spec), funnel(spec, events))


@requires_java
def test_spark_funnel_on_a_workspace_export(tmp_path: Path) -> None:
    """Over a workspace Spark reads the exported dataset; the answer is the embedded engine's."""
    from funnel_support import BASE, canonical_table

    from sopflow.analytics.engines.embedded import EmbeddedEngine
    from sopflow.events.store import EventStore
    from sopflow.workspace import Workspace

    s = 1_000_000
    events = [
        Ev("p", BASE, "a", "wx"),
        Ev("p", BASE + 5 * s, "b", "wx", uid=1),
        Ev("q", BASE + s, "a", "dy", uid=2),
        Ev("q", BASE + 90_000 * s, "b", "dy", uid=3),
        Ev("r", BASE + 2 * s, "b", None, uid=4),
    ]
    workspace = Workspace.resolve(tmp_path / "ws")
    with EventStore.open(workspace) as store:
        store.append_rows(canonical_table(events).to_pylist())
    spec = Spec(("a", "b"), window=86_400 * s, by="channel")
    expected = run_product(EmbeddedEngine.open(workspace=workspace), spec)
    assert [s_["users"] for s_ in expected["steps"]] == [2, 1]
    assert_same(
        run_product(spark_engine(tmp_path / "ws"), spec),
        {"steps": expected["steps"], "breakdown": expected["breakdown"]},
    )

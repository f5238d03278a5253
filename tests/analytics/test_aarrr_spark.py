"""AARRR, ROI and targets give the same JSON on the embedded engine and on Spark (local[2], 3 partitions),
on a simulated campaign: anonymous visits merged by $identify, invitations, revenue, every stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aarrr_support import SHANGHAI, fission, simulated
from spark_support import requires_java, spark_engine

from sopflow.analytics.aarrr import compute_aarrr
from sopflow.analytics.engines.embedded import EmbeddedEngine
from sopflow.analytics.roi import compute_roi
from sopflow.analytics.targets import compute_targets
from sopflow.analytics.timerange import parse_range
from sopflow.workspace import Workspace

pytestmark = requires_java


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    events = simulated(tmp_path_factory.mktemp)["events"]
    root = tmp_path_factory.mktemp("aarrr_spark")
    embedded = EmbeddedEngine.open(workspace=Workspace.resolve(root), events_path=events, tz=SHANGHAI)
    return embedded, spark_engine(Path(root), events_path=events, tz=SHANGHAI)


def _same(embedded: dict[str, Any], spark: dict[str, Any]) -> None:
    assert spark.pop("engine") == "spark" and embedded.pop("engine") == "duckdb"
    assert spark == embedded


def test_aarrr(engines: tuple[Any, Any]) -> None:
    time_range = parse_range("2024-03-01", "2024-03-20", tz=SHANGHAI)
    results = [
        compute_aarrr(engine=e, playbook=fission(), time_range=time_range, by_channel=True).as_json()
        for e in engines
    ]
    assert results[0]["stages"][0]["users"] > 1000
    _same(*results)


def test_roi_by_last_touch(engines: tuple[Any, Any]) -> None:
    time_range = parse_range(None, None, tz=SHANGHAI)
    results = [
        compute_roi(engine=e, playbook=fission(), time_range=time_range, attribution="last").as_json()
        for e in engines
    ]
    assert results[0]["totals"]["revenue"] > 0
    _same(*results)


def test_targets(engines: tuple[Any, Any]) -> None:
    time_range = parse_range(None, "2024-03-15", tz=SHANGHAI)
    results = [
        compute_targets(engine=e, playbook=fission(), time_range=time_range).as_json() for e in engines
    ]
    _same(*results)

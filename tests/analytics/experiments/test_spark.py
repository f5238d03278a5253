"""The experiment's per-person pass gives the same JSON on the embedded engine and on Spark (local[2])."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spark_support import requires_java, spark_engine

from sopflow.analytics.engines.embedded import EmbeddedEngine
from sopflow.analytics.experiments.analysis import analyze_experiment
from sopflow.analytics.experiments.spec import ExperimentSpec, parse_metric
from sopflow.simulate.generator import Options, Simulation
from sopflow.simulate.output import simulate_to_parquet
from sopflow.workspace import Workspace

pytestmark = [pytest.mark.xdist_group("spark"), requires_java]
TEMPLATE = Path(__file__).resolve().parents[3] / "src/sopflow/playbook/templates/community_fission.yaml"


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    from sopflow.playbook.loader import load_playbook

    folder = tmp_path_factory.mktemp("experiments_spark")
    path = folder / "events.parquet"
    simulation = Simulation(playbook=load_playbook(TEMPLATE), options=Options(users=1500, seed=3))
    simulate_to_parquet(simulation=simulation, path=path)
    embedded = EmbeddedEngine.open(workspace=Workspace.resolve(folder / "ws"), events_path=path)
    return embedded, spark_engine(folder / "ws", events_path=path)


@pytest.mark.parametrize(
    ("metric", "where", "guardrails"),
    [
        ("conversion:submit_homework", [], ["revenue", "retention:1"]),
        ("conversion:pay", ["product=system_course"], []),
    ],
)
def test_the_same_on_spark(
    engines: tuple[Any, Any], metric: str, where: list[str], guardrails: list[str]
) -> None:
    spec = ExperimentSpec(
        step="homework_remind",
        metric=parse_metric(metric, where=where),
        guardrails=tuple(parse_metric(g) for g in guardrails),
        cuped=True,
    )
    embedded, spark = engines
    expected = analyze_experiment(engine=embedded, spec=spec).as_json()
    got = analyze_experiment(engine=spark, spec=spec).as_json()
    assert got == expected
    assert expected["persons"] > 100

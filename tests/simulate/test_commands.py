"""``sopflow simulate``: output files, summaries, and clear errors (exit 2) for bad arguments."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.conftest import TEMPLATES, CliResult

from sopflow.events.schema import EVENT_SCHEMA
from sopflow.simulate.output import prefetched

Run = Callable[..., CliResult]


def test_writes_a_parquet_file_with_the_event_schema_and_a_json_summary(run_cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "events.parquet"
    result = run_cli(
        ["simulate", "--template", "community_fission", "--users", "300", "-o", str(out), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    table = pq.read_table(out)
    assert table.schema.equals(EVENT_SCHEMA)
    assert summary["events"] == table.num_rows
    assert summary["users"]["channel"] == 300
    assert summary["users"]["total"] == 300 + summary["users"]["referred"]
    assert sum(summary["by_event"].values()) == table.num_rows
    assert list(summary["by_event"].values()) == sorted(summary["by_event"].values(), reverse=True)
    assert summary["output"] == {
        "target": "parquet",
        "path": str(out.resolve()),
        "added": None,
        "duplicates": None,
    }
    assert (summary["seed"], summary["start"], summary["days"]) == (1, "2024-03-04", 50)
    assert [p.name for p in tmp_path.iterdir()] == ["events.parquet"], "no temporary file left behind"


def test_same_seed_gives_identical_bytes(run_cli: Run, tmp_path: Path) -> None:
    paths = [tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"]
    for path, seed in zip(paths, ["5", "5", "6"], strict=True):
        args = ["simulate", "-t", "store_funnel", "-n", "200", "--seed", seed, "-o", str(path)]
        assert run_cli(args).exit_code == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_a_playbook_file_and_the_human_summary(run_cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "e.parquet"
    result = run_cli(
        [
            "simulate",
            "--playbook",
            str(TEMPLATES / "offline_salon.yaml"),
            "-n",
            "100",
            "-o",
            str(out),
            "--days",
            "30",
            "--start",
            "2025-06-01",
            "--no-noise",
        ]
    )
    assert result.exit_code == 0, result.stderr
    assert "100 from channels" in result.stdout
    assert "salon_registered" in result.stdout
    assert f"Written to {out.resolve()}" in result.stdout


def test_the_summary_in_chinese(run_cli: Run, tmp_path: Path) -> None:
    result = run_cli(
        ["simulate", "-t", "community_fission", "-n", "50", "-o", str(tmp_path / "e.parquet")], lang="zh_CN"
    )
    assert result.exit_code == 0
    assert "已写入" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "10"], "exactly one of --template NAME or --playbook FILE"),
        (["-t", "community_fission", "-p", "x.yaml", "--users", "10"], "exactly one of"),
        (["-t", "no_such_template", "--users", "10"], "unknown template"),
        (["-t", "community_fission"], "--users is required"),
        (["-t", "community_fission", "--users", "0"], "--users must be between 1 and"),
        (["-t", "community_fission", "--users", "5", "--days", "0"], "--days must be between 1 and 3650"),
        (["-t", "community_fission", "--users", "5", "--seed", "-1"], "--seed must be between 0 and"),
        (["-t", "community_fission", "--users", "5", "--start", "2024-13-01"], "--start must be a date"),
        (["-t", "community_fission", "--users", "5", "-o", "out.csv"], "ending in .parquet"),
        (["-t", "community_fission", "--users", "5", "-o", "no/such/dir/e.parquet"], "does not exist"),
        (["-t", "community_fission", "--users", "5", "-o", "e.parquet", "--workspace", "w"], "not both"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(
    run_cli: Run, args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli(["simulate", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_invalid_playbook_is_reported_with_its_place(run_cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("meta: [", encoding="utf-8")
    result = run_cli(["simulate", "-p", str(bad), "-n", "5", "-o", str(tmp_path / "e.parquet")])
    assert result.exit_code == 2
    assert f"{bad}:1:" in result.stderr
    assert not (tmp_path / "e.parquet").exists()


def test_a_failing_chunk_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sopflow.playbook.catalog import template_path
    from sopflow.playbook.loader import load_playbook
    from sopflow.simulate.generator import Options, Simulation
    from sopflow.simulate.output import simulate_to_parquet

    simulation = Simulation(
        playbook=load_playbook(template_path("community_fission")), options=Options(users=30, chunk_users=10)
    )
    calls = {"n": 0}
    original = simulation.chunk

    def failing(*, first: int, count: int):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk on fire")
        return original(first=first, count=count)

    monkeypatch.setattr(simulation, "chunk", failing)
    with pytest.raises(RuntimeError):
        simulate_to_parquet(simulation=simulation, path=tmp_path / "e.parquet")
    assert list(tmp_path.iterdir()) == []


def test_prefetched_keeps_order_and_stops() -> None:
    assert list(prefetched(iter(range(5)))) == [0, 1, 2, 3, 4]
    assert list(prefetched(iter([]))) == []


def test_help_mentions_noise_and_the_default_start(run_cli: Run) -> None:
    result = run_cli(["simulate", "--help"])
    assert result.exit_code == 0
    assert "noise" in result.stdout and "2024-03-04" in result.stdout


def test_simulating_into_a_workspace_twice_adds_nothing_the_second_time(run_cli: Run, tmp_path: Path) -> None:
    from sopflow.events.store import EventStore
    from sopflow.workspace import Workspace

    args = ["simulate", "-t", "community_fission", "-n", "200", "--workspace", str(tmp_path), "--json"]
    first = json.loads(run_cli(args).stdout)
    assert first["output"]["target"] == "workspace"
    assert first["output"]["added"] + first["output"]["duplicates"] == first["events"]
    assert 0 < first["output"]["duplicates"] < 0.01 * first["events"], "only the noise's duplicate sends"
    with EventStore.open(Workspace.resolve(tmp_path)) as store:
        stored = store.scan_arrow()
    assert stored.num_rows == first["output"]["added"]
    assert stored.schema.equals(EVENT_SCHEMA)
    again = json.loads(run_cli(args).stdout)
    assert again["output"]["added"] == 0
    assert again["output"]["duplicates"] == again["events"]


def test_the_workspace_comes_from_sopflow_home(
    run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPFLOW_HOME", str(tmp_path / "home"))
    result = run_cli(["simulate", "-t", "store_funnel", "-n", "50"])
    assert result.exit_code == 0, result.stderr
    assert str(tmp_path / "home") in result.stdout
    assert (tmp_path / "home" / "events").is_dir()

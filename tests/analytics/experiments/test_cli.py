"""``sopflow experiment analyze|plan`` end to end on a simulated campaign, and the report's section."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from sopflow.analytics.experiments.power import plan_experiment
from sopflow.cli import main
from sopflow.i18n import set_language

TEMPLATE = Path(__file__).resolve().parents[3] / "src/sopflow/playbook/templates/community_fission.yaml"
STEP = "homework_remind"


def cli(args: list[str], lang: str = "en") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["--lang", lang, *args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    set_language("en")
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("experiments")
    events = folder / "events.parquet"
    base = ["simulate", "--template", "community_fission", "--users", "3000", "--start", "2024-03-01"]
    code, _out, err = cli([*base, "--workspace", str(folder / "ws")])
    assert code == 0, err
    code, _out, err = cli([*base, "-o", str(events)])
    assert code == 0, err
    return {"ws": folder / "ws", "events": events}


def analyze(sim: dict[str, Path], *extra: str, lang: str = "en") -> tuple[int, Any, str]:
    args = ["experiment", "analyze", "--workspace", str(sim["ws"]), "--step", STEP, *extra]
    code, out, err = cli(args, lang)
    return code, json.loads(out) if code == 0 and "--json" in extra else out, err


def test_the_simulated_script_test_matches_the_events(sim: dict[str, Path]) -> None:
    code, data, err = analyze(sim, "--metric", "conversion:submit_homework", "--json")
    assert code == 0, err
    table = pq.read_table(sim["events"])
    touches = table.filter(
        pc.and_(pc.equal(table["event"], "sop_touch"), pc.equal(table["step"], STEP))
    ).to_pylist()
    arms: dict[str, set[str]] = {}
    for row in touches:
        arms.setdefault(str(row["user_id"]), set()).add(str(row["variant"]))
    clean = {u: next(iter(a)) for u, a in arms.items() if len(a) == 1}
    persons = {r["variant"]: r["persons"] for r in data["variants"]}
    assert persons == {v: sum(1 for a in clean.values() if a == v) for v in ("control", "social_proof")}
    assert data["mixed_persons"] == sum(1 for a in arms.values() if len(a) > 1)
    assert data["control"] == "control" and data["test"] == "frequentist"
    assert data["srm"]["p_value"] is not None and not data["srm"]["mismatch"]
    # the simulator's variants do not change conversion: an A/A test, which must not claim a winner
    assert data["verdict"]["code"] == "not_conclusive"


def test_events_file_and_workspace_agree(sim: dict[str, Path]) -> None:
    args = ["--metric", "conversion:submit_homework", "--json"]
    _code, from_ws, _err = analyze(sim, *args)
    code, out, err = cli(["experiment", "analyze", "--events", str(sim["events"]), "--step", STEP, *args])
    assert code == 0, err
    assert json.loads(out)["variants"] == from_ws["variants"]


def test_text_output_in_chinese(sim: dict[str, Path]) -> None:
    code, out, err = analyze(sim, "--metric", "conversion:submit_homework", "--sequential", lang="zh_CN")
    assert code == 0, err
    assert "结论：还不能下结论" in out and "social_proof" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--step", "nope"], "no sop_touch event of step 'nope'"),
        (["--step", "welcome_new"], "name no variant"),
        (["--control", "nobody"], "is not an arm"),
        (["--weights", "control=0.5,social_proof=0.6"], "add up to 1.1, not 1"),
        (["--weights", "control=0.5"], "add up to 0.5"),
        (["--metric", "conversion"], "write conversion:EVENT"),
        (["--test", "magic"], "--test: choose one of"),
        (["--correction", "bonferroni"], "--correction: choose one of"),
        (["--alpha", "0.7"], "--alpha must be between"),
        (["--playbook", str(TEMPLATE), "--step", "welcome_new"], "no script variants"),
    ],
)
def test_bad_input_exits_2_with_a_message(sim: dict[str, Path], extra: list[str], message: str) -> None:
    args = ["experiment", "analyze", "--workspace", str(sim["ws"]), "--step", STEP, *extra]
    code, _out, err = cli(args)
    assert code == 2 and message in err and "Traceback" not in err


def test_bad_input_in_chinese(sim: dict[str, Path]) -> None:
    code, _out, err = cli(["experiment", "analyze", "--workspace", str(sim["ws"]), "--step", "nope"], "zh_CN")
    assert code == 2 and "数据中没有步骤 'nope'" in err


def test_a_metric_that_never_occurs_is_a_result_with_a_warning(sim: dict[str, Path]) -> None:
    code, data, err = analyze(sim, "--metric", "conversion:never_happens", "--json")
    assert code == 0, err
    assert "metric_never" in {w["code"] for w in data["warnings"]}


def test_plan_json_and_playbook_traffic() -> None:
    code, out, err = cli(["experiment", "plan", "--baseline", "0.08", "--mde", "0.02", "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert data == plan_experiment(baseline=0.08, mde=0.02).as_json()
    assert data["persons_per_arm"] > 3000 and data["days"] is None
    code, out, err = cli(
        [
            "experiment",
            "plan",
            "--baseline",
            "0.2",
            "--mde",
            "0.1",
            "--relative",
            "--daily-persons",
            "500",
            "--json",
        ]
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["days"] == -(-data["persons_total"] // 500)
    args = [
        "experiment",
        "plan",
        "--baseline",
        "0.2",
        "--mde",
        "0.05",
        "--playbook",
        str(TEMPLATE),
        "--step",
        STEP,
    ]
    code, out, err = cli([*args, "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert data["step_persons"] > 0 and data["days"] >= 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--baseline", "1.5", "--mde", "0.1"], "--baseline must be"),
        (["--baseline", "0.9", "--mde", "0.2"], "outside 0 to 1"),
        (["--baseline", "0.1", "--mde", "0"], "--mde must be"),
        (["--baseline", "0.1", "--mde", "0.01", "--arms", "1"], "--arms must be"),
        (["--baseline", "0.1", "--mde", "0.01", "--playbook", str(TEMPLATE)], "--playbook needs --step"),
        (
            ["--baseline", "0.1", "--mde", "0.01", "--playbook", str(TEMPLATE), "--step", "x"],
            "not in the playbook",
        ),
    ],
)
def test_plan_bad_input(extra: list[str], message: str) -> None:
    code, _out, err = cli(["experiment", "plan", *extra])
    assert code == 2 and message in err


def test_the_report_shows_the_script_tests(sim: dict[str, Path]) -> None:
    out = sim["ws"].parent / "report.html"
    args = ["report", "--playbook", str(TEMPLATE), "-o", str(out), "--workspace", str(sim["ws"]), "--json"]
    code, stdout, err = cli(args, "zh_CN")
    assert code == 0, err
    assert json.loads(stdout)["sections"]["experiments"] == {"available": True, "problem": None}
    html = out.read_text(encoding="utf-8")
    assert '<section id="experiments">' in html
    assert "作业催交（homework_remind）" in html and "social_proof" in html and "还不能下结论" in html


def test_sop_touch_is_what_the_simulator_writes(sim: dict[str, Path]) -> None:
    names = set(pq.read_table(sim["events"], columns=["event"])["event"].to_pylist())
    assert "sop_touch" in names and "touch" not in names


def test_the_report_windows_end_with_the_timeline(sim: dict[str, Path]) -> None:
    from sopflow.analytics.engines import open_engine
    from sopflow.analytics.experiments.report import report_data
    from sopflow.playbook.loader import load_playbook
    from sopflow.workspace import Workspace

    engine = open_engine("duckdb", workspace=Workspace.resolve(sim["ws"]))
    entries = {
        e["step"]: e for e in report_data(engine=engine, playbook=load_playbook(TEMPLATE))["experiments"]
    }
    homework = entries[STEP]
    # D+3 19:00 with a 3h deadline to D+14 23:59: 11 whole days
    assert homework["result"]["window_seconds"] == 11 * 86_400 and homework["stage"] == "交作业"
    assert "window_open" not in {w["code"] for w in homework["result"]["warnings"]}
    assert entries["article"]["result"] is None and entries["article"]["problem"]


def test_an_empty_workspace_says_there_are_no_touches(tmp_path: Path) -> None:
    code, _out, err = cli(["experiment", "analyze", "--step", STEP, "--workspace", str(tmp_path / "none")])
    assert code == 2 and f"no sop_touch event of step '{STEP}'" in err

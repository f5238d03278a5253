"""``sopflow playbook plan``: JSON shape, human tables, Monte Carlo options and exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PLAYBOOK = """\
meta: {id: course, name: 训练营, version: "1.2", owner: 运营}
brief: {background: 背景, purpose: 宗旨, goals: [拉新]}
team:
  roles: [{id: ops, name: 运营}]
channels:
  - {id: moments, name: 朋友圈, kind: moments, posters: 10, reach_per_poster: 100, entry_rate: 0.1, cost: 200,
     manpower: {people: 2, hours: 5}}
  - {id: paid, name: 投放, kind: paid, expected_reach: 2000, entry_rate: 0.05, cost: 1000, rates: {pay: 0.2}}
funnel:
  stages:
    - {id: join, name: 进群, event: join_group, aarrr: acquisition}
    - {id: attend, name: 听课, event: attend, aarrr: activation, expected_rate: 0.5}
    - {id: pay, name: 付费, event: pay, aarrr: revenue, expected_rate: 0.1, value: 99}
  referral: {k: [0.5, 0.2], max_generations: 3, inviters_stage: attend, reward_per_invitee: 2}
costs:
  - {id: gift, name: 礼品, amount: 10, per: user, stage: pay}
  - {id: tools, name: 工具, amount: 100}
targets:
  - {id: payers, name: 付费人数, metric: users.pay, expected: 500}
  - {id: joins, name: 进群人数, metric: users.join, expected: 100}
timeline:
  span: {start: "D-1 09:00", end: "D+1 21:00"}
  phases:
    - id: launch
      name: 启动
      steps:
        - {id: s1, name: 发圈, at: "D0 10:00", owner: ops, channel: moments, action: 发朋友圈}
"""

Run = Callable[..., Any]


@pytest.fixture
def playbook(tmp_path: Path) -> Path:
    path = tmp_path / "course.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # Rich wraps at 80 columns when not on a terminal


def test_json_plan(run_cli: Run, playbook: Path) -> None:
    result = run_cli(["playbook", "plan", str(playbook), "--json"])
    assert result.exit_code == 0, result.stderr  # unreachable targets are part of the plan
    data = json.loads(result.stdout)
    assert list(data) == ["playbook", "currency", "stages", "channels", "referral", "totals", "break_even",
                          "metrics", "targets", "simulations"]  # fmt: skip
    assert data["playbook"] == {"id": "course", "name": "训练营", "version": "1.2"}
    # moments 100 → 50 → 5, paid 100 → 50 → 10, referral 50 + 5 → 27.5 → 2.75
    assert [s["users"] for s in data["stages"]] == [255, 127.5, 17.75]
    assert [c["id"] for c in data["channels"]] == ["moments", "paid", "referral"]
    assert data["channels"][2]["users"] == [55, 27.5, 2.75]
    assert data["referral"]["invitees"] == 55
    assert [g["invitees"] for g in data["referral"]["generations"]] == [50, 5, 0]
    assert data["totals"]["cost"] == 1587.5  # 1200 + 100 + 10 × 17.75 + 2 × 55
    assert data["totals"]["revenue"] == 1757.25
    assert data["break_even"]["stage"] == "pay"
    assert data["break_even"]["rate_from_previous"] == pytest.approx(1410 / (89 * 127.5))
    payers, joins = data["targets"]
    assert (payers["reachable"], payers["message"]) == (
        False,
        "target 付费人数 (users.pay) 500, plan gives 17.75",
    )
    assert (joins["reachable"], joins["message"], joins["planned"]) == (True, None, 255)
    assert data["simulations"] is None
    assert data["metrics"]["channel_users.referral"] == 55


def test_json_with_simulations(run_cli: Run, playbook: Path) -> None:
    args = ["playbook", "plan", str(playbook), "--json", "--simulations", "300", "--seed", "5"]
    first, second = run_cli(args), run_cli(args)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == second.stdout
    sims = json.loads(first.stdout)["simulations"]
    assert (sims["n"], sims["seed"]) == (300, 5)
    assert set(sims["metrics"]) == set(json.loads(first.stdout)["metrics"])
    band = sims["metrics"]["users.pay"]
    assert band["p10"] <= band["p50"] <= band["p90"]


def test_tables_for_people(run_cli: Run, playbook: Path) -> None:
    result = run_cli(["playbook", "plan", str(playbook), "--simulations", "200"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for text in ("Funnel (expected users per stage)", "朋友圈", "Referral generations", "1,587.50", "Totals",
                 "Break-even: stage 付费 (pay) must convert 12.4%", "✗", "✓",
                 "✗ target 付费人数 (users.pay) 500, plan gives 17.75", "Monte Carlo: 200 runs, seed 0"):  # fmt: skip
        assert text in out, text


def test_tables_in_chinese(run_cli: Run, playbook: Path) -> None:
    result = run_cli(["playbook", "plan", str(playbook)], lang="zh_CN")
    assert result.exit_code == 0, result.stderr
    for text in (
        "漏斗（各阶段预计人数）",
        "投产比",
        "获客成本",
        "盈亏平衡",
        "目标 付费人数 (users.pay) 为 500，计划只能达到 17.75",
    ):
        assert text in result.stdout, text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--simulations", "0"], "--simulations must be a whole number from 1 to 1,000,000, got 0"),
        (
            ["--simulations", "1000001"],
            "--simulations must be a whole number from 1 to 1,000,000, got 1000001",
        ),
        (["--simulations", "10", "--seed", "-1"], "--seed must be 0 or more, got -1"),
    ],
)
def test_bad_options_exit_2_with_a_message(
    run_cli: Run, playbook: Path, args: list[str], message: str
) -> None:
    result = run_cli(["playbook", "plan", str(playbook), *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_option_in_chinese(run_cli: Run, playbook: Path) -> None:
    result = run_cli(["playbook", "plan", str(playbook), "--simulations", "0"], lang="zh_CN")
    assert result.exit_code == 2
    assert "--simulations 必须是 1 到 1,000,000 之间的整数，当前为 0" in result.stderr


def test_invalid_playbook_exits_2_with_file_line_col(run_cli: Run, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(PLAYBOOK.replace("expected_rate: 0.5", "expected_rate: 1.5"), encoding="utf-8")
    result = run_cli(["playbook", "plan", str(broken), "--json"])
    assert result.exit_code == 2
    assert f"{broken}:12:79: expected_rate" in result.stderr
    assert result.stdout == ""
    missing = run_cli(["playbook", "plan", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "nope.yaml:1:1" in missing.stderr


def test_help(run_cli: Run) -> None:
    result = run_cli(["playbook", "plan", "--help"])
    assert result.exit_code == 0
    assert "--simulations" in result.stdout and "--seed" in result.stdout and "--json" in result.stdout

"""``sopflow roi`` end to end on a simulated campaign (embedded engine), with and without a costs file."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from aarrr_support import simulated


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return simulated(tmp_path_factory.mktemp)


def _args(sim: dict[str, Path], *more: str) -> list[str]:
    return ["roi", "--playbook", str(sim["playbook"]), "--workspace", str(sim["workspace"]), *more]


def test_json_revenue_and_costs(run_cli: Callable[..., Any], sim: dict[str, Path]) -> None:
    result = run_cli(_args(sim, "--json"))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    totals = data["totals"]
    # every event of a simulated person carries their inviter, anonymous visits too: count identified ids
    ((revenue, payers, homework, invitees),) = duckdb.execute(
        f"""SELECT sum(revenue),
                   count(DISTINCT user_id) FILTER (event = 'pay' AND properties LIKE '%system_course%'),
                   count(DISTINCT user_id) FILTER (event = 'submit_homework'),
                   count(DISTINCT user_id) FILTER (inviter_id IS NOT NULL AND user_id NOT LIKE 'anon-%')
            FROM '{sim["events"]}'"""
    ).fetchall()
    assert Decimal(str(totals["revenue"])) == revenue
    assert totals["paying_users"] == payers
    # channels 800 + 2400, campaign 15000 + 9000, gifts 12 per homework, rewards 10 per invitee
    assert totals["cost"] == 800 + 2400 + 24_000 + 12 * homework + 10 * invitees
    assert totals["roi"] == pytest.approx(float(revenue) / totals["cost"])
    assert totals["cac"] == pytest.approx(totals["cost"] / payers)
    assert totals["plan"]["roi"] == pytest.approx(4.891195381)
    by_channel = {c["channel"]: c for c in data["channels"]}
    assert sum(c["revenue"] for c in by_channel.values()) == pytest.approx(float(revenue))
    assert sum(c["cost"] for c in by_channel.values()) + totals["campaign_cost"] == pytest.approx(
        totals["cost"]
    )
    assert by_channel["referral"]["cost_parts"]["rewards"] == 10 * invitees
    assert data["attribution"] == "first" and data["costs"] == {"source": "playbook", "file": None}


def test_last_touch_moves_revenue_not_the_total(run_cli: Callable[..., Any], sim: dict[str, Path]) -> None:
    first = json.loads(run_cli(_args(sim, "--json")).stdout)
    last = json.loads(run_cli(_args(sim, "--json", "--attribution", "last")).stdout)
    assert last["attribution"] == "last"
    assert last["totals"]["revenue"] == first["totals"]["revenue"]


def test_costs_file(run_cli: Callable[..., Any], sim: dict[str, Path], tmp_path: Path) -> None:
    costs = tmp_path / "costs.csv"
    costs.write_text("日期,渠道,金额\n2024-03-01,paid_feed,3000\n2024-03-02,,500.25\n", encoding="utf-8")
    data = json.loads(run_cli(_args(sim, "--json", "--costs", str(costs))).stdout)
    assert data["costs"] == {"source": "file", "file": str(costs)}
    assert data["totals"]["campaign_cost"] == 500.25
    paid_feed = next(c for c in data["channels"] if c["channel"] == "paid_feed")
    assert paid_feed["cost_parts"]["fixed"] == 3000


def test_bad_costs_file_fails_cleanly(
    run_cli: Callable[..., Any], sim: dict[str, Path], tmp_path: Path
) -> None:
    costs = tmp_path / "costs.csv"
    costs.write_text(
        "date,channel,amount\n2024-03-01,paid_feed,3000\n2024-03-02,moments,三千\n", encoding="utf-8"
    )
    result = run_cli(_args(sim, "--costs", str(costs)), lang="zh_CN")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "第 3 行" in result.stderr and "三千" in result.stderr and "未采用任何成本" in result.stderr


def test_table_in_chinese(run_cli: Callable[..., Any], sim: dict[str, Path]) -> None:
    result = run_cli(_args(sim), lang="zh_CN")
    assert result.exit_code == 0, result.stderr
    for words in ("投产比", "获客成本", "测算", "合计", "活动整体", "首次触点"):
        assert words in result.stdout
    bad = run_cli(_args(sim, "--attribution", "middle"))
    assert bad.exit_code == 2 and "--attribution" in bad.stderr

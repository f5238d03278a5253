"""``sopflow aarrr`` end to end on a simulated campaign (embedded engine)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from aarrr_support import simulated


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return simulated(tmp_path_factory.mktemp)


def _args(sim: dict[str, Path], *more: str) -> list[str]:
    return ["aarrr", "--playbook", str(sim["playbook"]), "--workspace", str(sim["workspace"]), *more]


def test_json_counts_match_plain_sql(run_cli: Callable[..., Any], sim: dict[str, Path]) -> None:
    result = run_cli(_args(sim, "--json", "--by", "channel"))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    users = {s["stage"]: s["users"] for s in data["stages"]}
    # The simulation gives every person one id (anonymous visits are merged by $identify into it, and the
    # simulated stage events carry it), so plain SQL over user_id counts the same persons.
    (sql,) = duckdb.execute(
        f"""SELECT count(DISTINCT user_id) FILTER (event = 'signup'),
                   count(DISTINCT user_id) FILTER (event IN ('join_group', 'attend_class')),
                   count(DISTINCT user_id) FILTER (event = 'submit_homework'),
                   count(DISTINCT user_id) FILTER (event = 'pay'),
                   count(DISTINCT inviter_id)
            FROM '{sim["events"]}'"""
    ).fetchall()
    assert [users[s] for s in ("acquisition", "activation", "retention", "revenue", "referral")] == list(sql)
    assert users["acquisition"] > 2_000  # channel users and their invitees
    breakdown = {row["channel"]: row["stages"][0]["users"] for row in data["breakdown"]}
    assert list(breakdown)[:4] == ["official_account", "old_groups", "moments", "paid_feed"]
    assert sum(breakdown.values()) == users["acquisition"]
    assert data["engine"] == "duckdb"


def test_the_same_on_a_parquet_file(run_cli: Callable[..., Any], sim: dict[str, Path]) -> None:
    on_workspace = json.loads(run_cli(_args(sim, "--json")).stdout)
    on_file = run_cli(["aarrr", "--playbook", str(sim["playbook"]), "--events", str(sim["events"]), "--json"])
    assert on_file.exit_code == 0, on_file.stderr
    assert json.loads(on_file.stdout) == on_workspace


def test_table_in_chinese(run_cli: Callable[..., Any], sim: dict[str, Path]) -> None:
    result = run_cli(_args(sim, "--by", "channel", "--from", "2024-01-01"), lang="zh_CN")
    assert result.exit_code == 0, result.stderr
    for words in (
        "获客",
        "激活",
        "留存",
        "收入",
        "转介绍",
        "公众号推文",
        "时间范围 2024-01-01T00:00:00+08:00",
    ):
        assert words in result.stdout


def test_bad_input(run_cli: Callable[..., Any], sim: dict[str, Path], tmp_path: Path) -> None:
    result = run_cli(_args(sim, "--by", "city"))
    assert result.exit_code == 2 and "--by" in result.stderr
    missing = run_cli(
        ["aarrr", "--playbook", str(tmp_path / "none.yaml"), "--workspace", str(sim["workspace"])]
    )
    assert missing.exit_code == 2 and "none.yaml" in missing.stderr
    bad_tz = run_cli(_args(sim, "--tz", "Mars/Olympus"))
    assert bad_tz.exit_code == 2 and "Mars/Olympus" in bad_tz.stderr

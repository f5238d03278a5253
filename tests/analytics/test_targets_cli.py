"""``sopflow targets`` end to end on a simulated campaign (embedded engine)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aarrr_support import simulated


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return simulated(tmp_path_factory.mktemp)


def _args(sim: dict[str, Path], *more: str) -> list[str]:
    return ["targets", "--playbook", str(sim["playbook"]), "--workspace", str(sim["workspace"]), *more]


def test_json_agrees_with_the_other_commands(run_cli: Callable[..., Any], sim: dict[str, Path]) -> None:
    result = run_cli(_args(sim, "--json"))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    targets = {t["id"]: t for t in data["targets"]}
    assert list(targets) == ["signups", "referred", "attend_rate", "payers", "pay_conversion", "revenue", "roi",
                             "k_factor", "cac"]  # fmt: skip
    assert all(t["status"] in ("met", "near", "missed", "no_data") for t in targets.values())
    assert all(t["actual"] is not None and t["planned"] is not None for t in targets.values())
    assert 1 <= len(data["findings"]) <= 3 and all(f["text"] for f in data["findings"])

    roi = json.loads(run_cli(["roi", *_args(sim, "--json")[1:]]).stdout)["totals"]
    assert (targets["revenue"]["actual"], targets["roi"]["actual"], targets["cac"]["actual"]) == (
        roi["revenue"],
        roi["roi"],
        roi["cac"],
    )
    aarrr = json.loads(run_cli(["aarrr", *_args(sim, "--json")[1:]]).stdout)
    assert targets["signups"]["actual"] == aarrr["stages"][0]["users"] == roi["new_users"]
    referral = json.loads(run_cli(["referral", "--playbook", str(sim["playbook"]), "--workspace",
                                   str(sim["workspace"]), "--json"]).stdout)  # fmt: skip
    assert targets["k_factor"]["actual"] == pytest.approx(referral["k_factor"], rel=1e-9)
    assert targets["referred"]["actual"] == referral["invitees"]
    funnel = json.loads(run_cli(["funnel", "--steps", "signup,join_group,attend_class", "--window", "14d",
                                 "--workspace", str(sim["workspace"]), "--json"]).stdout)  # fmt: skip
    assert targets["attend_rate"]["actual"] == pytest.approx(
        funnel["steps"][2]["rate_from_previous"], rel=1e-9
    )


def test_the_same_on_a_parquet_file(run_cli: Callable[..., Any], sim: dict[str, Path]) -> None:
    on_workspace = json.loads(run_cli(_args(sim, "--json")).stdout)
    on_file = run_cli(
        ["targets", "--playbook", str(sim["playbook"]), "--events", str(sim["events"]), "--json"]
    )
    assert on_file.exit_code == 0, on_file.stderr
    assert json.loads(on_file.stdout) == on_workspace


def test_table_in_chinese(run_cli: Callable[..., Any], sim: dict[str, Path]) -> None:
    result = run_cli(_args(sim), lang="zh_CN")
    assert result.exit_code == 0, result.stderr
    for words in ("报名人数", "预期", "测算", "实际", "差距", "主要发现", " vs 预期 "):
        assert words in result.stdout

"""``sopflow funnel`` end to end: a workspace, the JSON shape, drop-offs, trend, errors, zh-CN output."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from funnel_reference import Ev
from funnel_support import BASE, canonical_table, write_events

from sopflow.events.store import EventStore
from sopflow.workspace import Workspace

S = 1_000_000
D = 86_400 * S


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    events = []
    for i in range(6):
        person = f"u{i}"
        channel = "wx" if i < 4 else "dy"
        events.append(
            Ev(person, BASE + i * D, "signup", channel, {"city": "上海" if i % 2 else "北京"}, uid=i * 10)
        )
        if i < 4:
            events.append(Ev(person, BASE + i * D + 3600 * S, "join_group", channel, uid=i * 10 + 1))
        if i < 2:
            events.append(
                Ev(person, BASE + i * D + 2 * D, "pay", channel, {"amount": 99 + i}, uid=i * 10 + 2)
            )
    root = tmp_path / "ws"
    with EventStore.open(Workspace.resolve(root)) as store:
        store.append_rows(canonical_table(events).to_pylist())
    return root


def test_json_shape_and_numbers(run_cli: Callable[..., Any], workspace: Path) -> None:
    result = run_cli(
        [
            "funnel",
            "--steps",
            "signup,join_group,pay",
            "--workspace",
            str(workspace),
            "--by",
            "channel",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [s["users"] for s in data["steps"]] == [6, 4, 2]
    assert data["steps"][1]["rate_from_previous"] == pytest.approx(4 / 6)
    assert data["steps"][2]["rate_from_first"] == pytest.approx(2 / 6)
    assert data["steps"][1]["median_seconds_from_previous"] == pytest.approx(3600.0)
    assert data["steps"][2]["median_seconds_from_previous"] == pytest.approx(2 * 86400 - 3600)
    assert data["window_seconds"] == 7 * 86400
    assert (data["order"], data["entry"], data["engine"]) == ("ordered", "any", "duckdb")
    assert data["range"] == {"from": None, "to": None, "tz": "Asia/Shanghai"}
    assert [(b["value"], [s["users"] for s in b["steps"]]) for b in data["breakdown"]] == [
        ("wx", [4, 4, 2]),
        ("dy", [2, 0, 0]),
    ]


def test_where_on_a_json_property_and_range(run_cli: Callable[..., Any], workspace: Path) -> None:
    result = run_cli(
        [
            "funnel",
            "--steps",
            "signup,pay",
            "--workspace",
            str(workspace),
            "--where",
            "pay:amount>99",
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-02",
            "--tz",
            "UTC",
            "--json",
        ]
    )
    data = json.loads(result.stdout)
    assert [s["users"] for s in data["steps"]] == [1, 0]  # only u0 entered on that day; its 99 is not > 99
    assert data["range"]["from"] == "2026-11-02T00:00:00+00:00"
    assert data["range"]["to"] == "2026-11-03T00:00:00+00:00"


def test_trend_by_day(run_cli: Callable[..., Any], workspace: Path) -> None:
    data = json.loads(
        run_cli(
            [
                "funnel",
                "--steps",
                "signup,join_group",
                "--workspace",
                str(workspace),
                "--trend",
                "day",
                "--tz",
                "UTC",
                "--json",
            ]
        ).stdout
    )
    assert [(t["period"], [s["users"] for s in t["steps"]]) for t in data["trend"]] == [
        (f"2026-11-0{2 + i}", [1, 1 if i < 4 else 0]) for i in range(6)
    ]


def test_dropped_at_writes_the_follow_up_list(
    run_cli: Callable[..., Any], workspace: Path, tmp_path: Path
) -> None:
    out = tmp_path / "follow.csv"
    result = run_cli(
        [
            "funnel",
            "--steps",
            "signup,join_group,pay",
            "--workspace",
            str(workspace),
            "--dropped-at",
            "3",
            "-o",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.stderr
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["person_id"] for r in rows] == ["u3", "u2"]  # latest last step first
    assert {r["last_step"] for r in rows} == {"join_group"}
    assert {r["channel"] for r in rows} == {"wx"}
    assert "2 persons reached step 2 but not step 3" in result.stdout


def test_events_file_gives_the_workspace_answer(
    run_cli: Callable[..., Any], workspace: Path, tmp_path: Path
) -> None:
    path = write_events(
        tmp_path / "e.parquet",
        [Ev("a", BASE, "signup"), Ev("a", BASE + S, "pay", uid=1), Ev("b", BASE, "signup", uid=2)],
    )
    data = json.loads(run_cli(["funnel", "--steps", "signup,pay", "--events", str(path), "--json"]).stdout)
    assert [s["users"] for s in data["steps"]] == [2, 1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--where", "pay amount>1"], "STEP:property OP value"),
        (["--where", "refund:amount>1"], "not one of the steps"),
        (["--where", "9:amount>1"], "step 9 does not exist"),
        (["--exclude", "refund:2-1"], "1 <= i < j <= 3"),
        (["--window", "7w"], "not a window"),
        (["--order", "sideways"], "--order"),
        (["--from", "yesterday"], "neither a date"),
        (["--order", "unordered", "--exclude", "refund:1-2"], "ordered or strict"),
        (["--dropped-at", "1", "-o", "x.csv"], "--dropped-at"),
        (["--engine", "clickhouse"], "unknown engine"),
        (["--tz", "Mars/Base"], "unknown time zone"),
    ],
)
def test_bad_options_are_named(
    run_cli: Callable[..., Any], workspace: Path, args: list[str], message: str
) -> None:
    result = run_cli(["funnel", "--steps", "signup,join_group,pay", "--workspace", str(workspace), *args])
    assert result.exit_code != 0
    assert message in result.stdout + result.stderr


def test_table_in_chinese(run_cli: Callable[..., Any], workspace: Path) -> None:
    result = run_cli(
        ["funnel", "--steps", "signup,join_group", "--workspace", str(workspace), "--by", "city"],
        lang="zh_CN",
    )
    assert result.exit_code == 0, result.stderr
    for text in ("漏斗", "人数", "较上一步", "上海", "北京", "转化率的分母"):
        assert text in result.stdout

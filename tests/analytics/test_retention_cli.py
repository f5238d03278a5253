"""``sopflow retention`` end to end on a small workspace (embedded engine)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.events.helpers import event, identify

from sopflow.events.store import EventStore
from sopflow.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    with EventStore.open(Workspace.resolve(root)) as store:
        store.append_rows(
            [
                event("visit", "anon-a", "2024-03-04 08:00"),
                identify("a", "anon-a", "2024-03-04 09:00"),
                event("signup", "a", "2024-03-04 10:00", channel="wx"),
                event("visit", "anon-a", "2024-03-05 10:00"),  # the same person, through the link
                event("signup", "b", "2024-03-04 22:00", channel="ad"),
                event("visit", "b", "2024-03-06 10:00"),
                event("signup", "c", "2024-03-05 10:00", channel="wx"),
                event("visit", "c", "2024-03-12 10:00"),
                event("other", "z", "2024-03-20 10:00"),  # the data's last event
            ]
        )
    return root


def test_json_cohorts_and_overall(run_cli: Callable[..., Any], workspace: Path) -> None:
    result = run_cli(
        ["retention", "--start-event", "signup", "--return-event", "visit", "--periods", "3",
         "--workspace", str(workspace), "--json"]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(c["cohort"], c["size"], c["counts"]) for c in data["cohorts"]] == [
        ("2024-03-04", 2, [2, 1, 1, 0]),
        ("2024-03-05", 1, [1, 0, 0, 0]),
    ]
    assert [o["rate"] for o in data["overall"]] == [1.0, pytest.approx(1 / 3), pytest.approx(1 / 3), 0.0]
    assert data["engine"] == "duckdb" and data["size"] == 3
    assert data["data_end"] == "2024-03-20T10:00:00+08:00"
    assert data["range"] == {"from": None, "to": None, "tz": "Asia/Shanghai"}


def test_weeks_on_or_after_and_breakdown(run_cli: Callable[..., Any], workspace: Path) -> None:
    result = run_cli(
        ["retention", "--start-event", "signup", "--return-event", "visit", "--period", "week", "--periods", "1",
         "--mode", "on_or_after", "--by", "channel", "--workspace", str(workspace), "--json"]
    )  # fmt: skip
    data = json.loads(result.stdout)
    assert [(c["cohort"], c["counts"]) for c in data["cohorts"]] == [("2024-03-04", [3, 1])]
    assert [(b["value"], b["size"], b["cohorts"][0]["counts"]) for b in data["breakdown"]] == [
        ("wx", 2, [2, 1]),
        ("ad", 1, [1, 0]),
    ]


def test_range_and_tables_for_people(run_cli: Callable[..., Any], workspace: Path) -> None:
    args = ["retention", "--start-event", "signup", "--return-event", "visit", "--workspace", str(workspace)]
    english = run_cli([*args, "--from", "2024-03-05", "--to", "2024-03-05"])
    assert english.exit_code == 0, english.stderr
    assert "2024-03-05" in english.stdout and "2024-03-04 " not in english.stdout
    assert "Weighted" in english.stdout
    chinese = run_cli([*args, "--by", "channel"], lang="zh_CN")
    assert chinese.exit_code == 0
    assert "留存" in chinese.stdout and "加权" in chinese.stdout


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--period", "month"], "--period"),
        (["--periods", "0"], "--periods"),
        (["--mode", "x"], "--mode"),
        (["--tz", "Mars/Base"], "Mars/Base"),
        (["--from", "yesterday"], "--from"),
        (["--engine", "oracle"], "oracle"),
    ],
)
def test_bad_options_give_a_clean_error(
    run_cli: Callable[..., Any], workspace: Path, extra: list[str], fragment: str
) -> None:
    result = run_cli(
        [
            "retention",
            "--start-event",
            "signup",
            "--return-event",
            "visit",
            "--workspace",
            str(workspace),
            *extra,
        ]
    )
    assert result.exit_code == 2
    assert fragment in result.stderr and "Traceback" not in result.stderr


def test_an_empty_workspace_gives_an_empty_table(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    result = run_cli(
        ["retention", "--start-event", "signup", "--return-event", "visit", "--workspace", str(tmp_path / "none"),
         "--json"]
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cohorts"] == [] and data["data_end"] is None
    assert [o["rate"] for o in data["overall"]][:2] == [None, None]

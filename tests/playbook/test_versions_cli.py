"""``sopflow playbook publish|versions|diff|approve|approval`` in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sopflow.playbook.versions import resolve_version
from sopflow.store.database import open_database

Run = Callable[..., Any]

PLAYBOOK = """\
meta: {id: course, name: 训练营, version: "1.0", owner: 运营}
brief: {background: 背景, purpose: 宗旨, goals: [拉新]}
team:
  roles: [{id: ops, name: 运营}]
channels:
  - {id: moments, name: 朋友圈, kind: moments, posters: 10, reach_per_poster: 100, entry_rate: 0.1, cost: 200}
funnel:
  stages:
    - {id: join, name: 进群, event: join_group, aarrr: acquisition}
    - {id: pay, name: 付费, event: pay, aarrr: revenue, expected_rate: 0.1, value: 99}
timeline:
  span: {start: "D-1 09:00", end: "D+1 21:00"}
  phases:
    - id: launch
      name: 启动
      steps:
        - {id: s1, name: 发圈, at: "D0 10:00", owner: ops, channel: moments, action: 发朋友圈}
"""
VERSION_KEYS = {
    "playbook_id",
    "version",
    "ref",
    "name",
    "declared_version",
    "content_hash",
    "note",
    "source",
    "published_at",
    "published_by",
    "approved",
    "approved_at",
    "approved_by",
}


@pytest.fixture
def ws(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``--workspace`` arguments; the app database is the fixture's (SQLite or PostgreSQL) through the env."""
    monkeypatch.setenv("SOPFLOW_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")  # Rich wraps at 80 columns when not on a terminal
    return ["--workspace", str(tmp_path / "ws")]


@pytest.fixture
def playbook(tmp_path: Path) -> Path:
    path = tmp_path / "course.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return path


def test_publish_twice_then_a_change(run_cli: Run, ws: list[str], playbook: Path) -> None:
    first = run_cli(["playbook", "publish", str(playbook), "--note", "首发", "--by", "李雷", "--json", *ws])
    assert first.exit_code == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["created"] is True and set(data["version"]) == VERSION_KEYS
    assert (data["version"]["ref"], data["version"]["note"], data["version"]["published_by"]) == (
        "course@1",
        "首发",
        "李雷",
    )
    same = run_cli(["playbook", "publish", str(playbook), *ws])
    assert same.exit_code == 0
    assert f"Unchanged: {playbook} is identical to course@1" in same.stdout
    playbook.write_text(PLAYBOOK.replace("value: 99", "value: 199"), encoding="utf-8")
    second = run_cli(["playbook", "publish", str(playbook), "--by", "李雷", *ws])
    assert second.exit_code == 0
    assert "Published course@2 (训练营)" in second.stdout
    assert "sopflow playbook approve course 2 --by NAME" in second.stdout


def test_an_invalid_file_exits_2_with_file_line_col(run_cli: Run, ws: list[str], playbook: Path) -> None:
    playbook.write_text(PLAYBOOK.replace("expected_rate: 0.1", "expected_rate: -1"), encoding="utf-8")
    result = run_cli(["playbook", "publish", str(playbook), *ws])
    assert result.exit_code == 2
    assert f"{playbook}:10:" in result.stderr and "Traceback" not in result.stderr
    listed = json.loads(run_cli(["playbook", "versions", "--json", *ws]).stdout)
    assert listed == {"approval_required": True, "playbooks": []}


def test_versions_approve_and_approval_switch(run_cli: Run, ws: list[str], playbook: Path) -> None:
    run_cli(["playbook", "publish", str(playbook), "--by", "李雷", *ws])
    playbook.write_text(PLAYBOOK.replace("value: 99", "value: 199"), encoding="utf-8")
    run_cli(["playbook", "publish", str(playbook), "--by", "李雷", *ws])

    listed = json.loads(run_cli(["playbook", "versions", "course", "--json", *ws]).stdout)
    assert (listed["playbook_id"], listed["approval_required"], listed["current"]) == ("course", True, None)
    assert [(v["version"], v["approved"]) for v in listed["versions"]] == [(1, False), (2, False)]

    approved = run_cli(["playbook", "approve", "course", "v1", "--by", "韩梅梅", *ws])
    assert approved.exit_code == 0 and "Approved course@1 (by 韩梅梅)." in approved.stdout
    again = json.loads(run_cli(["playbook", "approve", "course", "1", "--by", "王芳", "--json", *ws]).stdout)
    assert again["changed"] is False and again["version"]["approved_by"] == "韩梅梅"

    table = run_cli(["playbook", "versions", "course", *ws]).stdout
    assert "韩梅梅" in table and "not approved" in table
    assert "* runs when a campaign starts from course: version 1" in table

    off = json.loads(run_cli(["playbook", "approval", "off", "--json", *ws]).stdout)
    assert off == {"approval_required": False, "changed": True}
    assert json.loads(run_cli(["playbook", "versions", "course", "--json", *ws]).stdout)["current"] == 2
    shown = run_cli(["playbook", "approval", *ws])
    assert "Approval is off" in shown.stdout
    assert json.loads(run_cli(["playbook", "approval", "on", "--json", *ws]).stdout)["changed"] is True

    summary = json.loads(run_cli(["playbook", "versions", "--json", *ws]).stdout)
    assert summary["playbooks"] == [
        {"playbook_id": "course", "name": "训练营", "versions": 2, "latest": 2, "latest_approved": 1}
    ]


def test_the_campaign_start_sees_what_the_cli_approved(
    run_cli: Run, ws: list[str], playbook: Path, database_url: str
) -> None:
    run_cli(["playbook", "publish", str(playbook), *ws])
    run_cli(["playbook", "approve", "course", "1", "--by", "韩梅梅", *ws])
    database = open_database(database_url)
    try:
        with database.session() as session:
            row = resolve_version(session=session, ref="course")
            assert (row.version, row.content, row.approved_by) == (1, PLAYBOOK, "韩梅梅")
    finally:
        database.close()


def test_diff_prints_the_yaml_and_the_numbers(run_cli: Run, ws: list[str], playbook: Path) -> None:
    run_cli(["playbook", "publish", str(playbook), *ws])
    playbook.write_text(PLAYBOOK.replace("value: 99", "value: 198"), encoding="utf-8")
    run_cli(["playbook", "publish", str(playbook), *ws])
    result = run_cli(["playbook", "diff", "course", "1", "2", *ws])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["--- course@1", "+++ course@2"]
    assert any(line.startswith("-") and "value: 99" in line for line in lines)
    assert any(line.startswith("+") and "value: 198" in line for line in lines)
    revenue = next(line for line in lines if "Revenue" in line)
    assert "990" in revenue and "1,980" in revenue and "+990" in revenue and "+100.0%" in revenue
    shape = json.loads(run_cli(["playbook", "diff", "course", "1", "2", "--json", *ws]).stdout)
    assert {n["metric"]: n["relative_change"] for n in shape["numbers"]}["revenue"] == 1.0


def test_errors_are_clean_and_exit_2(run_cli: Run, ws: list[str], playbook: Path) -> None:
    unknown = run_cli(["playbook", "versions", "salon", *ws])
    assert unknown.exit_code == 2 and "no published playbook 'salon'" in unknown.stderr
    run_cli(["playbook", "publish", str(playbook), *ws])
    for args, message in (
        (["playbook", "diff", "course", "1", "4"], "course has no version 4; versions: 1"),
        (["playbook", "diff", "course", "x", "1"], "V1: expected a version number"),
        (["playbook", "approve", "course", "1", "--by", " "], "--by: give the person's name"),
        (["playbook", "approval", "maybe"], "expected on or off, got 'maybe'"),
    ):
        result = run_cli([*args, *ws])
        assert result.exit_code == 2, args
        assert message in result.stderr and "Traceback" not in result.stderr
    missing = run_cli(["playbook", "approve", "course", "1", *ws])
    assert missing.exit_code == 2 and "--by" in missing.stderr


def test_messages_in_chinese(run_cli: Run, ws: list[str], playbook: Path) -> None:
    published = run_cli(["playbook", "publish", str(playbook), *ws], lang="zh_CN")
    assert "已发布 course@1（训练营）" in published.stdout
    same = run_cli(["playbook", "publish", str(playbook), *ws], lang="zh_CN")
    assert "内容未变" in same.stdout
    refused = run_cli(["playbook", "approve", "course", "2", "--by", "韩梅梅", *ws], lang="zh_CN")
    assert refused.exit_code == 2 and "course 没有版本 2" in refused.stderr
    table = run_cli(["playbook", "versions", "course", *ws], lang="zh_CN").stdout
    assert "未审批" in table and "只运行已审批的版本" in table


def test_every_command_has_help(run_cli: Run) -> None:
    for name in ("publish", "versions", "diff", "approve", "approval"):
        result = run_cli(["playbook", name, "--help"])
        assert result.exit_code == 0, name
        assert "Example: sopflow playbook" in " ".join(result.stdout.split()), name

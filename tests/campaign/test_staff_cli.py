"""``sopflow staff add|list|update|disable|enable`` in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Run = Callable[..., Any]


@pytest.fixture
def ws(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``--workspace`` arguments; the app database is the fixture's (SQLite or PostgreSQL) through the env."""
    monkeypatch.setenv("SOPFLOW_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")  # Rich wraps at 80 columns when not on a terminal
    return ["--workspace", str(tmp_path / "ws")]


def test_add_list_update_disable(run_cli: Run, ws: list[str]) -> None:
    assert run_cli(["staff", "add", "韩梅梅", "--role", "lead", *ws]).exit_code == 0
    added = run_cli(
        [
            "staff",
            "add",
            "李雷",
            "--role",
            "ops",
            "--manager",
            "韩梅梅",
            "--email",
            "lilei@example.com",
            "--json",
            *ws,
        ]
    )
    assert added.exit_code == 0, added.stderr
    person = json.loads(added.stdout)
    assert {k: person[k] for k in ("name", "role", "manager", "email", "wecom_userid", "active")} == {
        "name": "李雷",
        "role": "ops",
        "manager": "韩梅梅",
        "email": "lilei@example.com",
        "wecom_userid": None,
        "active": True,
    }
    human = run_cli(["staff", "add", "王芳", "--role", "ops", "--wecom-userid", "WangFang", *ws])
    assert human.stdout.strip() == "Added 王芳 (role ops · WeCom WangFang)."

    updated = run_cli(["staff", "update", "王芳", "--manager", "韩梅梅", "--role", "lead", "--json", *ws])
    assert (json.loads(updated.stdout)["manager"], json.loads(updated.stdout)["role"]) == ("韩梅梅", "lead")

    disabled = run_cli(["staff", "disable", "韩梅梅", *ws])
    assert disabled.exit_code == 0
    assert "Disabled 韩梅梅" in disabled.stdout and "韩梅梅 still manages 李雷, 王芳" in disabled.stdout
    again = json.loads(run_cli(["staff", "disable", "韩梅梅", "--json", *ws]).stdout)
    assert again["changed"] is False and again["staff"]["active"] is False

    listed = json.loads(run_cli(["staff", "list", "--json", *ws]).stdout)["staff"]
    assert [(p["name"], p["role"], p["active"]) for p in listed] == [
        ("王芳", "lead", True),
        ("韩梅梅", "lead", False),
        ("李雷", "ops", True),
    ]
    table = run_cli(["staff", "list", *ws]).stdout
    assert "lilei@example.com" in table and "disabled" in table and "WangFang" in table
    assert "Enabled 韩梅梅." in run_cli(["staff", "enable", "韩梅梅", *ws]).stdout


def test_errors_name_the_option_and_exit_2(run_cli: Run, ws: list[str]) -> None:
    run_cli(["staff", "add", "韩梅梅", "--role", "lead", *ws])
    run_cli(["staff", "add", "李雷", "--role", "ops", "--manager", "韩梅梅", *ws])
    for args, message in (
        (["staff", "add", "李雷", "--role", "ops"], "NAME: a staff member named '李雷' already exists"),
        (
            ["staff", "add", "王芳", "--role", "ops", "--manager", "张伟"],
            "--manager: no staff member named '张伟'",
        ),
        (
            ["staff", "add", "王芳", "--role", "ops", "--email", "wang@"],
            "--email: 'wang@' is not an email address",
        ),
        (["staff", "update", "韩梅梅", "--manager", "李雷"], "the chain would loop (韩梅梅 → 李雷 → 韩梅梅)"),
        (["staff", "disable", "张伟"], "NAME: no staff member named '张伟'"),
    ):
        result = run_cli([*args, *ws])
        assert result.exit_code == 2, args
        assert message in result.stderr and "Traceback" not in result.stderr
    listed = json.loads(run_cli(["staff", "list", "--json", *ws]).stdout)["staff"]
    assert [(p["name"], p["manager"]) for p in listed] == [("韩梅梅", None), ("李雷", "韩梅梅")]


def test_messages_in_chinese(run_cli: Run, ws: list[str]) -> None:
    empty = run_cli(["staff", "list", *ws], lang="zh_CN")
    assert "还没有成员" in empty.stdout
    added = run_cli(
        ["staff", "add", "李雷", "--role", "ops", "--email", "lilei@example.com", *ws], lang="zh_CN"
    )
    assert added.stdout.strip() == "已添加 李雷（角色 ops · lilei@example.com）。"
    loop = run_cli(["staff", "update", "李雷", "--manager", "李雷", *ws], lang="zh_CN")
    assert loop.exit_code == 2 and "汇报链会形成循环（李雷 → 李雷）" in loop.stderr
    bad = run_cli(["staff", "add", "王芳", "--role", "ops", "--email", "a b@c.cn", *ws], lang="zh_CN")
    assert "不是邮箱地址（含有空格" in bad.stderr


def test_every_command_has_help(run_cli: Run) -> None:
    for name in ("add", "list", "update", "disable", "enable"):
        result = run_cli(["staff", name, "--help"])
        assert result.exit_code == 0, name
        assert "Example: sopflow staff" in " ".join(result.stdout.split()), name

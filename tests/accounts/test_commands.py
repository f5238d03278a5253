"""``sopflow users …`` and ``sopflow audit`` end to end through the CLI, on a workspace in tmp_path."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer

import sopflow.cli
from sopflow.accounts.commands import app as users_app
from sopflow.accounts.commands import audit_command, audit_help, users_help
from sopflow.accounts.sessions import login
from sopflow.settings import load_settings
from sopflow.store.database import open_app_database


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands as the coordinator registers them in sopflow.cli (kept when already there)."""

    def users(app: typer.Typer) -> None:
        app.add_typer(users_app, name="users", help=users_help())

    def audit(app: typer.Typer) -> None:
        app.command("audit", help=audit_help())(audit_command)

    if "users" not in sopflow.cli.COMMANDS:
        monkeypatch.setitem(sopflow.cli.COMMANDS, "users", users)
    if "audit" not in sopflow.cli.COMMANDS:
        monkeypatch.setitem(sopflow.cli.COMMANDS, "audit", audit)


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SOPFLOW_USER", "ops-lead")
    return str(tmp_path / "ws")


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _can_log_in(ws: str, name: str, password: str) -> bool:
    database = open_app_database(load_settings(environ={}, home=Path(ws)))
    try:
        with database.session() as session:
            return login(session=session, name=name, password=password).error is None
    finally:
        database.close()


def test_create_prints_a_generated_password_once(run_cli: Callable[..., Any], ws: str) -> None:
    result = run_cli(["users", "create", "admin", "--role", "admin", "--workspace", ws])
    assert result.exit_code == 0, result.stderr
    assert "Created user admin (admin)." in result.stdout
    password = result.stdout.split("shown only this once): ")[1].strip()
    assert _can_log_in(ws, "admin", password)
    listed = run_cli(["users", "list", "--workspace", ws])
    assert "admin" in listed.stdout and password not in listed.stdout


def test_password_from_standard_input(
    run_cli: Callable[..., Any], ws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse 1\n"))
    out = _json(
        run_cli(
            ["users", "create", "li", "--role", "operator", "--password", "-", "--json", "--workspace", ws]
        )
    )
    assert out["password"] is None and out["user"]["role"] == "operator"
    assert _can_log_in(ws, "li", "correct horse 1")


def test_a_password_on_the_command_line_is_refused(run_cli: Callable[..., Any], ws: str) -> None:
    result = run_cli(
        ["users", "create", "li", "--role", "viewer", "--password", "hunter2hunter2", "--workspace", ws]
    )
    assert result.exit_code == 2 and "standard input" in result.stderr
    assert _json(run_cli(["users", "list", "--json", "--workspace", ws])) == {"users": []}


def test_the_whole_life_of_an_account_is_audited(
    run_cli: Callable[..., Any], ws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli(["users", "create", "root", "--role", "admin", "--workspace", ws]).exit_code == 0
    assert (
        run_cli(["users", "create", "wang", "--role", "viewer", "--by", "hr", "--workspace", ws]).exit_code
        == 0
    )
    assert (
        _json(run_cli(["users", "role", "wang", "operator", "--json", "--workspace", ws]))["user"]["role"]
        == "operator"
    )
    assert (
        _json(run_cli(["users", "disable", "wang", "--json", "--workspace", ws]))["user"]["active"] is False
    )
    assert _json(run_cli(["users", "enable", "wang", "--json", "--workspace", ws]))["user"]["active"] is True
    monkeypatch.setattr("sys.stdin", io.StringIO("another horse 2\n"))
    reset = _json(
        run_cli(["users", "reset-password", "wang", "--password", "-", "--json", "--workspace", ws])
    )
    assert reset["password"] is None and _can_log_in(ws, "wang", "another horse 2")
    users = _json(run_cli(["users", "list", "--json", "--workspace", ws]))["users"]
    assert [(u["name"], u["role"], u["active"]) for u in users] == [
        ("root", "admin", True),
        ("wang", "operator", True),
    ]

    # (_can_log_in's login is audited too: the account changes are the user.* family)
    entries = _json(run_cli(["audit", "--action", "user.*", "--json", "--workspace", ws]))["entries"]
    assert [(e["actor"], e["action"], e["target_id"]) for e in entries] == [
        ("ops-lead", "user.reset_password", "wang"),
        ("ops-lead", "user.enable", "wang"),
        ("ops-lead", "user.disable", "wang"),
        ("ops-lead", "user.role", "wang"),
        ("hr", "user.create", "wang"),
        ("ops-lead", "user.create", "root"),
    ]
    assert set(entries[0]) == {"id", "at", "actor", "action", "target_kind", "target_id", "details", "client"}
    only = _json(run_cli(["audit", "--actor", "hr", "--json", "--workspace", ws]))["entries"]
    assert [e["action"] for e in only] == ["user.create"]
    assert (
        len(
            _json(run_cli(["audit", "--action", "user.*", "--limit", "2", "--json", "--workspace", ws]))[
                "entries"
            ]
        )
        == 2
    )
    assert _json(run_cli(["audit", "--since", "2999-01-01", "--json", "--workspace", ws])) == {"entries": []}
    table = run_cli(["audit", "--workspace", ws])
    assert "user.role" in table.stdout and "from=viewer" in table.stdout


def test_the_last_admin_stays(run_cli: Callable[..., Any], ws: str) -> None:
    run_cli(["users", "create", "root", "--role", "admin", "--workspace", ws])
    for args in (["users", "disable", "root"], ["users", "role", "root", "viewer"]):
        result = run_cli([*args, "--workspace", ws])
        assert result.exit_code == 2
        assert "last active admin" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "create", "x y", "--role", "admin"], "user name 'x y'"),
        (["users", "create", "li", "--role", "owner"], "unknown role 'owner'"),
        (["users", "disable", "ghost"], "no user named 'ghost'"),
        (["audit", "--since", "yesterday"], "--since 'yesterday'"),
        (["audit", "--limit", "0"], "between 1 and"),
    ],
)
def test_bad_input_is_a_clean_error(
    run_cli: Callable[..., Any], ws: str, args: list[str], message: str
) -> None:
    result = run_cli([*args, "--workspace", ws])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_messages_are_chinese_by_default(run_cli: Callable[..., Any], ws: str) -> None:
    result = run_cli(["users", "create", "root", "--role", "admin", "--workspace", ws], lang="zh_CN")
    assert result.exit_code == 0
    assert "已创建用户 root" in result.stdout
    refused = run_cli(["users", "disable", "root", "--workspace", ws], lang="zh_CN")
    assert "管理员" in refused.stderr

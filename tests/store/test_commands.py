"""``sopflow keys create|list|revoke``: the key is printed once, lists show prefixes, revoke by id or prefix."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sopflow.settings import load_settings
from sopflow.store.api_keys import ApiKeyVerifier
from sopflow.store.database import open_app_database

Run = Callable[..., Any]


def test_create_list_revoke_as_json(run_cli: Run, tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    created = run_cli(["keys", "create", "H5 落地页", "--workspace", ws, "--json"])
    assert created.exit_code == 0, created.stderr
    record = json.loads(created.stdout)
    assert set(record) == {"id", "name", "prefix", "created_at", "revoked_at", "active", "key"}
    assert (record["id"], record["name"], record["active"]) == (1, "H5 落地页", True)
    assert record["key"].startswith(record["prefix"])

    database = open_app_database(load_settings(environ={}, home=Path(ws)))
    try:
        assert ApiKeyVerifier(database, cache_seconds=0).verify(record["key"]) is not None
    finally:
        database.close()

    listed = json.loads(run_cli(["keys", "list", "--workspace", ws, "--json"]).stdout)
    assert [(k["id"], k["prefix"], k["active"]) for k in listed["keys"]] == [(1, record["prefix"], True)]
    assert record["key"] not in json.dumps(listed)

    revoked = run_cli(["keys", "revoke", record["prefix"], "--workspace", ws, "--json"])
    assert revoked.exit_code == 0
    assert json.loads(revoked.stdout)["active"] is False
    listed = json.loads(run_cli(["keys", "list", "--workspace", ws, "--json"]).stdout)
    assert listed["keys"][0]["revoked_at"] is not None


def test_human_output_in_chinese(run_cli: Run, tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    empty = run_cli(["keys", "list", "--workspace", ws], lang="zh_CN")
    assert "还没有 API 密钥" in empty.stdout
    created = run_cli(["keys", "create", "app", "--workspace", ws], lang="zh_CN")
    assert "只显示这一次" in created.stdout
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("sf_") and len(key) == 46
    table = run_cli(["keys", "list", "--workspace", ws], lang="zh_CN").stdout
    assert "有效" in table and key[:11] in table and key not in table
    revoked = run_cli(["keys", "revoke", "1", "--workspace", ws], lang="zh_CN")
    assert "已吊销 API 密钥 1（app）" in revoked.stdout


def test_revoking_an_unknown_key_is_a_clean_error(run_cli: Run, tmp_path: Path) -> None:
    result = run_cli(["keys", "revoke", "sf_nothing", "--workspace", str(tmp_path)])
    assert result.exit_code == 2
    assert "no API key with id or prefix 'sf_nothing'" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_settings_are_a_clean_error(run_cli: Run, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("SOPFLOW_ENV", "production")
    monkeypatch.delenv("SOPFLOW_SECRET_KEY", raising=False)
    result = run_cli(["keys", "list", "--workspace", str(tmp_path)])
    assert result.exit_code == 2
    assert "SOPFLOW_SECRET_KEY is a placeholder" in result.stderr


def test_every_command_has_help(run_cli: Run) -> None:
    for args in (
        ["keys", "--help"],
        ["keys", "create", "--help"],
        ["keys", "list", "--help"],
        ["keys", "revoke", "--help"],
        ["serve", "--help"],
    ):
        result = run_cli(args)
        assert result.exit_code == 0, args
        assert "--workspace" in result.stdout or args == ["keys", "--help"]
    assert "--port" in run_cli(["serve", "--help"]).stdout


def test_serve_refuses_invalid_settings_before_starting(run_cli: Run, tmp_path: Path) -> None:
    result = run_cli(["serve", "--port", "70000", "--workspace", str(tmp_path)])
    assert result.exit_code == 2
    assert "setting port" in result.stderr

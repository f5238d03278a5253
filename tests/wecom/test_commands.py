"""``sopflow wecom``: configure (secrets never printed), states, and the round trip from a channel QR code
created in (the local) WeCom, through a scan's callback, to the channel's 获客 count in ``sopflow funnel``."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sopflow.settings import load_settings
from sopflow.web.app import create_app

from .wecom_cipher import AES_KEY, TOKEN, callback_request, chat_event, contact_event
from .wecom_server import CORP_ID, SECRET, FakeWecom

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def workspace(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOPFLOW_DATABASE_URL", database_url)
    return tmp_path / "ws"


def configure(run_cli: Callable[..., Any], workspace: Path, fake: FakeWecom, *extra: str) -> Any:
    return run_cli(
        [
            "wecom",
            "configure",
            "--corp-id",
            CORP_ID,
            "--token",
            TOKEN,
            "--aes-key",
            AES_KEY,
            "--secret",
            SECRET,
            "--agent-id",
            "1000002",
            "--api-base",
            fake.base,
            "--workspace",
            str(workspace),
            *extra,
        ]
    )


def test_configure_stores_secrets_without_printing_them(
    run_cli: Callable[..., Any], workspace: Path, fake_wecom: FakeWecom
) -> None:
    for as_json in (False, True):
        result = configure(run_cli, workspace, fake_wecom, *(["--json"] if as_json else []))
        assert result.exit_code == 0, result.stderr
        for secret in (TOKEN, AES_KEY, SECRET):
            assert secret not in result.stdout + result.stderr
    assert json.loads(result.stdout) == {
        "corp_id": CORP_ID,
        "agent_id": 1000002,
        "api_base": fake_wecom.base,
        "token_set": True,
        "aes_key_set": True,
        "secret_set": True,
    }
    # A later call changes only what it names.
    result = run_cli(["wecom", "configure", "--agent-id", "7", "--workspace", str(workspace), "--json"])
    assert json.loads(result.stdout)["agent_id"] == 7 and json.loads(result.stdout)["corp_id"] == CORP_ID


def test_configure_errors(run_cli: Callable[..., Any], workspace: Path) -> None:
    result = run_cli(["wecom", "configure", "--corp-id", CORP_ID, "--workspace", str(workspace)])
    assert result.exit_code == 2 and "--token" in result.stderr and "Traceback" not in result.stderr
    result = run_cli(
        [
            "wecom",
            "configure",
            "--corp-id",
            CORP_ID,
            "--token",
            "t",
            "--aes-key",
            "short",
            "--secret",
            "s",
            "--workspace",
            str(workspace),
        ]
    )
    assert result.exit_code == 2 and "43" in result.stderr
    result = run_cli(
        ["wecom", "qrcode", "create", "--channel", "m", "--staff", "u", "--workspace", str(workspace)]
    )
    assert result.exit_code == 2 and "sopflow wecom configure" in result.stderr


def test_states(run_cli: Callable[..., Any], workspace: Path) -> None:
    ws = ["--workspace", str(workspace)]
    result = run_cli(
        ["wecom", "states", "--set", "moments_poster=moments", "--set", "flyer=offline", *ws, "--json"]
    )
    assert result.exit_code == 0, result.stderr
    assert [(s["state"], s["channel"]) for s in json.loads(result.stdout)["states"]] == [
        ("flyer", "offline"),
        ("moments_poster", "moments"),
    ]
    result = run_cli(["wecom", "states", "--set", "flyer=paid", "--remove", "moments_poster", *ws, "--json"])
    assert [(s["state"], s["channel"]) for s in json.loads(result.stdout)["states"]] == [("flyer", "paid")]
    result = run_cli(["wecom", "states", "--set", "no-equals-sign", *ws])
    assert result.exit_code == 2 and "STATE=CHANNEL" in result.stderr
    result = run_cli(["wecom", "states", "--set", "x" * 31 + "=m", *ws])
    assert result.exit_code == 2 and "30" in result.stderr
    assert "flyer" in run_cli(["wecom", "states", *ws]).stdout


def test_from_qr_code_to_the_channel_acquisition_count(
    run_cli: Callable[..., Any], workspace: Path, fake_wecom: FakeWecom
) -> None:
    assert configure(run_cli, workspace, fake_wecom).exit_code == 0
    created = {}
    for channel in ("moments", "offline"):
        result = run_cli(
            [
                "wecom",
                "qrcode",
                "create",
                "--channel",
                channel,
                "--staff",
                "zhangsan",
                "--workspace",
                str(workspace),
                "--json",
            ]
        )
        assert result.exit_code == 0, result.stderr
        created[channel] = json.loads(result.stdout)
    moments = created["moments"]
    assert moments["channel"] == "moments" and moments["state"].startswith("moments-")
    assert moments["qr_code"] == f"https://wwcdn.weixin.qq.com/qr/{moments['config_id']}.png"
    assert fake_wecom.contact_ways[moments["config_id"]]["state"] == moments["state"]
    # A refused QR code leaves no state behind.
    result = run_cli(
        ["wecom", "qrcode", "create", "--channel", "paid", "--staff", "nobody", "--workspace", str(workspace)]
    )
    assert result.exit_code == 1 and "40098" in result.stderr
    states = json.loads(run_cli(["wecom", "states", "--workspace", str(workspace), "--json"]).stdout)[
        "states"
    ]
    assert sorted(s["channel"] for s in states) == ["moments", "offline"]

    # Three people scan (two the moments code, one the offline code); one of them joins the group.
    scans = [("wmA", "moments"), ("wmB", "moments"), ("wmC", "offline")]
    messages = [
        contact_event(
            "add_external_contact",
            corp=CORP_ID,
            external=user,
            state=created[ch]["state"],
            when=1764979200 + i,
        )
        for i, (user, ch) in enumerate(scans)
    ]
    messages.append(
        chat_event(
            "update",
            corp=CORP_ID,
            when=1764980000,
            extra="<UpdateDetail>add_member</UpdateDetail><JoinScene>3</JoinScene><MemChangeList><Item>wmA</Item></MemChangeList>",
        )
    )
    with TestClient(create_app(load_settings(home=workspace))) as client:
        for message in messages:
            query, body = callback_request(message, receiver=CORP_ID)
            assert client.post("/wecom/callback", params=query, content=body).status_code == 200
    result = run_cli(
        [
            "funnel",
            "--steps",
            "wecom_contact_added,wecom_group_joined",
            "--by",
            "channel",
            "--workspace",
            str(workspace),
            "--json",
        ]
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [s["users"] for s in data["steps"]] == [3, 1]
    assert {b["value"]: [s["users"] for s in b["steps"]] for b in data["breakdown"]} == {
        "moments": [2, 1],
        "offline": [1, 0],
    }

    result = run_cli(["wecom", "qrcode", "delete", moments["state"], "--workspace", str(workspace), "--json"])
    assert result.exit_code == 0, result.stderr
    assert (
        json.loads(result.stdout)["qr_code"] is None and moments["config_id"] not in fake_wecom.contact_ways
    )

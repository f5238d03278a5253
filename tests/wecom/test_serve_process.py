"""A real ``sopflow serve``: acknowledged callbacks survive ``kill -9``; WeCom's retries after it add nothing."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.web.helpers import free_port, start_server

from sopflow.settings import load_settings

from .conftest import stored_events
from .wecom_cipher import AES_KEY, TOKEN, callback_request, contact_event
from .wecom_server import CORP_ID, SECRET


def test_acknowledged_callbacks_survive_kill_9(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., Any]
) -> None:
    monkeypatch.setenv("SOPFLOW_DATABASE_URL", database_url)
    workspace = tmp_path / "ws"
    result = run_cli(
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
            "--workspace",
            str(workspace),
        ]
    )
    assert result.exit_code == 0, result.stderr
    run_cli(["wecom", "states", "--set", "poster=moments", "--workspace", str(workspace)])
    messages = [
        contact_event(
            "add_external_contact", corp=CORP_ID, external=f"wm{i:05d}", state="poster", when=1764979200 + i
        )
        for i in range(4000)
    ]
    port = free_port()
    url = f"http://127.0.0.1:{port}/wecom/callback"
    acknowledged: set[str] = set()
    lock = threading.Lock()

    def sender(part: list[str]) -> None:
        with httpx.Client(timeout=10) as http:
            for message in part:
                query, body = callback_request(message, receiver=CORP_ID)
                try:
                    response = http.post(url, params=query, content=body)
                except httpx.HTTPError:
                    return  # the server died under this request: never acknowledged
                if response.status_code == 200:
                    with lock:
                        acknowledged.add(message.split("<ExternalUserID><![CDATA[")[1].split("]]>")[0])

    server = start_server(workspace, port)
    try:
        threads = [threading.Thread(target=sender, args=(messages[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        while True:
            with lock:
                if len(acknowledged) >= 300:
                    break
            threads[0].join(0.01)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        for thread in threads:
            thread.join(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    settings = load_settings(home=workspace)
    rows = stored_events(settings)
    users = {row["user_id"] for row in rows}
    assert len(users) == len(rows), "no callback is stored twice"
    missing = acknowledged - users
    assert not missing, f"{len(missing)} acknowledged callbacks lost, e.g. {sorted(missing)[:3]}"
    assert len(acknowledged) < len(messages), "the kill came after every callback: nothing was tested"

    # WeCom retries whatever got no answer, and some that did: after a restart none is stored twice.
    server = start_server(workspace, port)
    try:
        sender(messages[:400])
    finally:
        server.kill()
        server.wait()
    rows = stored_events(settings)
    assert len(rows) == len({row["user_id"] for row in rows}) >= 400
    assert all(row["channel"] == "moments" for row in rows)

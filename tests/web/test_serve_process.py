"""A real ``sopflow serve`` process: acknowledged events survive ``kill -9``; it restarts on the same store."""

from __future__ import annotations

import json
import os
import signal
import threading
import uuid
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import httpx

from sopflow.events.normalize import normalize_event
from sopflow.events.store import EventStore
from sopflow.workspace import Workspace

from .helpers import free_port, read_events, start_server


def create_key(run_cli: Callable[..., object], workspace: Path) -> str:
    result = run_cli(["keys", "create", "durability", "--workspace", str(workspace), "--json"])
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    return str(json.loads(result.stdout)["key"])  # type: ignore[attr-defined]


def batch(prefix: str, n: int) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"{prefix}-{i}",
            "event": "view",
            "user_id": f"u{i % 17}",
            "ts": 1741136733 + i,
            "properties": {"i": i},
        }
        for i in range(n)
    ]


def test_acknowledged_events_survive_kill_9(tmp_path: Path, run_cli: Callable[..., object]) -> None:
    workspace = tmp_path / "ws"
    key = create_key(run_cli, workspace)
    port = free_port()
    server = start_server(workspace, port)
    url = f"http://127.0.0.1:{port}/api/v1/events"
    headers = {"Authorization": f"Bearer {key}"}
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(name: str) -> None:
        with httpx.Client(timeout=10) as http:
            for round_ in range(1000):
                if stop.is_set():
                    return
                events = batch(f"{name}-{round_}", 100)
                try:
                    response = http.post(url, json=events, headers=headers)
                except httpx.HTTPError:
                    return  # the server died under this request: it was never acknowledged
                if response.status_code == 200:
                    with lock:
                        acknowledged.extend(str(e["event_id"]) for e in events)

    try:
        first = httpx.post(url, json=batch("first", 50), headers=headers, timeout=10)
        assert first.status_code == 200 and first.json() == {"accepted": 50, "duplicates": 0}
        server.send_signal(signal.SIGKILL)  # right after the 200, as the issue asks
        server.wait(timeout=10)
        stored = {row["event_id"] for row in read_events(Workspace.resolve(workspace))}
        assert stored == {f"first-{i}" for i in range(50)}

        # Restart on the same workspace, then kill it while several clients are mid-request.
        server = start_server(workspace, port)
        threads = [threading.Thread(target=sender, args=(f"t{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        while True:
            with lock:
                if len(acknowledged) >= 2000:
                    break
            threads[0].join(0.01)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    rows = read_events(Workspace.resolve(workspace))
    stored = {row["event_id"] for row in rows}
    assert len(stored) == len(rows), "no event is stored twice"
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
    assert {f"first-{i}" for i in range(50)} <= stored

    # The store opens cleanly after both crashes and takes events again.
    with EventStore.open(Workspace.resolve(workspace)) as store:
        rows = [normalize_event(e, tz=UTC) for e in batch(str(uuid.uuid4()), 10)]
        assert store.append_rows(rows).accepted == 10


def test_several_worker_processes_share_one_store(tmp_path: Path, run_cli: Callable[..., object]) -> None:
    workspace = tmp_path / "ws"
    key = create_key(run_cli, workspace)
    port = free_port()
    server = start_server(workspace, port, "--workers", "2")
    url = f"http://127.0.0.1:{port}/api/v1/events"
    headers = {"Authorization": f"Bearer {key}"}
    results: list[dict[str, int]] = []

    def send(name: str) -> None:
        for round_ in range(3):
            # A fresh connection each time, so both worker processes get requests.
            response = httpx.post(url, json=batch(f"{name}-{round_}", 100), headers=headers, timeout=30)
            assert response.status_code == 200, response.text
            results.append(response.json())
            again = httpx.post(url, json=batch("same", 100), headers=headers, timeout=30)
            results.append(again.json())

    try:
        threads = [threading.Thread(target=send, args=(f"t{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert len(results) == 24
    # 12 distinct batches plus one batch sent 12 times: the store dedupes across processes.
    assert sum(r["accepted"] for r in results) == 13 * 100
    assert sum(r["duplicates"] for r in results) == 11 * 100
    rows = read_events(Workspace.resolve(workspace))
    assert len(rows) == len({r["event_id"] for r in rows}) == 1300

"""HTTP ingest from several threads while ``sopflow events import`` runs in another process: nothing lost,
nothing doubled; a busy store may answer 503, which clients retry."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from sopflow.settings import Settings
from sopflow.store.api_keys import create_api_key
from sopflow.web.app import create_app

from .helpers import ThreadServer, free_port, read_events

IMPORT_ROWS = 40_000


def write_csv(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["事件ID", "事件", "用户ID", "时间", "渠道"])
        for i in range(IMPORT_ROWS):
            writer.writerow([f"imp-{i}", "view", f"u{i % 997}", f"2025-03-05 09:{i % 60:02d}:00", "offline"])


def test_http_ingest_while_a_file_import_runs(settings: Settings, tmp_path: Path) -> None:
    events_file = tmp_path / "crm.csv"
    write_csv(events_file)
    app = create_app(settings)
    port = free_port()
    acknowledged: list[str] = []
    retries: list[int] = []
    lock = threading.Lock()
    importing = threading.Event()
    done = threading.Event()

    with ThreadServer(app, port):
        with app.state.services.database.session() as session:
            key = create_api_key(session=session, name="concurrency").key

        def sender(name: str) -> None:
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", timeout=60, headers={"Authorization": f"Bearer {key}"}
            ) as http:
                round_ = 0
                # Keep sending until the import has finished, and at least a few rounds after it started.
                while not (done.is_set() and round_ >= 3):
                    events = [
                        {
                            "event_id": f"{name}-{round_}-{i}",
                            "event": "pay",
                            "user_id": f"h{i}",
                            "ts": 1741136733 + i,
                            "revenue": 9.9,
                        }
                        for i in range(50)
                    ]
                    response = http.post("/api/v1/events", json=events)
                    if response.status_code == 503:
                        retries.append(1)  # busy store: retry the same batch
                        continue
                    assert response.status_code == 200, response.text
                    with lock:
                        acknowledged.extend(str(e["event_id"]) for e in events)
                    if importing.is_set():
                        round_ += 1

        threads = [threading.Thread(target=sender, args=(f"t{i}",)) for i in range(3)]
        for thread in threads:
            thread.start()
        env = {**os.environ, "SOPFLOW_LANG": "en"}
        command = [
            sys.executable,
            "-m",
            "sopflow",
            "events",
            "import",
            str(events_file),
            "--workspace",
            str(settings.workspace.root),
            "--json",
        ]
        importing.set()
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        done.set()
        for thread in threads:
            thread.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == IMPORT_ROWS
    rows = read_events(settings.workspace)
    ids = [str(r["event_id"]) for r in rows]
    assert len(ids) == len(set(ids)), "no event stored twice"
    assert set(acknowledged) <= set(ids)
    assert len(ids) == IMPORT_ROWS + len(acknowledged)
    assert len(acknowledged) >= 3 * 3 * 50

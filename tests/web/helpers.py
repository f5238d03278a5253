"""Helpers shared by the web tests: read back what the store holds, find a free port, run a server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from sopflow.events.store import EventStore
from sopflow.workspace import Workspace


def read_events(workspace: Workspace) -> list[dict[str, Any]]:
    """Every stored event as a dict of canonical columns, sorted by (user_id, ts, event)."""
    store = EventStore.open(workspace)
    try:
        rows = store.scan_arrow().to_pylist()
    finally:
        store.close()
    return sorted(rows, key=lambda r: (r["user_id"], r["ts"], r["event"]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, *, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode}: {process.stderr.read() if process.stderr else ''!r}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def start_server(workspace: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """``sopflow serve`` as its own process (in its own process group), as a user would run it."""
    env = {**os.environ, "SOPFLOW_LANG": "en"}
    command = [
        sys.executable,
        "-m",
        "sopflow",
        "serve",
        "--port",
        str(port),
        "--workspace",
        str(workspace),
        *extra,
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    wait_for_port(port, process=process)
    return process


class ThreadServer:
    """uvicorn serving an app from a thread of the test process (for clients that need a real socket)."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.port = port

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

"""The workspace's events as the worker's policies see them: one analytics snapshot, refreshed in the
background.

Opening the engine reads the event store's log and cache (tenths of a second), too slow to do before every
batch without making deliveries late. So a worker keeps one snapshot and a thread opens a fresh one every
``refresh_seconds`` while deliveries keep asking for it; an audience is therefore decided on the events
known at most about that long before the task's due time (plus the time an open takes). The first
request waits for the first open. A workspace without events has no snapshot: audiences are unknown.
"""

from __future__ import annotations

import threading

from sopflow.analytics.frame import Engine
from sopflow.workspace import Workspace

DEFAULT_REFRESH = 5.0


def _open(workspace: Workspace) -> Engine | None:
    if not workspace.events_dir.exists():
        return None
    from sopflow.analytics.engines import open_engine

    engine = open_engine("duckdb", workspace=workspace)
    return engine if engine.time_bounds() is not None else None


class Snapshot:
    def __init__(self, workspace: Workspace, *, refresh_seconds: float = DEFAULT_REFRESH) -> None:
        self.workspace = workspace
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._opened = False
        self._wanted = threading.Event()  # set when a delivery asked since the last refresh
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def engine(self) -> Engine | None:
        self._wanted.set()
        with self._lock:
            if not self._opened:
                self._engine = _open(self.workspace)
                self._opened = True
                self._start()
            return self._engine

    def _start(self) -> None:
        if self.refresh_seconds <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._refresh, name="sopflow-worker-events", daemon=True)
        self._thread.start()

    def _refresh(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            if not self._wanted.is_set():
                continue  # nothing was delivered meanwhile: no need for newer events
            self._wanted.clear()
            fresh = _open(self.workspace)
            with self._lock:
                self._engine = fresh

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

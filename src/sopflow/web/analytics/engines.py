"""One engine per event-store state, kept between requests.

Opening the embedded engine maps the sealed generation's arrays (cheap), but what it learns afterwards is
not: the person ids, property columns read from the segments, and every per-person table it has answered
(:meth:`EmbeddedEngine.map_persons` remembers them). A server that opened a new engine per request would
pay for all of that on every call, so the engine is kept until the store changes: a new generation
(compaction, import) or new events in the write-ahead log. The state is read from the file system on each
request (a ``stat`` of the manifest and a listing of the log folder), so another process's writes are seen.

The answers themselves are kept too, with the engine (so they go when the store changes): the same question
asked again, by the same or another user, is answered from memory.

The engine's sealed files are plain handles that readers ``seek`` then read, so two queries on the same
engine at once would interleave their reads: each engine answers one query at a time, and a state has up
to two engines, so one long query does not hold up everyone else's.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sopflow.analytics.frame import Engine
from sopflow.events.layout import MANIFEST, WAL_DIR
from sopflow.workspace import Workspace

StoreState = tuple[tuple[str, int, int], ...]


def store_state(events_dir: Path) -> StoreState:
    """What changes whenever the events an engine would read change: the manifest and the log files."""
    found: list[tuple[str, int, int]] = []
    for path in (events_dir / MANIFEST,):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found.append((path.name, stat.st_mtime_ns, stat.st_size))
    try:
        with os.scandir(events_dir / WAL_DIR) as entries:
            for entry in entries:
                stat = entry.stat()
                found.append((entry.name, stat.st_mtime_ns, stat.st_size))
    except FileNotFoundError:
        pass
    return tuple(sorted(found))


MAX_ANSWERS = 64


@dataclass
class _Slot:
    engine: Engine
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _Held:
    """One store state: its engines (each answering one query at a time) and the answers kept for it."""

    state: StoreState
    workspace: Workspace
    slots: list[_Slot]
    answers: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)  # guards slots, opening and answers
    opening: int = 0  # engines being opened


class EngineCache:
    """The latest engines of each workspace, opened again when its store's state changes.

    Up to ``engines`` engines per state: a long question (a new ROI range takes seconds) holds one, and
    another user's funnel runs on the next instead of waiting (each engine learns on its own, so a second
    one costs memory only once it is used)."""

    def __init__(self, engines: int = 2) -> None:
        self._lock = threading.Lock()
        self._held: dict[Path, _Held] = {}
        self.engines = engines
        self.opened = 0  # engines opened so far (tests check that repeated queries reuse one)
        self.reused = 0  # answers given again from memory

    def current(self, workspace: Workspace) -> Engine:
        """The workspace's engine as of now, without waiting for a query on it: only for what reads no
        files (the event and channel names held in memory)."""
        return self._current(workspace).slots[0].engine

    def _open(self, workspace: Workspace) -> _Slot:
        from sopflow.analytics.engines import open_engine

        self.opened += 1
        return _Slot(open_engine("duckdb", workspace=workspace))

    def _current(self, workspace: Workspace) -> _Held:
        events_dir = workspace.events_dir
        state = store_state(events_dir)
        with self._lock:
            held = self._held.get(events_dir)
            if held is None or held.state != state:
                held = _Held(state, workspace, [self._open(workspace)])
                self._held[events_dir] = held
            return held

    @contextmanager
    def _slot(self, held: _Held) -> Iterator[Engine]:
        """A free engine of ``held`` (a new one while there are fewer than ``engines``), else wait for one."""
        with held.lock:
            slot = next((s for s in held.slots if s.lock.acquire(blocking=False)), None)
            opening = slot is None and len(held.slots) + held.opening < self.engines
            if opening:
                held.opening += 1
        if opening:  # opened outside the lock: kept answers are not held up meanwhile
            try:
                slot = self._open(held.workspace)
                slot.lock.acquire()
                with held.lock:
                    held.slots.append(slot)
            finally:
                with held.lock:
                    held.opening -= 1
        if slot is None:
            slot = held.slots[0]
            slot.lock.acquire()
        try:
            yield slot.engine
        finally:
            slot.lock.release()

    @contextmanager
    def engine(self, workspace: Workspace) -> Iterator[Engine]:
        """An engine of the workspace's current state, held for this block alone."""
        with self._slot(self._current(workspace)) as engine:
            yield engine

    def answer(self, workspace: Workspace, key: Hashable, compute: Callable[[Engine], Any]) -> Any:
        """``compute(engine)``, remembered under ``key`` while the store stays as it is (the latest
        ``MAX_ANSWERS``): a team looking at the same funnel asks it once, and a remembered answer never
        waits for another query. Answers are shared: callers must not change them."""
        held = self._current(workspace)
        with held.lock:
            if key in held.answers:
                held.answers.move_to_end(key)
                self.reused += 1
                return held.answers[key]
        with self._slot(held) as engine:
            found = compute(engine)
        with held.lock:
            held.answers[key] = found
            while len(held.answers) > MAX_ANSWERS:
                held.answers.popitem(last=False)
        return found

    def clear(self) -> None:
        with self._lock:
            self._held.clear()


ENGINES = EngineCache()

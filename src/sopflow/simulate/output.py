"""Where simulated events go: a Parquet file or the workspace's event store, each written whole or not at all.

Chunks are generated one ahead of the writer, on a second thread: Arrow and Parquet work releases the GIL,
so generating the next chunk overlaps writing this one.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import pyarrow.parquet as pq

from sopflow.errors import InvalidInput, SopflowError
from sopflow.events.schema import EVENT_SCHEMA
from sopflow.i18n import _
from sopflow.simulate.generator import Chunk, Simulation, merge_counts
from sopflow.workspace import Workspace

Progress = Callable[[int], None]
T = TypeVar("T")
# Parquet settings: event ids are unique, so a dictionary would only cost time; min/max statistics of long,
# high-cardinality text (ids, JSON) cost a third of the writing time and prune nothing.
_UNIQUE_TEXT = ("event_id", "user_id", "properties")
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": [name for name in EVENT_SCHEMA.names if name not in ("event_id", "ts")],
    "write_statistics": [name for name in EVENT_SCHEMA.names if name not in _UNIQUE_TEXT],
}


class OutputError(SopflowError):
    code = "output_error"
    exit_code = 2


@dataclass
class Summary:
    """What a run produced; ``as_json`` is the ``--json`` shape of ``sopflow simulate``."""

    playbook: str
    seed: int
    start: str
    days: int
    users: int = 0
    referred: int = 0
    people: int = 0
    events: int = 0
    by_event: dict[str, int] = field(default_factory=dict)
    target: Literal["parquet", "workspace"] = "parquet"
    path: str = ""
    added: int | None = None
    duplicates: int | None = None
    seconds: float = 0.0

    def add(self, chunk: Chunk) -> None:
        self.users += chunk.users
        self.referred += chunk.referred
        self.people += chunk.people
        self.events += chunk.table.num_rows
        merge_counts(self.by_event, chunk.by_event)

    def as_json(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook,
            "seed": self.seed,
            "start": self.start,
            "days": self.days,
            "users": {"channel": self.users, "referred": self.referred, "total": self.people},
            "events": self.events,
            "by_event": dict(sorted(self.by_event.items(), key=lambda kv: (-kv[1], kv[0]))),
            "output": {
                "target": self.target,
                "path": self.path,
                "added": self.added,
                "duplicates": self.duplicates,
            },
            "seconds": round(self.seconds, 3),
        }


def _summary(simulation: Simulation) -> Summary:
    return Summary(
        playbook=simulation.playbook.meta.id,
        seed=simulation.options.seed,
        start=simulation.options.start.isoformat(),
        days=simulation.days,
    )


def prefetched(items: Iterator[T]) -> Iterator[T]:
    """``items``, with the next one computed on a worker thread while the caller handles the current one."""
    done = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sopflow-simulate") as pool:
        future = pool.submit(next, items, done)
        while True:
            item = future.result()
            if item is done:
                return
            future = pool.submit(next, items, done)
            yield item  # type: ignore[misc]


def check_parquet_path(path: Path) -> None:
    if path.suffix.lower() != ".parquet":
        raise InvalidInput(_("-o needs a file name ending in .parquet, got {path}", path=str(path)))
    if path.is_dir():
        raise InvalidInput(_("-o {path} is a folder; give a file name ending in .parquet", path=str(path)))
    if not path.parent.is_dir():
        raise InvalidInput(_("the folder of -o {path} does not exist", path=str(path)))


def simulate_to_parquet(*, simulation: Simulation, path: Path, progress: Progress | None = None) -> Summary:
    """Write every chunk to ``path`` through a temporary file renamed at the end (no half-written file)."""
    check_parquet_path(path)
    summary = _summary(simulation)
    summary.target, summary.path = "parquet", str(path.resolve())
    started = time.perf_counter()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with pq.ParquetWriter(temporary, EVENT_SCHEMA, **PARQUET_OPTIONS) as writer:
            for chunk in prefetched(simulation.chunks()):
                writer.write_table(chunk.table)
                summary.add(chunk)
                if progress:
                    progress(chunk.users)
        os.replace(temporary, path)
    except OSError as exc:
        raise OutputError(
            _("cannot write {path}: {reason}", path=str(path), reason=exc.strerror or str(exc))
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    summary.seconds = time.perf_counter() - started
    return summary


def simulate_to_workspace(
    *, simulation: Simulation, workspace: Workspace, progress: Progress | None = None
) -> Summary:
    """Add every chunk to the workspace's event store in one atomic bulk commit (all or nothing), then
    compact it for analytics. Event ids are deterministic: events already in the store (an earlier run of the
    same simulation) and the noise's duplicate sends are skipped and counted as ``duplicates``."""
    from sopflow.events.store import EventStore

    summary = _summary(simulation)
    summary.target, summary.path = "workspace", str(workspace.root)
    started = time.perf_counter()
    with EventStore.open(workspace) as store:
        with store.bulk_writer() as writer:
            for chunk in prefetched(simulation.chunks()):
                writer.write(chunk.table)
                summary.add(chunk)
                if progress:
                    progress(chunk.users)
            result = writer.commit()
        store.compact()
    summary.added, summary.duplicates = result.accepted, result.duplicates
    summary.seconds = time.perf_counter() - started
    return summary

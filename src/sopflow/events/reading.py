"""Reading the store: a consistent snapshot (sealed generation + unsealed log), scans and the sorted view."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sopflow.events.generation import Generation, GenerationBuilder, load_generation
from sopflow.events.identity import Identity
from sopflow.events.locks import file_lock
from sopflow.events.manifest import read_log, read_manifest
from sopflow.events.schema import EVENT_SCHEMA

if TYPE_CHECKING:
    from sopflow.events.store import EventStore

_RETRIES = 3


@dataclass
class Snapshot:
    manifest: dict[str, Any]
    generation: Generation
    log: list[pa.Table]
    segments: list[pq.ParquetFile]  # opened under the lock, so a later compaction cannot pull them away

    @property
    def log_rows(self) -> int:
        return sum(t.num_rows for t in self.log)


def take_snapshot(store: EventStore) -> Snapshot:
    """Manifest, generation and unsealed log as of one instant (under the shared write lock)."""
    for attempt in range(_RETRIES):
        try:
            with file_lock(store.write_lock, shared=True, timeout=store.lock_timeout):
                manifest = read_manifest(store.events_dir)
                generation = load_generation(store.events_dir, manifest)
                log, _ = read_log(store.wal_dir, manifest.get("sealed", {}))
                segments = [pq.ParquetFile(store.segments_dir / s.name) for s in generation.segments]
            return Snapshot(manifest, generation, log, segments)
        except FileNotFoundError:
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def scan_batches(store: EventStore, *, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
    """Every event, one table per segment then the log, in the order that ``SortedView.row`` numbers."""
    return scan_snapshot(store, take_snapshot(store), columns=columns)


def scan_snapshot(
    store: EventStore, snap: Snapshot, *, columns: Sequence[str] | None = None
) -> Iterator[pa.Table]:
    names = list(columns) if columns is not None else list(EVENT_SCHEMA.names)
    for segment in snap.segments:
        yield segment.read(columns=names)
    for table in snap.log:
        yield table.select(names)


def scan_arrow(store: EventStore, *, columns: Sequence[str] | None = None) -> pa.Table:
    tables = list(scan_batches(store, columns=columns))
    if not tables:
        schema = EVENT_SCHEMA if columns is None else pa.schema([EVENT_SCHEMA.field(c) for c in columns])
        return schema.empty_table()
    return pa.concat_tables(tables)


@dataclass(frozen=True)
class SortedView:
    """All events as integer-coded NumPy arrays, grouped by person and ordered by (ts, event) within one.

    - ``person`` (int32): the person's code (identity-merged; see :mod:`sopflow.events.identity`);
    - ``ts`` (int64): microseconds since the epoch, UTC;
    - ``event`` / ``channel`` (int16, or int32 past 32k names): codes into ``event_names`` /
      ``channel_names``; channel -1 means none;
    - ``row`` (int64): the row's position in :meth:`EventStore.scan_arrow`, to fetch other columns;
    - ``offsets`` (int64, persons + 1): person *i*'s rows are ``offsets[i]:offsets[i+1]``.

    Without an unsealed log these are memory-mapped from the cache written at compaction (no copy, no sort).
    """

    person: np.ndarray
    ts: np.ndarray
    event: np.ndarray
    channel: np.ndarray
    row: np.ndarray
    offsets: np.ndarray
    event_names: list[str]
    channel_names: list[str]
    identity: Identity
    raw_ids: int

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def n_persons(self) -> int:
        return len(self.offsets) - 1

    def event_code(self, name: str) -> int:
        """The code of an event name, or -1 when no event has that name."""
        try:
            return self.event_names.index(name)
        except ValueError:
            return -1

    def person_ids(self) -> pa.Array:
        """The id shown for each person, in the order of ``offsets``."""
        return self.identity.person_ids(np.asarray(self.person)[np.asarray(self.offsets)[:-1]])


def view_of(generation: Generation) -> SortedView:
    cache = generation.cache
    return SortedView(
        person=cache["person"],
        ts=cache["ts"],
        event=cache["event"],
        channel=cache["channel"],
        row=cache["row"],
        offsets=generation.offsets,
        event_names=generation.event_names,
        channel_names=generation.channel_names,
        identity=generation.identity,
        raw_ids=int(np.count_nonzero(generation.has_events)),
    )


def current_generation(store: EventStore) -> Generation:
    """The sealed generation with the unsealed log folded in (in memory, nothing written)."""
    return fold_log(take_snapshot(store))


def fold_log(snap: Snapshot) -> Generation:
    if not snap.log_rows:
        return snap.generation
    builder = GenerationBuilder(snap.generation, segments_dir=None)
    for table in snap.log:
        builder.add(table)
    return builder.finish()


def sorted_view(store: EventStore) -> SortedView:
    return view_of(current_generation(store))

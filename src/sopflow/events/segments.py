"""Writing sealed rows as Parquet segments, in the background, without holding them in memory.

A large import streams: each table added goes to one of two writer lanes (so both cores compress), and a
lane appends it to its open segment file as row groups, starting a new file past ``segment_rows``. A
segment's number (its place in the manifest) is given when a table is handed over, so the caller knows at
once where each row will sit: the segments in number order, concatenated, number every sealed row.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sopflow.events.schema import EVENT_SCHEMA
from sopflow.events.wal import fsync_file

_NO_DICTIONARY = ("event_id",)  # random ids: a dictionary only costs time
_STATISTICS = ["ts", "event", "channel"]  # min/max worth keeping for pruning; the rest costs time
_WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": [c for c in EVENT_SCHEMA.names if c not in _NO_DICTIONARY],
    "write_statistics": _STATISTICS,
}
ROW_GROUP_ROWS = 1 << 20
MAX_PENDING = 2  # tables queued per lane: they are memory until written


@dataclass(frozen=True)
class Segment:
    name: str
    rows: int
    min_ts: int
    max_ts: int

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "rows": self.rows, "min_ts": self.min_ts, "max_ts": self.max_ts}


def write_segment(segments_dir: Path, name: str, table: pa.Table) -> Segment:
    """One whole segment file, durably (temp name, fsync, rename)."""
    tmp = segments_dir / f".{name}.tmp"
    pq.write_table(table, tmp, row_group_size=ROW_GROUP_ROWS, **_WRITE_OPTIONS)
    fsync_file(tmp)
    os.replace(tmp, segments_dir / name)
    low, high = _ts_bounds(table)
    return Segment(name, table.num_rows, low, high)


def _ts_bounds(table: pa.Table) -> tuple[int, int]:
    if not table.num_rows:
        return 0, 0
    ts = np.asarray(table["ts"].cast(pa.int64()).to_numpy(), dtype=np.int64)
    return int(ts.min()), int(ts.max())


@dataclass
class _OpenFile:
    number: int
    name: str
    writer: pq.ParquetWriter
    rows: int = 0
    min_ts: int = 0
    max_ts: int = 0


@dataclass
class _Lane:
    pool: ThreadPoolExecutor
    number: int = -1  # the segment this lane is filling (main thread's view)
    rows: int = 0
    pending: list[Future[None]] = field(default_factory=list)
    open: _OpenFile | None = None  # the lane thread's file


class SegmentWriter:
    """Segments of generation ``generation`` in ``segments_dir``; :meth:`finish` returns them in order."""

    def __init__(self, segments_dir: Path, generation: int, *, segment_rows: int, lanes: int = 2) -> None:
        self.segments_dir = segments_dir
        self.generation = generation
        self.segment_rows = segment_rows
        self._lanes = [
            _Lane(ThreadPoolExecutor(max_workers=1, thread_name_prefix="sopflow-segment"))
            for _ in range(lanes)
        ]
        self._next_lane = 0
        self._count = 0
        self._done: dict[int, Segment] = {}
        self._planned: list[int] = []  # rows per segment number, as handed over
        self._failed: BaseException | None = None

    def write(self, table: pa.Table, *, keep: np.ndarray | None = None) -> tuple[int, int]:
        """Queue ``table`` (only its ``keep`` rows when given); returns (segment number, offset of its first
        row in that segment)."""
        rows = table.num_rows if keep is None else int(np.count_nonzero(keep))
        lane = self._lanes[self._next_lane]
        self._next_lane = (self._next_lane + 1) % len(self._lanes)
        if lane.number < 0 or (lane.rows and lane.rows + rows > self.segment_rows):
            lane.number, lane.rows = self._count, 0
            self._count += 1
            self._planned.append(0)
        where = (lane.number, lane.rows)
        lane.rows += rows
        self._planned[lane.number] += rows
        for done in [f for f in lane.pending if f.done()]:
            done.result()  # a failed write stops the import here
            lane.pending.remove(done)
        if len(lane.pending) >= MAX_PENDING:
            lane.pending.pop(0).result()
        lane.pending.append(lane.pool.submit(self._append, lane, lane.number, table, keep))
        return where

    def _append(self, lane: _Lane, number: int, table: pa.Table, keep: np.ndarray | None) -> None:
        if keep is not None:
            table = table.filter(pa.array(keep))
        if lane.open is not None and lane.open.number != number:
            self._close(lane)
        if lane.open is None:
            name = f"seg-{self.generation:06d}-{number:03d}-{secrets.token_hex(3)}.parquet"
            writer = pq.ParquetWriter(self.segments_dir / f".{name}.tmp", EVENT_SCHEMA, **_WRITE_OPTIONS)
            lane.open = _OpenFile(number, name, writer)
        current = lane.open
        current.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        low, high = _ts_bounds(table)
        if table.num_rows:
            current.min_ts = low if not current.rows else min(current.min_ts, low)
            current.max_ts = high if not current.rows else max(current.max_ts, high)
        current.rows += table.num_rows

    def _close(self, lane: _Lane) -> None:
        current = lane.open
        if current is None:
            return
        lane.open = None
        current.writer.close()
        tmp = self.segments_dir / f".{current.name}.tmp"
        fsync_file(tmp)
        os.replace(tmp, self.segments_dir / current.name)
        self._done[current.number] = Segment(current.name, current.rows, current.min_ts, current.max_ts)

    def planned_rows(self) -> list[int]:
        """Rows of each segment, by number, once the tables handed over are written."""
        return list(self._planned)

    def finish(self) -> list[Segment]:
        """Wait for every write, close the files; the segments in number order."""
        closes = [lane.pool.submit(self._close, lane) for lane in self._lanes if lane.number >= 0]
        for lane in self._lanes:
            for pending in lane.pending:
                pending.result()
        for close in closes:
            close.result()
        for lane in self._lanes:
            lane.pool.shutdown()
        return [self._done[number] for number in sorted(self._done)]

    def discard(self) -> None:
        """Stop and delete every file written or being written (none is named by a manifest yet)."""
        for lane in self._lanes:
            for pending in lane.pending:
                with contextlib.suppress(Exception):
                    pending.result()
            lane.pool.shutdown()
            if lane.open is not None:
                with contextlib.suppress(Exception):
                    lane.open.writer.close()
                (self.segments_dir / f".{lane.open.name}.tmp").unlink(missing_ok=True)
                lane.open = None
        for segment in self._done.values():
            (self.segments_dir / segment.name).unlink(missing_ok=True)
        self._done.clear()


def merge_small(segments: list[Segment], *, segments_dir: Path, generation: int, limit: int) -> list[Segment]:
    """Join runs of consecutive small segments into files of up to ``limit`` rows, streaming row groups.

    Consecutive segments joined in order keep every row's number, so the analytics cache stays valid;
    only one row group at a time is in memory. Segments already at least half of ``limit`` stay as they are.
    """
    merged: list[Segment] = []
    run: list[Segment] = []

    def flush() -> None:
        if len(run) == 1:
            merged.append(run[0])
        elif run:
            merged.append(_join(run, segments_dir=segments_dir, generation=generation, index=len(merged)))
        run.clear()

    for segment in segments:
        if segment.rows >= limit // 2 or sum(s.rows for s in run) + segment.rows > limit:
            flush()
        run.append(segment)
        if segment.rows >= limit // 2:
            flush()
    flush()
    return merged


def _join(run: list[Segment], *, segments_dir: Path, generation: int, index: int) -> Segment:
    name = f"seg-{generation:06d}-m{index:03d}-{secrets.token_hex(3)}.parquet"
    tmp = segments_dir / f".{name}.tmp"
    with pq.ParquetWriter(tmp, EVENT_SCHEMA, **_WRITE_OPTIONS) as writer:
        for segment in run:
            source = pq.ParquetFile(segments_dir / segment.name)
            for group in range(source.num_row_groups):
                writer.write_table(source.read_row_group(group).cast(EVENT_SCHEMA))
    fsync_file(tmp)
    os.replace(tmp, segments_dir / name)
    rows = sum(s.rows for s in run)
    return Segment(name, rows, min(s.min_ts for s in run), max(s.max_ts for s in run))

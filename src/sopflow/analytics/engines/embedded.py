"""The embedded engine (``--engine duckdb``, the default): the workspace's analytics cache, in process.

Person, time and event come from the memory-mapped cache (already grouped by person and ordered by
time), so a metric that needs only those reads no Parquet at all. Other properties are fetched by row
number from the same snapshot's segments; keys of the ``properties`` JSON are extracted by DuckDB. A model
that can use the cache's coded columns directly (referral: inviters and revenue) asks :meth:`map_cache`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from sopflow.analytics.engines.cache import CacheArrays, CodedColumns, SealedFiles, open_sealed
from sopflow.analytics.frame import (
    Coded,
    FrameRequest,
    PersonFrame,
    PersonFunction,
    PersonTable,
    property_source,
)
from sopflow.workspace import Workspace

if TYPE_CHECKING:
    import pyarrow as pa

    from sopflow.events.generation import Generation
    from sopflow.events.reading import SortedView

_JSON_BATCH = 1 << 20
# Frames of whole-cache requests kept per engine (a snapshot never changes, so neither do they): a metric
# asked again with another range or attribution (ROI, AARRR, targets) reads its columns once.
_KEPT_FRAMES = 8


@dataclass(frozen=True)
class CachedEvents:
    """The sealed cache as it is, for a function that reads it directly (see :meth:`EmbeddedEngine.map_cache`).

    Persons are the cache's, in ``offsets`` order (person ``i`` owns rows ``offsets[i]:offsets[i+1]``); their
    codes are ``person[offsets[:-1]]``, a raw-id code each (identity ``labels`` map raw ids to them). ``frame``
    answers a :class:`FrameRequest` on the same snapshot (events ``None``: rows in the cache's order).
    """

    arrays: CacheArrays
    coded: CodedColumns
    files: SealedFiles
    frame: Callable[[FrameRequest], PersonFrame]

    @property
    def person(self) -> np.ndarray:
        assert self.arrays.person is not None
        return self.arrays.person

    @property
    def labels(self) -> np.ndarray:
        assert self.files.labels is not None
        return self.files.labels

    @property
    def identified(self) -> np.ndarray:
        assert self.files.identified is not None
        return self.files.identified

    def raw_ids(self) -> pa.Array:
        """Every raw id, by code."""
        import pyarrow as pa

        assert self.files.raw_ids is not None
        self.files.raw_ids.seek(0)
        return pa.ipc.open_file(self.files.raw_ids).read_all()["id"].combine_chunks()

    def inviter_ids(self) -> pa.Array:
        """The inviter ids, by inviter code."""
        import pyarrow as pa

        self.coded.inviter_ids.seek(0)
        return pa.ipc.open_file(self.coded.inviter_ids).read_all()["id"].combine_chunks()


Answer = TypeVar("Answer")


@dataclass
class EmbeddedEngine:
    """One consistent snapshot of the events, read lazily."""

    arrays: CacheArrays
    read_column: Callable[[str], pa.ChunkedArray]  # a canonical column over every row, in row order
    load_person_ids: Callable[[], pa.Array]  # the id shown for every person, in ``offsets`` order
    name: str = "duckdb"
    _columns: dict[str, pa.ChunkedArray] = field(default_factory=dict)
    _answers: dict[tuple[FrameRequest, PersonFunction], PersonTable] = field(default_factory=dict)
    files: SealedFiles | None = None  # the sealed generation's files (None: a folded log or a file)
    _cache_answers: dict[Any, Any] = field(default_factory=dict)
    _frames: dict[FrameRequest, PersonFrame] = field(default_factory=dict)
    _whole_columns: dict[str, Coded] = field(default_factory=dict)

    @classmethod
    def open(
        cls, *, workspace: Workspace, events_path: Path | None = None, tz: tzinfo | None = None
    ) -> EmbeddedEngine:
        if events_path is not None:
            from sopflow.analytics.engines.files import read_events_file

            generation, table = read_events_file(events_path, tz=tz or ZoneInfo("Asia/Shanghai"))
            return cls.of_view(view_of_generation(generation), lambda name: table.column(name))
        sealed = open_sealed(workspace.events_dir)
        if sealed is not None:
            arrays, files = sealed
            return cls(
                arrays,
                lambda name: _read_segments(files, name),
                lambda: _person_ids(arrays, files),
                files=files,
            )
        return cls._open_snapshot(workspace)

    @classmethod
    def of_view(cls, view: SortedView, read_column: Callable[[str], pa.ChunkedArray]) -> EmbeddedEngine:
        arrays = CacheArrays(
            offsets=np.asarray(view.offsets),
            ts=view.ts,
            event=view.event,
            channel=view.channel,
            row=view.row,
            event_names=list(view.event_names),
            channel_names=list(view.channel_names),
        )
        return cls(arrays, read_column, view.person_ids)

    @classmethod
    def _open_snapshot(cls, workspace: Workspace) -> EmbeddedEngine:
        import pyarrow as pa

        from sopflow.events.reading import fold_log, scan_snapshot, take_snapshot
        from sopflow.events.store import EventStore

        with EventStore.open(workspace) as store:
            snap = take_snapshot(store)
            view = view_of_generation(fold_log(snap))

            def read(name: str) -> pa.ChunkedArray:
                tables = list(scan_snapshot(store, snap, columns=[name]))
                if not tables:
                    return pa.chunked_array([], pa.string())
                return pa.chunked_array([t.column(0).combine_chunks() for t in tables])

            return cls.of_view(view, read)

    def time_bounds(self) -> tuple[int, int] | None:
        ts = np.asarray(self.arrays.ts)
        if not len(ts):
            return None
        return int(ts.min()), int(ts.max())

    def map_persons(self, request: FrameRequest, fn: PersonFunction) -> PersonTable:
        # One snapshot answers the same question the same way: a report asks some twice (targets reuse
        # the referral and funnel models), so hashable functions (frozen dataclasses) are answered once.
        try:
            known = self._answers.get((request, fn))
        except TypeError:  # an unhashable function: no memory
            return fn(self.frame(request))
        if known is None:
            known = self._answers[(request, fn)] = fn(self.frame(request))
        return known

    def map_cache(self, fn: Callable[[CachedEvents], Answer]) -> Answer | None:
        """``fn`` over the sealed cache itself, when this snapshot is one with the coded columns (``None``
        otherwise: the caller falls back to :meth:`map_persons`). Answered once per (hashable) function."""
        coded = self.arrays.coded
        if coded is None or self.files is None or self.arrays.person is None:
            return None
        events = CachedEvents(self.arrays, coded, self.files, self.frame)
        try:
            if fn in self._cache_answers:
                known: Answer = self._cache_answers[fn]
                return known
        except TypeError:  # an unhashable function: no memory
            return fn(events)
        answer = self._cache_answers[fn] = fn(events)
        return answer

    def frame(self, request: FrameRequest) -> PersonFrame:
        """The frame ``request`` asks for; one over every row is kept and handed out again (the same object,
        so per-person functions may remember what they derived from it: see ``aarrr/profile.py``)."""
        whole = request.events is None or not request.exact_events
        if whole and request in self._frames:
            return self._frames[request]
        frame = self._build_frame(request)
        if whole:
            if len(self._frames) >= _KEPT_FRAMES:
                del self._frames[next(iter(self._frames))]
            self._frames[request] = frame
        return frame

    def _build_frame(self, request: FrameRequest) -> PersonFrame:
        view = self.arrays
        offsets = np.asarray(view.offsets)
        keep: np.ndarray | None = None
        rows = len(view.ts)
        if request.events is not None and request.exact_events:
            codes = [_code(view.event_names, n) for n in request.events]
            wanted = np.zeros(max(len(view.event_names), 1), dtype=bool)
            wanted[[c for c in codes if c >= 0]] = True
            keep = np.flatnonzero(wanted[np.asarray(view.event)])
        persons_kept, offsets = _offsets_after(offsets, keep, rows)
        if keep is None and persons_kept is None:
            ts, event = view.ts, view.event
        else:
            index = keep if keep is not None else np.arange(rows)
            ts, event = np.asarray(view.ts)[index], np.asarray(view.event)[index]
        frame = PersonFrame(offsets=offsets, ts=ts, event=event, event_names=list(view.event_names))
        row_numbers = None
        for name in request.columns:
            if row_numbers is None:
                row_numbers = np.asarray(view.row) if keep is None else np.asarray(view.row)[keep]
            frame.columns[name] = self._coded(name, keep, row_numbers)
        if request.person_ids:
            ids = self.load_person_ids()
            if persons_kept is not None:
                ids = ids.take(persons_kept)
            frame.person_ids = ids.to_pylist()
        return frame

    def _coded(self, name: str, keep: np.ndarray | None, rows: np.ndarray) -> Coded:
        view = self.arrays
        if name == "event":
            codes = np.asarray(view.event) if keep is None else np.asarray(view.event)[keep]
            return Coded(codes, list(view.event_names))
        if name == "channel":
            codes = np.asarray(view.channel) if keep is None else np.asarray(view.channel)[keep]
            return Coded(codes, list(view.channel_names))
        if keep is None and name in self._whole_columns:
            return self._whole_columns[name]
        kind, key = property_source(name)
        source = self._column("properties" if kind == "json" else name)
        taken = source.take(rows) if len(rows) else source.slice(0, 0)
        values = _json_values(taken, key) if kind == "json" else _as_text(taken)
        coded = _encode(values)
        if keep is None:
            # Every row, in the cache's order: the same for any request on this snapshot.
            self._whole_columns[name] = coded
        return coded

    def _column(self, name: str) -> pa.ChunkedArray:
        if name not in self._columns:
            self._columns[name] = self.read_column(name)
        return self._columns[name]


def _code(names: list[str], name: str) -> int:
    try:
        return names.index(name)
    except ValueError:
        return -1


def _read_segments(files: SealedFiles, name: str) -> pa.ChunkedArray:
    import pyarrow as pa
    import pyarrow.parquet as pq

    chunks = []
    for handle in files.segments:
        handle.seek(0)
        chunks.append(pq.read_table(handle, columns=[name]).column(0).combine_chunks())
    return pa.chunked_array(chunks) if chunks else pa.chunked_array([], pa.string())


def _person_ids(arrays: CacheArrays, files: SealedFiles) -> pa.Array:
    import pyarrow as pa

    from sopflow.events.identity import Identity

    assert files.raw_ids is not None and files.labels is not None and files.identified is not None
    files.raw_ids.seek(0)
    raw_ids = pa.ipc.open_file(files.raw_ids).read_all()["id"].combine_chunks()
    identity = Identity(raw_ids, np.asarray(files.labels), np.asarray(files.identified))
    assert arrays.person is not None
    return identity.person_ids(np.asarray(arrays.person)[np.asarray(arrays.offsets)[:-1]])


def _offsets_after(
    offsets: np.ndarray, keep: np.ndarray | None, rows: int
) -> tuple[np.ndarray | None, np.ndarray]:
    """Offsets of the kept rows, dropping persons left without any; and which persons were kept (or None: all)."""
    if keep is None:
        # a byte per person, not the 8-byte counts: this runs on every question over 10M events
        if len(offsets) > 1 and not (offsets[1:] == offsets[:-1]).any():
            return None, offsets
        counts = np.diff(offsets)
        kept = np.flatnonzero(counts > 0)
        return kept, np.concatenate([[0], np.cumsum(counts[kept])]).astype(np.int64)
    person_of_row = np.searchsorted(offsets, keep, side="right") - 1
    counts = np.bincount(person_of_row, minlength=len(offsets) - 1)
    kept = np.flatnonzero(counts > 0)
    return kept, np.concatenate([[0], np.cumsum(counts[kept])]).astype(np.int64)


def _as_text(values: pa.ChunkedArray) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    array = values.combine_chunks()
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array.cast(pa.string())
    return pc.cast(array, pa.string())


def _json_values(properties: pa.ChunkedArray, key: str) -> pa.Array:
    import pyarrow as pa

    """``json_extract_string(properties, '$."key"')``: scalars as their text, nested values as JSON."""
    import duckdb

    path = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    table = pa.table({"p": properties.combine_chunks()})
    with duckdb.connect() as con:
        con.register("t", table)
        literal = "'" + path.replace("'", "''") + "'"
        out = con.sql(f"SELECT json_extract_string(p, {literal}) AS v FROM t").to_arrow_table()
    return out["v"].combine_chunks().cast(pa.string())


def _encode(values: pa.Array) -> Coded:
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(values)
    codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int32)
    return Coded(codes, encoded.dictionary.to_pylist())


def view_of_generation(generation: Generation) -> SortedView:
    from sopflow.events.reading import view_of

    return view_of(generation)

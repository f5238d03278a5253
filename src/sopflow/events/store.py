"""The durable event store of a workspace (``<workspace>/events/``).

Why this layout:

- **Acknowledged means on disk.** :meth:`EventStore.append_rows` returns only after its rows are in
  the write-ahead log and ``fdatasync``ed (:mod:`sopflow.events.wal`); a ``kill -9`` right after loses
  nothing. Concurrent callers in one process share one fsync (:mod:`sopflow.events.group_commit`), so
  durability costs about one fsync per group, not per request.
- **One writer at a time, many processes.** Every commit holds ``events/.write.lock`` (``flock``) for
  the few milliseconds of dedupe + append + fsync. Before deduping, a committer catches up with what
  other processes committed (a shared counter in ``events/.seq`` says whether there is anything new), so
  ``sopflow serve`` and ``sopflow events import`` can run at once. A lock not had within the timeout
  raises :class:`~sopflow.events.locks.StoreBusy` (retryable) — never a half-written store.
- **Dedupe is exact per key and all-or-nothing per batch.** Event ids map to 64-bit keys
  (:mod:`sopflow.events.keys`) checked against the sealed keys (``keys.npy``) and the log's keys.
- **Bulk loads are one atomic rename.** Imports write a staged Arrow file, fsync it and rename it into
  the log; a failed or ``--strict``-refused import leaves nothing behind.
- **Compaction makes reading fast** (:mod:`sopflow.events.generation`): it seals the log into zstd
  Parquet segments, updates dictionaries, identity and the memory-mappable analytics cache
  (person/ts/event/channel as NumPy arrays grouped by person, time-ordered), installs a new
  ``manifest.json`` atomically, then deletes the sealed log. It runs beside writers: only the final
  manifest swap takes the write lock. Files a manifest drops are deleted one generation later, so a
  reader holding the previous manifest can finish.
- **Readers see everything acknowledged**: the sealed generation plus the log not yet sealed
  (:mod:`sopflow.events.reading`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from sopflow.errors import InvalidInput
from sopflow.events.generation import (
    SEGMENT_ROWS,
    Generation,
    GenerationBuilder,
    load_generation,
    rewrite_segments,
    write_generation,
)
from sopflow.events.group_commit import GroupCommitter, Ticket
from sopflow.events.keys import KeySet, event_keys, fresh_mask, sorted_contains
from sopflow.events.layout import BULK_SUFFIX, FRAME_SUFFIX, gen_dir_name
from sopflow.events.locks import DEFAULT_TIMEOUT_S, StoreBusy, file_lock, try_lock
from sopflow.events.manifest import read_from, read_log, read_manifest, write_manifest
from sopflow.events.reading import SortedView
from sopflow.events.schema import EVENT_SCHEMA
from sopflow.events.segments import merge_small
from sopflow.events.stats import StoreStats
from sopflow.events.wal import (
    FrameFile,
    encode_frame,
    iter_frames,
    read_bulk,
)
from sopflow.i18n import _
from sopflow.workspace import Workspace

if TYPE_CHECKING:  # bulk.py builds on this module; import it lazily at run time
    from sopflow.events.bulk import BulkWriter, DirectImport
    from sopflow.events.export import ExportResult

MAX_SEGMENTS = 64
REQUIRED = ("event_id", "event", "user_id", "ts")
IMPORT_LOCK_TIMEOUT_S = 600.0
COMMIT_POLL_S = 0.001


@dataclass(frozen=True)
class AppendResult:
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class CompactResult:
    sealed: int
    duplicates: int
    generation: int
    segments: int
    seconds: float


@dataclass
class _Batch:
    table: pa.Table
    keys: np.ndarray


def canonical_table(rows: Sequence[dict[str, Any]] | pa.Table) -> pa.Table:
    """Rows as an ``EVENT_SCHEMA`` table; refuses rows that skipped normalisation (missing required fields)."""
    try:
        if isinstance(rows, pa.Table) and rows.schema.equals(EVENT_SCHEMA):
            table = rows  # already canonical (the HTTP path builds it so): no select, no cast
        elif isinstance(rows, pa.Table):
            table = rows.select(list(EVENT_SCHEMA.names)).cast(EVENT_SCHEMA)
        else:
            table = pa.Table.from_pylist(list(rows), schema=EVENT_SCHEMA)
    except (KeyError, ValueError, TypeError, pa.ArrowException) as exc:
        raise InvalidInput(_("events are not in the canonical shape: {error}", error=exc)) from None
    for name in REQUIRED:
        if table[name].null_count:
            raise InvalidInput(_("events are not in the canonical shape: {field} is missing", field=name))
    return table


class EventStore:
    """Open with :meth:`open`; thread-safe; several processes may open the same workspace."""

    def __init__(self, events_dir: Path, *, lock_timeout: float, auto_compact_rows: int | None) -> None:
        self.events_dir = events_dir
        self.wal_dir = events_dir / "wal"
        self.segments_dir = events_dir / "segments"
        self.staging_dir = events_dir / "staging"
        for folder in (events_dir, self.wal_dir, self.segments_dir, self.staging_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.write_lock = events_dir / ".write.lock"
        self.compact_lock = events_dir / ".compact.lock"
        self.lock_timeout = lock_timeout
        self.auto_compact_rows = auto_compact_rows
        self._seq_fd = os.open(events_dir / ".seq", os.O_RDWR | os.O_CREAT, 0o644)
        self._state = threading.RLock()
        self._gen_number: int | None = None
        self._base_keys: np.ndarray = np.zeros(0, dtype=np.uint64)
        self._wal_keys = KeySet()
        self._wal_seen: dict[str, int] = {}
        self._seq_seen = -1
        self._own: FrameFile | None = None
        self._own_lock: int | None = None
        self._committer: GroupCommitter[_Batch, AppendResult] = GroupCommitter(self._commit_group)
        self._compacting = threading.Lock()
        self._closed = False

    @classmethod
    def open(
        cls,
        workspace: Workspace,
        *,
        lock_timeout: float = DEFAULT_TIMEOUT_S,
        auto_compact_rows: int | None = None,
    ) -> EventStore:
        """The store of ``workspace``; ``auto_compact_rows``: compact in the background past this many log rows."""
        return cls(
            workspace.ensure().events_dir, lock_timeout=lock_timeout, auto_compact_rows=auto_compact_rows
        )

    def __enter__(self) -> EventStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._committer.close()  # commits what callers of submit_rows queued, and stops its thread
        with self._state:
            if self._closed:
                return
            self._closed = True
            self._rotate()
            os.close(self._seq_fd)

    # ---- writing -------------------------------------------------------------------------------------------

    def append_rows(self, rows: Sequence[dict[str, Any]] | pa.Table) -> AppendResult:
        """Append normalised rows (see :func:`~sopflow.events.normalize.normalize_event`), as dicts or one
        canonical table (:func:`~sopflow.events.normalize_batch.normalize_batch`); durable on return."""
        if len(rows) == 0:
            return AppendResult(0, 0)
        table = canonical_table(rows)
        result = self._committer.submit(_Batch(table, event_keys(table["event_id"])))
        self._maybe_auto_compact()
        return result

    def submit_rows(
        self,
        rows: Sequence[dict[str, Any]] | pa.Table,
        on_done: Callable[[AppendResult | None, BaseException | None], None],
    ) -> None:
        """:meth:`append_rows` without blocking: ``on_done(result, error)`` is called from a store thread once
        the rows are durable (or failed). Rows that are not canonical raise here, before anything is queued."""
        if len(rows) == 0:
            on_done(AppendResult(0, 0), None)
            return
        table = canonical_table(rows)

        def settled(ticket: Ticket[_Batch, AppendResult]) -> None:
            on_done(ticket.result, ticket.error)
            self._maybe_auto_compact()

        self._committer.submit_nowait(_Batch(table, event_keys(table["event_id"])), settled)

    def append_table(self, table: pa.Table) -> AppendResult:
        """Append a canonical table in one atomic commit to the log; durable on return.

        For a stream of tables call :meth:`compact` once after the last one (each compaction re-sorts the
        persons it touches), or load them all in one :meth:`bulk_import`."""
        with self.bulk_writer() as writer:
            writer.write(table)
            return writer.commit()

    def bulk_import(self, *, lock_timeout: float = IMPORT_LOCK_TIMEOUT_S) -> DirectImport:
        from sopflow.events.bulk import DirectImport

        """Load large tables straight into new segments (no second write through the log).

        Holds the compaction lock until :meth:`DirectImport.commit` or ``abort``; the commit installs
        the new generation atomically, so nothing is visible (or left behind) before it.
        """
        return DirectImport(self, lock_timeout=lock_timeout)

    def bulk_writer(self) -> BulkWriter:
        """Stage many tables and commit them as one (``with store.bulk_writer() as w: w.write(t); w.commit()``)."""
        from sopflow.events.bulk import BulkWriter

        return BulkWriter(self)

    def _commit_group(self, tickets: list[Ticket[_Batch, AppendResult]]) -> None:
        # Another process's commit holds the lock for about a millisecond: poll for it as often.
        with self._state, file_lock(self.write_lock, timeout=self.lock_timeout, max_delay=COMMIT_POLL_S):
            self._catch_up()
            # One dedupe pass over the whole group: an event is fresh when its key is in neither the store
            # nor an earlier event of the group (earlier requests first, as they were queued).
            parts = [ticket.item.keys for ticket in tickets]
            keys = parts[0] if len(parts) == 1 else np.concatenate(parts)
            fresh = fresh_mask(keys, [np.asarray(self._base_keys), *self._wal_keys.runs])
            accepted: list[pa.Table] = []
            start = 0
            for ticket, part in zip(tickets, parts, strict=True):
                mine = fresh[start : start + len(part)]
                start += len(part)
                count = int(np.count_nonzero(mine))
                table = ticket.item.table
                if count:
                    accepted.append(table if count == len(part) else table.filter(pa.array(mine)))
                ticket.result = AppendResult(count, len(part) - count)
            if accepted:
                own = self._own_file()
                try:
                    self._wal_seen[own.path.name] = own.append(encode_frame(pa.concat_tables(accepted)))
                except OSError:
                    self._rotate()  # never append after a failed write
                    raise
                self._wal_keys.add(keys[fresh])
                self._bump_seq()

    def known(self, keys: np.ndarray) -> np.ndarray:
        """Which keys are already in the store (as of the last catch-up)."""
        with self._state:
            found: np.ndarray = sorted_contains(self._base_keys, keys) | self._wal_keys.contains(keys)
            return found

    def _own_file(self) -> FrameFile:
        if self._own is None:
            own = FrameFile.create(self.wal_dir, secrets.token_hex(4))
            lock = try_lock(own.path)
            if lock is None:  # a fresh name nobody else knows: cannot happen, but never append unlocked
                own.close()
                raise StoreBusy(_("could not lock a new log file in {path}", path=self.wal_dir))
            self._own, self._own_lock = own, lock
        return self._own

    def _rotate(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None
        if self._own_lock is not None:
            os.close(self._own_lock)
            self._own_lock = None

    def _read_seq(self) -> int:
        return int.from_bytes(os.pread(self._seq_fd, 8, 0).ljust(8, b"\0"), "little")

    def _bump_seq(self) -> None:
        """Tell other processes the log or manifest changed (call under the write lock, after catching up)."""
        seq = self._read_seq() + 1
        os.pwrite(self._seq_fd, seq.to_bytes(8, "little"), 0)
        self._seq_seen = seq

    def _catch_up(self) -> None:
        """Learn the keys other processes committed since we last looked (call under the write lock)."""
        seq = self._read_seq()
        if seq == self._seq_seen:
            return
        manifest = read_manifest(self.events_dir)
        sealed: dict[str, int] = manifest.get("sealed", {})
        number = int(manifest.get("generation", 0))
        if number != self._gen_number:
            self._base_keys = (
                np.load(self.events_dir / gen_dir_name(number) / "keys.npy", mmap_mode="r")
                if number
                else np.zeros(0, dtype=np.uint64)
            )
            self._wal_keys.clear()
            self._wal_seen = {}
            self._gen_number = number
            if self._own is not None and self._own.size <= sealed.get(self._own.path.name, -1):
                self._rotate()  # all our frames are sealed: let compaction delete the file
        for path in sorted(self.wal_dir.iterdir()):
            name = path.name
            if name.endswith(FRAME_SUFFIX):
                start = max(self._wal_seen.get(name, 0), sealed.get(name, 0))
                if path.stat().st_size <= start:
                    continue
                end = start
                for table, offset in iter_frames(read_from(path, start)):
                    self._wal_keys.add(event_keys(table["event_id"]))
                    end = start + offset
                self._wal_seen[name] = end
            elif name.endswith(BULK_SUFFIX) and name not in self._wal_seen and name not in sealed:
                self._wal_keys.add(event_keys(read_bulk(path)["event_id"]))
                self._wal_seen[name] = -1
        self._seq_seen = seq

    def _maybe_auto_compact(self) -> None:
        limit = self.auto_compact_rows
        if limit is None or len(self._wal_keys) < limit or not self._compacting.acquire(blocking=False):
            return

        def run() -> None:
            try:
                self.compact(wait=False)
            except Exception:
                pass
            finally:
                self._compacting.release()

        threading.Thread(target=run, name="sopflow-compact", daemon=True).start()

    # ---- compaction ----------------------------------------------------------------------------------------

    def compact(self, *, full: bool = False, wait: bool = True) -> CompactResult | None:
        """Seal the log into segments and a new generation. ``None`` when another compaction is running
        and ``wait`` is false. ``full`` rewrites all segments into one, in analytics order."""
        started = time.monotonic()
        lock = try_lock(self.compact_lock, timeout=self.lock_timeout if wait else 0.0)
        if lock is None:
            if wait:
                raise StoreBusy(
                    _(
                        "another process is compacting the event store at {path}; try again",
                        path=self.events_dir,
                    )
                )
            return None
        try:
            return self._compact_locked(full=full, started=started)
        finally:
            os.close(lock)

    def _compact_locked(self, *, full: bool, started: float) -> CompactResult:
        manifest, sealed, builder = self._start_build()
        # A generation written before the coded columns existed is rewritten once to gain them (upgrades).
        if builder.added == 0 and sealed == manifest.get("sealed", {}) and not full and not builder.upgrades:
            builder.discard()
            base = builder.base
            return CompactResult(
                0, builder.duplicates, base.number, len(base.segments), time.monotonic() - started
            )
        gen = self._finish_build(manifest, sealed, builder, full=full)
        return CompactResult(
            builder.added, builder.duplicates, gen.number, len(gen.segments), time.monotonic() - started
        )

    def _start_build(self) -> tuple[dict[str, Any], dict[str, int], GenerationBuilder]:
        """Under the compaction lock: a builder on the current generation with the unsealed log added."""
        with file_lock(self.write_lock, shared=True, timeout=self.lock_timeout):
            manifest = read_manifest(self.events_dir)
            tables, sealed = read_log(self.wal_dir, manifest.get("sealed", {}))
        builder = GenerationBuilder(
            load_generation(self.events_dir, manifest), segments_dir=self.segments_dir
        )
        try:
            for chunk in _chunks(tables, SEGMENT_ROWS):
                builder.add(chunk)
        except BaseException:
            builder.discard()
            raise
        return manifest, sealed, builder

    def _finish_build(
        self, manifest: dict[str, Any], sealed: dict[str, int], builder: GenerationBuilder, *, full: bool
    ) -> Generation:
        try:
            gen = builder.finish()
            if full:
                gen = rewrite_segments(gen, events_dir=self.events_dir, number=gen.number)
            elif len(gen.segments) > MAX_SEGMENTS:  # many small imports: join neighbours, rows keep numbers
                gen.segments = merge_small(
                    gen.segments, segments_dir=self.segments_dir, generation=gen.number, limit=SEGMENT_ROWS
                )
            write_generation(self.events_dir, gen)
        except BaseException:
            builder.discard()
            raise
        self._install(manifest, gen, sealed)
        return gen

    def _install(self, old: dict[str, Any], gen: Generation, sealed: dict[str, int]) -> None:
        """Swap the manifest, then delete what it no longer names: readers already holding the old
        generation keep its files open (memory maps, Parquet handles), and new readers cannot start
        while we hold the write lock."""
        live = {s.name for s in gen.segments}
        dropped = [self.segments_dir / s["name"] for s in old.get("segments", []) if s["name"] not in live]
        if old.get("generation"):
            dropped.append(self.events_dir / gen_dir_name(int(old["generation"])))
        with self._state, file_lock(self.write_lock, timeout=self.lock_timeout):
            present = {p.name for p in self.wal_dir.iterdir()}
            live_sealed = {k: v for k, v in sealed.items() if k in present}
            manifest = {
                "format": 1,
                "generation": gen.number,
                "segments": [s.as_json() for s in gen.segments],
                "rows": gen.rows,
                "sealed": live_sealed,
                "written_at": time.time(),
            }
            write_manifest(self.events_dir, manifest)
            self._bump_seq()
            self._seq_seen = -1  # reload keys of the new generation; rotate our log file if it is all sealed
            self._catch_up()
            self._delete_sealed_log(live_sealed)
            for path in dropped:
                _remove(path)
        self._clean_strays(gen)

    def _delete_sealed_log(self, sealed: dict[str, int]) -> None:
        for name, offset in sealed.items():
            path = self.wal_dir / name
            if offset != -1:
                if path.stat().st_size > offset:
                    continue
                lock = try_lock(path)
                if lock is None:
                    continue  # its writer is alive and may append: delete it after it rotates
                os.close(lock)
            path.unlink(missing_ok=True)

    def _clean_strays(self, gen: Generation) -> None:
        """Leftovers of crashed compactions and imports, never named by a manifest (compaction lock held)."""
        keep = {s.name for s in gen.segments}
        for path in self.segments_dir.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)
        current = gen_dir_name(gen.number)
        for path in self.events_dir.glob("*gen-*"):
            if path.is_dir() and path.name != current:
                shutil.rmtree(path, ignore_errors=True)
        for path in self.staging_dir.iterdir():
            lock = try_lock(path)
            if lock is not None:  # its importer is gone
                path.unlink(missing_ok=True)
                os.close(lock)

    # ---- reading (see sopflow.events.reading) --------------------------------------------------------------

    def scan_arrow(self, columns: Sequence[str] | None = None) -> pa.Table:
        """Every event (sealed segments in order, then the log), canonical schema (or ``columns``)."""
        from sopflow.events.reading import scan_arrow

        return scan_arrow(self, columns=columns)

    def scan_batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        from sopflow.events.reading import scan_batches

        return scan_batches(self, columns=columns)

    def sorted_view(self) -> SortedView:
        """The person/time-ordered integer-coded view for analytics (see :class:`SortedView`)."""
        from sopflow.events.reading import sorted_view

        return sorted_view(self)

    def stats(self, *, tz: tzinfo) -> StoreStats:
        from sopflow.events.stats import store_stats

        return store_stats(self, tz=tz)

    def export_parquet(self, directory: Path, *, overwrite: bool = False) -> ExportResult:
        from sopflow.events.export import export_parquet

        return export_parquet(self, directory, overwrite=overwrite)


def _chunks(tables: list[pa.Table], rows: int) -> Iterator[pa.Table]:
    pending: list[pa.Table] = []
    count = 0
    for table in tables:
        pending.append(table)
        count += table.num_rows
        if count >= rows:
            yield pa.concat_tables(pending)
            pending, count = [], 0
    if pending and count:
        yield pa.concat_tables(pending)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)

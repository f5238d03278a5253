"""Bulk loading into the event store: a staged, all-or-nothing writer through the log, and a direct import
into a new generation of segments. Both are opened from :class:`sopflow.events.store.EventStore`."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from types import TracebackType

import numpy as np
import pyarrow as pa

from sopflow.events.keys import KeySet, event_keys, fresh_mask
from sopflow.events.layout import BULK_SUFFIX
from sopflow.events.locks import StoreBusy, file_lock, try_lock
from sopflow.events.schema import EVENT_SCHEMA
from sopflow.events.store import AppendResult, EventStore, canonical_table
from sopflow.events.wal import fsync_dir, fsync_file, read_bulk
from sopflow.i18n import _


class BulkWriter:
    """Stages tables in ``events/staging/`` and commits them in one atomic rename; nothing is visible before."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.path = store.staging_dir / f"b-{secrets.token_hex(8)}{BULK_SUFFIX}"
        self._lock = try_lock(self.path)
        self._sink = pa.OSFile(str(self.path), "wb")
        self._writer = pa.ipc.new_file(self._sink, EVENT_SCHEMA)
        self._keys = KeySet()
        self._parts: list[np.ndarray] = []
        self.accepted = 0
        self.duplicates = 0
        self._open = True
        with store._state, file_lock(store.write_lock, shared=True, timeout=store.lock_timeout):
            store._catch_up()

    def __enter__(self) -> BulkWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._open:
            self.abort()

    def write(
        self,
        table: pa.Table,
        *,
        keys: np.ndarray | None = None,
        user_digests: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> AppendResult:
        """Stage ``table`` minus rows already in the store or staged; returns this call's counts.
        ``keys``: the rows' dedupe keys when the caller has them. ``user_digests`` is taken for the same
        call shape as :meth:`DirectImport.write` and not used: persons are coded when the log is compacted."""
        table = canonical_table(table)
        keys = event_keys(table["event_id"]) if keys is None else keys
        with self.store._state:
            known = [np.asarray(self.store._base_keys), *self.store._wal_keys.runs, *self._keys.runs]
        fresh = fresh_mask(keys, known)
        if not fresh.all():
            table, keys = table.filter(pa.array(fresh)), keys[fresh]
        if table.num_rows:
            self._writer.write_table(table)
            self._keys.add(keys)
            self._parts.append(keys)
        result = AppendResult(table.num_rows, int((~fresh).sum()))
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        return result

    def commit(self) -> AppendResult:
        """Make everything staged durable and visible at once (rows committed meanwhile by others are dropped)."""
        self._writer.close()
        self._sink.close()
        fsync_file(self.path)
        store = self.store
        keys = np.concatenate(self._parts) if self._parts else np.zeros(0, dtype=np.uint64)
        with store._state, file_lock(store.write_lock, timeout=store.lock_timeout):
            store._catch_up()
            raced = store.known(keys)
            if raced.any():
                table = read_bulk(self.path).filter(pa.array(~raced))
                _rewrite_bulk(self.path, table)
                keys = keys[~raced]
                self.accepted -= int(raced.sum())
                self.duplicates += int(raced.sum())
            if len(keys):
                target = store.wal_dir / self.path.name
                os.replace(self.path, target)
                fsync_dir(store.wal_dir)
                store._wal_keys.add(keys)
                store._wal_seen[target.name] = -1
                store._bump_seq()
            else:
                self.path.unlink(missing_ok=True)
        self._release()
        return AppendResult(self.accepted, self.duplicates)

    def abort(self) -> None:
        with contextlib.suppress(pa.ArrowException, OSError, ValueError):
            self._writer.close()
        self._sink.close()
        self.path.unlink(missing_ok=True)
        self._release()

    def _release(self) -> None:
        self._open = False
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


class DirectImport:
    """Tables loaded straight into a new generation; see :meth:`EventStore.bulk_import`."""

    def __init__(self, store: EventStore, *, lock_timeout: float) -> None:
        self.store = store
        self._lock = try_lock(store.compact_lock, timeout=lock_timeout)
        if self._lock is None:
            raise StoreBusy(
                _("another process is compacting the event store at {path}; try again", path=store.events_dir)
            )
        try:
            self._manifest, self._sealed, self._builder = store._start_build()
        except BaseException:
            self._release()
            raise
        self.accepted = 0
        self.duplicates = 0

    def __enter__(self) -> DirectImport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._lock is not None:
            self.abort()

    def write(
        self,
        table: pa.Table,
        *,
        keys: np.ndarray | None = None,
        user_digests: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> AppendResult:
        added, duplicates = self._builder.add(canonical_table(table), keys=keys, user_digests=user_digests)
        self.accepted += added
        self.duplicates += duplicates
        return AppendResult(added, duplicates)

    def commit(self) -> AppendResult:
        try:
            if self._builder.added or self._sealed != self._manifest.get("sealed", {}):
                self.store._finish_build(self._manifest, self._sealed, self._builder, full=False)
            else:
                self._builder.discard()  # nothing new (a re-import): keep the current generation
        finally:
            self._release()
        return AppendResult(self.accepted, self.duplicates)

    def abort(self) -> None:
        self._builder.discard()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def _rewrite_bulk(path: Path, table: pa.Table) -> None:
    tmp = path.with_suffix(".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, EVENT_SCHEMA) as writer:
        writer.write_table(table)
    fsync_file(tmp)
    os.replace(tmp, path)

"""64-bit dedupe keys of event ids, and sets of them kept as sorted NumPy arrays.

``key(id)`` is the first 8 bytes (little-endian) of ``md5(id)``; when the id looks like an MD5 hex
digest (32 characters, the first 16 lowercase hex — every id sopflow derives from content), those bytes
are read from the hex instead of hashing again. Two distinct ids share a key with probability 2⁻⁶⁴ per pair: about 3·10⁻⁶ that any collision
exists among 10 million events, in which case the later event is counted as a duplicate.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from sopflow.events.timecolumn import string_buffers

_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_VALUE[_c] = _i
_PY_LOOP_BELOW = 4096  # small batches (HTTP) hash a little faster in a Python loop than in the C pass


def _fastest_md5() -> Callable[[bytes], Any]:
    """CPython's own MD5: the digests of hashlib's OpenSSL one at half the cost per call for short ids
    (OpenSSL's per-call set-up dominates). Not a security use, so FIPS restrictions do not apply."""
    try:
        md5: Callable[[bytes], Any] = importlib.import_module("_md5").md5
    except ImportError:  # pragma: no cover - Pythons built without it
        return lambda data: hashlib.md5(data, usedforsecurity=False)
    return md5


if TYPE_CHECKING:
    import duckdb

_md5 = _fastest_md5()
_duckdb: duckdb.DuckDBPyConnection | None = None
_duckdb_lock = threading.Lock()


@contextmanager
def duckdb_cursor() -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of one in-memory DuckDB kept for the process: opening a database costs ~25 ms, a cursor
    well under one. A cursor is one thread's own; tables registered on it go with it."""
    global _duckdb
    with _duckdb_lock:
        if _duckdb is None:
            import duckdb  # here: a CSV import with derived ids never needs it (70 ms to import)

            _duckdb = duckdb.connect()
            # Closed before the interpreter tears down: a DuckDB still open at that point may abort the
            # process ("terminate called without an active exception") after its work is done.
            atexit.register(_close_duckdb)
        cursor = _duckdb.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def _close_duckdb() -> None:
    global _duckdb
    with _duckdb_lock:
        if _duckdb is not None:
            _duckdb.close()
            _duckdb = None


def event_keys(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The dedupe key of each (non-null) event id."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    ids = ids.cast(pa.string())
    n = len(ids)
    keys = np.zeros(n, dtype=np.uint64)
    if n == 0:
        return keys
    offsets, data = string_buffers(ids)
    lengths = offsets[1:] - offsets[:-1]
    is_hex = np.zeros(n, dtype=bool)
    if len(data) == 32 * n and (lengths == 32).all():
        chars = data.reshape(n, 32)  # the usual case (derived ids): a view, no gather
        all_hex = _all_lowercase_hex(chars[:, :16])
        if all_hex is not None:
            return all_hex
        hex_rows = np.arange(n)
    else:
        hex_rows = np.flatnonzero(lengths == 32)
        chars = data[offsets[hex_rows][:, None] + np.arange(32)]
    if len(hex_rows):
        pairs = _HEX_VALUE[chars[:, :16]]
        ok = pairs.max(axis=1) < 16
        key_bytes = np.ascontiguousarray((pairs[:, 0::2] << np.uint8(4)) | pairs[:, 1::2])
        values = key_bytes.view("<u8").ravel()
        keys[hex_rows[ok]] = values[ok]
        is_hex[hex_rows[ok]] = True
    rest = np.flatnonzero(~is_hex)
    if len(rest) == n:
        return _md5_keys(ids)  # no id is a digest (UUIDs, the client's own ids): no gather needed
    if len(rest):
        keys[rest] = _md5_keys(ids.take(pa.array(rest)))
    return keys


def _all_lowercase_hex(prefixes: np.ndarray) -> np.ndarray | None:
    """The keys when every row's 16 characters are lowercase hex (ids sopflow derived), else ``None``.

    ``bytes.fromhex`` decodes in one C pass; it also takes upper case, which is not a digest sopflow
    writes (such ids are hashed like any other), hence the check that nothing but ``0-9a-f`` is there.
    """
    text = prefixes.tobytes()
    if text.translate(None, b"0123456789abcdef"):
        return None
    return np.frombuffer(bytes.fromhex(text.decode("ascii")), dtype="<u8").astype(np.uint64)


def key_of(event_id: str) -> int:
    if len(event_id) == 32 and all(c in "0123456789abcdef" for c in event_id[:16]):
        return int.from_bytes(bytes.fromhex(event_id[:16]), "little")
    return int.from_bytes(_md5(event_id.encode()).digest()[:8], "little")


def md5_digests(values: list[bytes]) -> bytes:
    """The 16-byte MD5 digest of each value, concatenated."""
    return b"".join([_md5(value).digest() for value in values])


def _md5_keys(ids: pa.Array) -> np.ndarray:
    if len(ids) < _PY_LOOP_BELOW:
        # The first 8 bytes of each digest, read little-endian in one go (no Python int per id).
        digests = md5_digests(ids.cast(pa.binary()).to_pylist())
        return np.frombuffer(digests, dtype="<u8")[::2].astype(np.uint64)
    from sopflow.events.native.content import content_md5  # the compiled MD5 of derived ids

    _offsets, hexes = string_buffers(content_md5([ids], "\x1f"))
    digests = bytes.fromhex(hexes.tobytes().decode("ascii"))
    return np.frombuffer(digests, dtype="<u8")[::2].astype(np.uint64)


def first_occurrences(keys: np.ndarray) -> np.ndarray:
    """Mask of each key's first occurrence (later repeats are duplicates within the batch)."""
    return fresh_mask(keys, [])


def fresh_mask(keys: np.ndarray, known: list[np.ndarray]) -> np.ndarray:
    """Rows whose key is new: not in any of the ``known`` sorted arrays, and first of its kind in ``keys``.

    The probes are sorted once, so every binary search starts where the previous one ended (large
    batches against large key sets are memory-bound otherwise).
    """
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(keys)
    probes = keys[order]
    stale = np.zeros(n, dtype=bool)
    stale[1:] = probes[1:] == probes[:-1]
    if stale.any():  # repeats in the batch: the first in input order must win, so sort stably
        order = np.argsort(keys, kind="stable")
        probes = keys[order]
        stale[1:] = probes[1:] == probes[:-1]
    for sorted_keys in known:
        if len(sorted_keys):
            pos = np.searchsorted(sorted_keys, probes)
            pos[pos == len(sorted_keys)] = 0
            stale |= sorted_keys[pos] == probes
    fresh = np.empty(n, dtype=bool)
    fresh[order] = ~stale
    return fresh


def sorted_contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0 or len(keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    pos = np.searchsorted(sorted_keys, keys)
    pos[pos == len(sorted_keys)] = 0
    return np.asarray(sorted_keys[pos] == keys, dtype=bool)


def merge_sorted(a: np.ndarray, b_sorted: np.ndarray) -> np.ndarray:
    """Merge two sorted key arrays in linear time.

    NumPy's stable sort of integers is a timsort, which finds the two runs and merges them: about 4x faster
    than inserting one array into the other (``np.insert``), with the same result.
    """
    if len(b_sorted) == 0:
        return np.asarray(a)
    if len(a) == 0:
        return b_sorted
    merged: np.ndarray = np.sort(np.concatenate([np.asarray(a), b_sorted]), kind="stable")
    return merged


class KeySet:
    """A growing set of keys: a few sorted runs, merged as they pile up (log-structured)."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(r) for r in self._runs)

    @property
    def runs(self) -> list[np.ndarray]:
        """The sorted runs, for :func:`fresh_mask`."""
        return list(self._runs)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        found = np.zeros(len(keys), dtype=bool)
        for run in self._runs:
            found |= sorted_contains(run, keys)
        return found

    def add(self, keys: np.ndarray) -> None:
        if not len(keys):
            return
        run = np.sort(np.asarray(keys, dtype=np.uint64))
        while self._runs and len(self._runs[-1]) <= 2 * len(run):
            run = merge_sorted(self._runs.pop(), run)
        self._runs.append(run)

    def clear(self) -> None:
        self._runs.clear()

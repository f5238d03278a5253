"""Raw id → code in C memory (see ``idmap.c``), keyed by the two halves of each id's MD5."""

from __future__ import annotations

import ctypes
from functools import cache
from pathlib import Path

import numpy as np

from sopflow.analytics.kernel.build import load_source

_P, _I64, _INT = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
_SOURCE = Path(__file__).with_name("idmap.c")


@cache
def _library() -> ctypes.CDLL:
    # Called with the GIL held (PyDLL): a call takes milliseconds, while giving the GIL up means waiting
    # for it again behind the import's other threads, which cost far more than the call.
    library = ctypes.PyDLL(load_source(_SOURCE)._name)
    library.sop_idmap_new.argtypes, library.sop_idmap_new.restype = [_I64], _P
    library.sop_idmap_free.argtypes, library.sop_idmap_free.restype = [_P], None
    library.sop_idmap_encode.argtypes = [_P, _I64, _P, _P, _P, _P, _P, _I64, _INT]
    library.sop_idmap_encode.restype = _I64
    library.sop_idmap_put.argtypes, library.sop_idmap_put.restype = [_P, _I64, _P, _P, _P], _I64
    library.sop_id_digests.argtypes, library.sop_id_digests.restype = [_I64, _P, _P, _P, _P], None
    return library


def string_digests(offsets: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two 64-bit halves of a 128-bit hash of each string (``offsets``: int32, n + 1; ``data``: bytes)."""
    n = len(offsets) - 1
    first, second = np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.uint64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int32)
    data = np.ascontiguousarray(data, dtype=np.uint8)
    _library().sop_id_digests(n, offsets.ctypes.data, data.ctypes.data, first.ctypes.data, second.ctypes.data)
    return first, second


class IdMap:
    """Codes by digest; :meth:`encode` gives unknown ids the next codes, in row order."""

    def __init__(self, expected: int = 0) -> None:
        self._lib = _library()
        self._handle = self._lib.sop_idmap_new(expected)
        if not self._handle:
            raise MemoryError("idmap")

    def encode(
        self, h1: np.ndarray, h2: np.ndarray, *, next_code: int, insert: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """``(codes, is_new, clash, next_code)``: codes -1 where unknown (without ``insert``) or where the
        first half is known under another second half (``clash``: the caller compares the ids' text)."""
        first = np.ascontiguousarray(h1, dtype=np.uint64)
        second = np.ascontiguousarray(h2, dtype=np.uint64)
        n = len(first)
        codes = np.empty(n, dtype=np.int32)
        is_new = np.empty(n, dtype=np.uint8)
        clash = np.empty(n, dtype=np.uint8)
        following = self._lib.sop_idmap_encode(
            self._handle,
            n,
            first.ctypes.data,
            second.ctypes.data,
            codes.ctypes.data,
            is_new.ctypes.data,
            clash.ctypes.data,
            next_code,
            int(insert),
        )
        if following < 0:
            raise MemoryError("idmap")
        return codes, is_new.view(bool), clash.view(bool), int(following)

    def put(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        """Enter ids coded 0..n-1 in order; returns the rows that clashed (left out, to be found by text)."""
        first = np.ascontiguousarray(h1, dtype=np.uint64)
        second = np.ascontiguousarray(h2, dtype=np.uint64)
        clash = np.empty(len(first), dtype=np.uint8)
        if (
            self._lib.sop_idmap_put(
                self._handle, len(first), first.ctypes.data, second.ctypes.data, clash.ctypes.data
            )
            < 0
        ):
            raise MemoryError("idmap")
        return clash.view(bool)

    def close(self) -> None:
        if self._handle:
            self._lib.sop_idmap_free(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()

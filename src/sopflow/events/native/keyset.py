"""A set of dedupe keys in C memory (see ``keyset.c``): constant time per key, however many are in it."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from sopflow.analytics.kernel.build import load_source

_P, _I64 = ctypes.c_void_p, ctypes.c_int64
_SOURCE = Path(__file__).with_name("keyset.c")


def _library() -> ctypes.CDLL:
    # Called with the GIL held (PyDLL): a call takes milliseconds, while giving the GIL up means waiting
    # for it again behind the import's other threads, which cost far more than the call.
    library = ctypes.PyDLL(load_source(_SOURCE)._name)
    library.sop_keyset_new.argtypes, library.sop_keyset_new.restype = [_I64], _P
    library.sop_keyset_free.argtypes, library.sop_keyset_free.restype = [_P], None
    library.sop_keyset_size.argtypes, library.sop_keyset_size.restype = [_P], _I64
    library.sop_keyset_add.argtypes = [_P, _I64, _P, _P, _P]
    library.sop_keyset_add.restype = _I64
    return library


class HashKeySet:
    """Keys seen so far; :meth:`add` says which of a batch are new and remembers them."""

    def __init__(self, expected: int = 0) -> None:
        self._lib = _library()
        self._handle = self._lib.sop_keyset_new(expected)
        if not self._handle:
            raise MemoryError("keyset")

    def __len__(self) -> int:
        return int(self._lib.sop_keyset_size(self._handle))

    def add(self, keys: np.ndarray, *, skip: np.ndarray | None = None) -> np.ndarray:
        """Mask of the keys not seen before (the first of repeats in ``keys``); rows in ``skip`` are
        neither new nor remembered."""
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        fresh = np.zeros(len(keys), dtype=np.uint8)
        skipped = None if skip is None else np.ascontiguousarray(skip, dtype=np.uint8)
        added = self._lib.sop_keyset_add(
            self._handle,
            len(keys),
            keys.ctypes.data,
            None if skipped is None else skipped.ctypes.data,
            fresh.ctypes.data,
        )
        if added < 0:
            raise MemoryError("keyset")
        return fresh.view(bool)

    def close(self) -> None:
        if self._handle:
            self._lib.sop_keyset_free(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()

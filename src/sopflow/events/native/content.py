"""Derived event ids: the MD5 of a row's fields joined by a separator, computed in C (``content.c``)."""

from __future__ import annotations

import ctypes
import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from sopflow.analytics.kernel.build import load_source

_P, _I64 = ctypes.c_void_p, ctypes.c_int64
_SOURCE = Path(__file__).with_name("content.c")
# RFC 1321's table: the integer part of 2^32 * |sin(i + 1)|.
_K = np.array([int(abs(math.sin(i + 1)) * 2**32) & 0xFFFFFFFF for i in range(64)], dtype=np.uint32)
_EMPTY = np.zeros(1, dtype=np.uint8)


@cache
def _library() -> ctypes.CDLL:
    library = load_source(_SOURCE)  # CDLL: the GIL is let go while a chunk's rows are hashed
    library.sop_content_md5.argtypes = [_I64, _I64, _P, _P, _P, _P, ctypes.c_uint8, _P, _P]
    library.sop_content_md5.restype = ctypes.c_int
    return library


def content_md5(columns: Sequence[pa.Array], separator: str) -> pa.Array:
    """Lowercase hex MD5 of each row of ``columns`` (strings; a null is empty) joined by ``separator``."""
    n = len(columns[0])
    keep: list[object] = []  # what the pointers point into, alive until the call returns
    offsets, data, validity, bit_offsets = [], [], [], []
    for column in columns:
        array = column.cast(pa.string())
        validity_buffer, offset_buffer, data_buffer = array.buffers()
        starts = np.frombuffer(offset_buffer, dtype=np.int32)[array.offset : array.offset + n + 1]
        keep += [array, starts]
        offsets.append(starts.ctypes.data)
        data.append(
            data_buffer.address if data_buffer is not None and data_buffer.size else _EMPTY.ctypes.data
        )
        validity.append(validity_buffer.address if validity_buffer is not None else None)
        bit_offsets.append(array.offset)
    hexes = np.empty(32 * n, dtype=np.uint8)
    pointers = ctypes.c_void_p * len(columns)
    done = _library().sop_content_md5(
        n,
        len(columns),
        pointers(*offsets),
        pointers(*data),
        pointers(*validity),
        (ctypes.c_int64 * len(columns))(*bit_offsets),
        ord(separator),
        _K.ctypes.data,
        hexes.ctypes.data,
    )
    if done != 0:
        raise MemoryError("content_md5")
    ends = np.arange(0, 32 * (n + 1), 32, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(ends), pa.py_buffer(hexes)])

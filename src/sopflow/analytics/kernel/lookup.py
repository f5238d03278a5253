"""Per-row lookups through a small table, in the compiled kernel (see ``sop_lookup16`` in funnel.c)."""

from __future__ import annotations

import ctypes

import numpy as np

from sopflow.analytics.kernel.build import load

_P, _I64 = ctypes.c_void_p, ctypes.c_int64


def lookup(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[codes]`` as uint32 (or int32 for an int32 table), where code -1 reads the table's last entry.

    For int16/int32 codes it runs compiled, without widening the codes first; other dtypes fall back
    to NumPy (the same answer).
    """
    values = np.ascontiguousarray(table)
    kind = values.dtype
    if (
        kind not in (np.uint32, np.int32)
        or codes.dtype not in (np.int16, np.int32)
        or not codes.flags.c_contiguous
    ):
        out: np.ndarray = values[np.where((codes < 0) | (codes >= len(values) - 1), len(values) - 1, codes)]
        return out
    as_unsigned = values.view(np.uint32)
    result = np.empty(len(codes), dtype=np.uint32)
    name = "sop_lookup16" if codes.dtype == np.int16 else "sop_lookup32"
    function = getattr(load("funnel"), name)
    function.argtypes = [_I64, _P, _I64, _P, _P]
    function.restype = None
    function(len(codes), codes.ctypes.data, len(as_unsigned), as_unsigned.ctypes.data, result.ctypes.data)
    return result.view(kind)

"""The analytics cache's coded revenue column: ``revenue`` as integer codes into the distinct amounts.

Referral sums each invitee's revenue; read from the segments that is a decimal column over every row, about
a second per 10M events however few rows carry an amount. Coded once at compaction it is one more int32
column in the per-person pass. In ``gen-<n>/``:

- ``revenue.npy`` (int32, one per cache row, in cache order): a code into the amounts, -1 for none;
- ``revenue_units.npy`` (int64, one per code): the amount exactly, as the decimal's unscaled integer at the
  canonical scale (``decimal128(18, 4)``: 99.5 is 995000); codes never change (later generations append).

Generations written before this column existed have neither file; the next compaction adds them, reading
the segments once, as for the inviter column (:mod:`sopflow.events.inviters`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa

from sopflow.events.wal import fsync_file

CODES = "revenue"  # the cache column's name (``revenue.npy``)
UNITS = "revenue_units"
SCALE = 4
_TYPE = pa.decimal128(18, SCALE)


@dataclass
class RevenueCodes:
    """The distinct amounts by code (unscaled int64), and the map back from amount to code."""

    units: list[int] = field(default_factory=list)
    _index: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, units: np.ndarray | None = None) -> RevenueCodes:
        known = [] if units is None else [int(u) for u in np.asarray(units).tolist()]
        return cls(known, {u: i for i, u in enumerate(known)})

    def __len__(self) -> int:
        return len(self.units)

    def array(self) -> np.ndarray:
        return np.asarray(self.units, dtype=np.int64)

    def encode(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """int32 codes of ``values`` (nulls -1), new amounts coded in order of first sight in the batch."""
        units, valid = unscaled(values)
        out = np.full(len(units), -1, dtype=np.int32)
        present = np.flatnonzero(valid)
        if not len(present):
            return out
        # Distinct amounts go through the dict, in order of first sight: a batch repeats its prices.
        distinct, first, inverse = np.unique(units[present], return_index=True, return_inverse=True)
        lookup = np.empty(len(distinct), dtype=np.int32)
        for position in np.argsort(first, kind="stable").tolist():
            amount = int(distinct[position])
            code = self._index.get(amount)
            if code is None:
                code = self._index[amount] = len(self.units)
                self.units.append(amount)
            lookup[position] = code
        out[present] = lookup[inverse.reshape(-1)]
        return out


def unscaled(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(the unscaled int64 of each amount at :data:`SCALE`, whether it is present) for a revenue column.

    The decimal's 128-bit little-endian values are read in place: every ``decimal128(18, 4)`` fits in the low
    64 bits as a two's complement integer, so the low half alone is the exact value.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if values.type != _TYPE:
        values = values.cast(_TYPE)
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    data = values.buffers()[1]
    assert data is not None
    words = np.frombuffer(data, dtype=np.int64, count=2 * (values.offset + n))
    units = np.array(words[2 * values.offset :: 2], dtype=np.int64)
    valid = (
        np.ones(n, dtype=bool)
        if values.null_count == 0
        else np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    )
    units[~valid] = 0
    return units, valid


def amounts(units: np.ndarray) -> np.ndarray:
    """Each amount as the float64 nearest to the exact decimal (as ``float("99.5000")`` gives it)."""
    return np.array([float(Decimal(int(u)).scaleb(-SCALE)) for u in np.asarray(units).tolist()], dtype=float)


def save(folder: Path, codes: RevenueCodes) -> None:
    """``revenue_units.npy`` into ``folder`` (the column itself is a cache array)."""
    path = folder / f"{UNITS}.npy"
    np.save(path, codes.array())
    fsync_file(path)


def present(folder: Path) -> bool:
    return (folder / f"{CODES}.npy").exists() and (folder / f"{UNITS}.npy").exists()


def load_units(folder: Path) -> np.ndarray:
    loaded: np.ndarray = np.load(folder / f"{UNITS}.npy")
    return loaded

"""The analytics cache's coded inviter column: ``inviter_id`` as integer codes, beside the person codes.

Referral must find, for each invitee, the person their ``inviter_id`` names. Read as text that means
every row's ``user_id`` and ``inviter_id`` from the segments, seconds at tens of millions of events; coded
once at compaction it is one pass over a memory-mapped int32 column. In ``gen-<n>/``:

- ``inviter.npy`` (int32, one per cache row, in cache order): a code into the inviter ids, -1 for none;
- ``inviters.arrow``: the inviter ids by code, each distinct text once, in order of first sight (codes
  never change: later generations only append);
- ``inviter_raw.npy`` (int32, one per inviter id): the raw-id code of the identity holding the same
  text, -1 when no raw id has it (an id nobody used, or used only later: recomputed at each compaction).

Generations written before this column existed have none of the three; the next compaction that writes a
generation (any import that adds events, ``sopflow events compact`` with events in the log, or
``sopflow events compact --full``) adds them by reading the segments once, and readers go without
meanwhile (referral then reads the text columns, as before).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sopflow.events.identity import Identity
from sopflow.events.wal import fsync_file

CODES = "inviter"  # the cache column's name (``inviter.npy``)
TEXTS = "inviters.arrow"
RAW = "inviter_raw"
_SCHEMA = pa.schema([pa.field("id", pa.string())])


@dataclass
class InviterIds:
    """The inviter ids by code. An :class:`Identity` without links serves as the text → code map: the
    same C map keyed by digests, the same order of first sight, the same care when digests clash."""

    texts: Identity

    @classmethod
    def of(cls, texts: pa.Array | None = None) -> InviterIds:
        n = 0 if texts is None else len(texts)
        return cls(Identity(texts, np.arange(n, dtype=np.int32), np.zeros(n, dtype=bool)))

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def values(self) -> pa.Array:
        return self.texts.raw_ids

    def encode(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """int32 codes of ``values`` (nulls -1), new texts coded in order of first sight.

        Only the distinct values of the batch go through the map: a batch repeats its inviters many times.
        """
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if values.type != pa.string():
            values = values.cast(pa.string())
        if len(values) == values.null_count:
            return np.full(len(values), -1, dtype=np.int32)
        encoded = pc.dictionary_encode(values)
        lookup = np.append(self.texts.encode(encoded.dictionary), -1).astype(np.int32)
        indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        out: np.ndarray = lookup[np.asarray(indices, dtype=np.int64)]
        return out

    def raw_codes(self, identity: Identity) -> np.ndarray:
        """For each inviter id, the raw-id code of the same text in ``identity`` (-1: none)."""
        if not len(self):
            return np.zeros(0, dtype=np.int32)
        return np.asarray(identity.codes_of(self.values), dtype=np.int32)


def codes_of_segments(
    segments_dir: Path, names: list[str], encoders: dict[str, Callable[[pa.ChunkedArray], np.ndarray]]
) -> dict[str, np.ndarray]:
    """Codes of every sealed row, in row order (the segments concatenated), of each column ``encoders``
    names (``inviter_id``, ``revenue``): for a generation written before those columns existed. One
    segment's columns in memory at a time."""
    parts: dict[str, list[np.ndarray]] = {column: [] for column in encoders}
    for name in names:
        table = pq.read_table(segments_dir / name, columns=list(encoders))
        for column, encode in encoders.items():
            parts[column].append(encode(table[column]))
    return {
        column: np.concatenate(found) if found else np.zeros(0, dtype=np.int32)
        for column, found in parts.items()
    }


def save(folder: Path, ids: InviterIds, raw: np.ndarray) -> None:
    """``inviters.arrow`` and ``inviter_raw.npy`` into ``folder`` (the column itself is a cache array)."""
    path = folder / TEXTS
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, _SCHEMA) as writer:
        writer.write_table(pa.table({"id": ids.values}, schema=_SCHEMA))
    fsync_file(path)
    raw_path = folder / f"{RAW}.npy"
    np.save(raw_path, np.ascontiguousarray(raw, dtype=np.int32))
    fsync_file(raw_path)


def present(folder: Path) -> bool:
    return (folder / f"{CODES}.npy").exists() and (folder / TEXTS).exists()


def load_ids(folder: Path) -> InviterIds:
    with pa.memory_map(str(folder / TEXTS)) as source:
        texts = pa.ipc.open_file(source).read_all()["id"].combine_chunks()
    return InviterIds.of(texts)

"""The fast way into a workspace: the sealed generation's memory-mapped cache, with nothing else imported.

A funnel over 10M events must answer in a fraction of a second, process start included, so this path
reads only ``manifest.json``, ``names.json`` and the ``.npy`` arrays (no pyarrow, no DuckDB). It applies
when every event is sealed (no unsealed log, the state after ``sopflow events import`` or a compaction);
otherwise the caller takes the full snapshot path of :mod:`sopflow.events.reading`. Under the store's
shared lock it opens everything a later read may need (the arrays, the segment files, the raw-id file),
so a compaction that runs meanwhile cannot pull them away.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from sopflow.events.layout import (
    BULK_SUFFIX,
    FRAME_SUFFIX,
    MANIFEST,
    SEGMENTS_DIR,
    WAL_DIR,
    WRITE_LOCK,
    gen_dir_name,
)
from sopflow.events.locks import DEFAULT_TIMEOUT_S, file_lock


@dataclass
class CacheArrays:
    """Persons' events, grouped by person (``offsets``) and ordered by time: see :class:`SortedView`."""

    offsets: np.ndarray
    ts: np.ndarray
    event: np.ndarray
    channel: np.ndarray
    row: np.ndarray
    event_names: list[str]
    channel_names: list[str]
    person: np.ndarray | None = None
    coded: CodedColumns | None = None


@dataclass
class CodedColumns:
    """The coded inviter and revenue columns of a generation that has them (see
    :mod:`sopflow.events.inviters`, :mod:`sopflow.events.revenues`), and the identity facts to resolve the
    inviter ids: aligned with the cache rows, like ``ts``."""

    inviter: np.ndarray  # int32 per row: code into the inviter ids, -1 none
    inviter_raw: np.ndarray  # int32 per inviter code: raw-id code holding the same text, -1 none
    inviter_ids: BinaryIO  # the ``inviters.arrow`` file (read on demand)
    revenue: np.ndarray  # int32 per row: code into ``revenue_units``, -1 none
    revenue_units: np.ndarray  # int64 per code: the exact amount, unscaled (4 decimals)
    has_events: np.ndarray  # bool per raw-id code: some event has it as ``user_id``


@dataclass
class SealedFiles:
    """Open handles on what the arrays refer to: segments in row order, and the identity files."""

    segments: list[BinaryIO] = field(default_factory=list)
    raw_ids: BinaryIO | None = None
    labels: np.ndarray | None = None
    identified: np.ndarray | None = None


def open_sealed(events_dir: Path) -> tuple[CacheArrays, SealedFiles] | None:
    """The sealed generation, or ``None`` when the store has an unsealed log (or no events)."""
    if not (events_dir / MANIFEST).exists():
        return None
    with file_lock(events_dir / WRITE_LOCK, shared=True, timeout=DEFAULT_TIMEOUT_S):
        manifest = json.loads((events_dir / MANIFEST).read_text(encoding="utf-8"))
        number = int(manifest.get("generation", 0))
        if number == 0 or _has_unsealed_log(events_dir / WAL_DIR, manifest.get("sealed", {})):
            return None
        folder = events_dir / gen_dir_name(number)

        def array(name: str) -> np.ndarray:
            loaded: np.ndarray = np.load(folder / f"{name}.npy", mmap_mode="r")
            return loaded

        names = json.loads((folder / "names.json").read_text(encoding="utf-8"))
        arrays = CacheArrays(
            offsets=array("offsets"),
            ts=array("ts"),
            event=array("event"),
            channel=array("channel"),
            row=array("row"),
            event_names=names["events"],
            channel_names=names["channels"],
            person=array("person"),
            coded=_coded_columns(folder, array),
        )
        files = SealedFiles(
            segments=[
                open(events_dir / SEGMENTS_DIR / s["name"], "rb")  # noqa: SIM115 (held for later reads)
                for s in manifest.get("segments", [])
            ],
            raw_ids=open(folder / "raw_ids.arrow", "rb"),  # noqa: SIM115 (held for later reads)
            labels=array("labels"),
            identified=array("identified"),
        )
    return arrays, files


def _coded_columns(folder: Path, array: Callable[[str], np.ndarray]) -> CodedColumns | None:
    """The generation's coded columns, when it has them all (a generation written before them has none)."""
    names = ("inviter", "inviter_raw", "revenue", "revenue_units")
    if (
        not all((folder / f"{name}.npy").exists() for name in names)
        or not (folder / "inviters.arrow").exists()
    ):
        return None
    return CodedColumns(
        inviter=array("inviter"),
        inviter_raw=array("inviter_raw"),
        inviter_ids=open(folder / "inviters.arrow", "rb"),  # held for later reads
        revenue=array("revenue"),
        revenue_units=array("revenue_units"),
        has_events=array("has_events"),
    )


def _has_unsealed_log(wal_dir: Path, sealed: dict[str, int]) -> bool:
    if not wal_dir.exists():
        return False
    for entry in os.scandir(wal_dir):
        name = entry.name
        if name.endswith(FRAME_SUFFIX) and entry.stat().st_size > max(sealed.get(name, 0), 0):
            return True
        if name.endswith(BULK_SUFFIX) and name not in sealed:
            return True
    return False

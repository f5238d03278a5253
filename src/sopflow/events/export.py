"""``sopflow events export``: a Hive-partitioned Parquet dataset, the interchange with Spark.

Layout: ``DIR/date=YYYY-MM-DD/part-*.parquet``, the date of ``ts`` **in UTC** (a dataset must not depend
on a display timezone). Columns: the canonical ones (``ts`` as a UTC timestamp in microseconds) plus
``person_id``, the identity-merged person (see :mod:`sopflow.events.identity`), so engines that read
the dataset count persons exactly as sopflow does. The dataset is written beside ``DIR`` and moved into
place when complete; an existing non-empty ``DIR`` is replaced only with ``overwrite``.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from sopflow.errors import InvalidInput
from sopflow.events.identity import Identity
from sopflow.events.reading import fold_log, scan_snapshot, take_snapshot
from sopflow.events.wal import fsync_dir, fsync_file
from sopflow.i18n import _

if TYPE_CHECKING:
    from sopflow.events.store import EventStore

PARTITIONING = ds.partitioning(pa.schema([pa.field("date", pa.string())]), flavor="hive")


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    rows: int
    files: int
    partitions: int


def export_parquet(store: EventStore, directory: Path, *, overwrite: bool = False) -> ExportResult:
    directory = Path(directory).resolve()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())) and not overwrite:
        raise InvalidInput(
            _("{path} exists and is not empty; choose another folder or pass --overwrite", path=directory)
        )
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.parent / f".{directory.name}.{secrets.token_hex(4)}.tmp"
    snap = take_snapshot(store)
    identity = fold_log(snap).identity
    rows = 0
    try:
        for index, table in enumerate(scan_snapshot(store, snap)):
            if not table.num_rows:
                continue
            rows += table.num_rows
            ds.write_dataset(
                with_person_and_date(table, identity),
                tmp,
                format="parquet",
                partitioning=PARTITIONING,
                basename_template=f"part-{index:05d}-{{i}}.parquet",
                existing_data_behavior="overwrite_or_ignore",
                file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
            )
        tmp.mkdir(exist_ok=True)
        files = _fsync_tree(tmp)
        _move_into_place(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    partitions = sum(1 for p in directory.iterdir() if p.is_dir())
    return ExportResult(directory, rows, files, partitions)


def with_person_and_date(table: pa.Table, identity: Identity) -> pa.Table:
    codes = identity.codes_of(table["user_id"].combine_chunks())
    display = identity.display_codes()
    known = codes >= 0
    person_codes = np.where(known, display[identity.labels[np.where(known, codes, 0)]], 0)
    person = pc.if_else(pa.array(known), identity.raw_ids.take(pa.array(person_codes)), table["user_id"])
    date = pc.strftime(table["ts"], format="%Y-%m-%d")  # ts is UTC, so this is the UTC date
    return table.append_column("person_id", person).append_column("date", date)


def _fsync_tree(root: Path) -> int:
    files = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            fsync_file(Path(folder) / name)
            files += 1
        fsync_dir(Path(folder))
    return files


def _move_into_place(tmp: Path, directory: Path) -> None:
    old = None
    if directory.exists():
        old = directory.parent / f".{directory.name}.{secrets.token_hex(4)}.old"
        os.replace(directory, old)
    os.replace(tmp, directory)
    fsync_dir(directory.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

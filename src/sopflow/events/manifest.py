"""``manifest.json`` (the current generation, atomically replaced) and reading the unsealed log."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pyarrow as pa

from sopflow.events.layout import BULK_SUFFIX, FRAME_SUFFIX, MANIFEST
from sopflow.events.wal import fsync_dir, fsync_file, iter_frames, read_bulk


def read_manifest(events_dir: Path) -> dict[str, Any]:
    """The manifest; for a new store an empty generation 0. ``sealed`` maps log files to the byte offset
    already sealed into segments (-1: the whole bulk file)."""
    path = events_dir / MANIFEST
    if not path.exists():
        return {"format": 1, "generation": 0, "segments": [], "sealed": {}}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write_manifest(events_dir: Path, manifest: dict[str, Any]) -> None:
    tmp = events_dir / f".{MANIFEST}.{secrets.token_hex(4)}.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    fsync_file(tmp)
    os.replace(tmp, events_dir / MANIFEST)
    fsync_dir(events_dir)


def read_from(path: Path, start: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(start)
        return fh.read()


def read_log(wal_dir: Path, sealed: dict[str, int]) -> tuple[list[pa.Table], dict[str, int]]:
    """The unsealed log (call under the write lock, shared) and the ``sealed`` map once it is sealed."""
    tables: list[pa.Table] = []
    upto = dict(sealed)
    for path in sorted(wal_dir.iterdir()):
        name = path.name
        if name.endswith(FRAME_SUFFIX):
            start = sealed.get(name, 0)
            end = start
            for table, offset in iter_frames(read_from(path, start)):
                tables.append(table)
                end = start + offset
            upto[name] = end
        elif name.endswith(BULK_SUFFIX) and name not in sealed:
            tables.append(read_bulk(path))
            upto[name] = -1
    return tables, upto

"""Names of the files in an event store folder, importable without pyarrow (fast readers use them)."""

from __future__ import annotations

MANIFEST = "manifest.json"
WRITE_LOCK = ".write.lock"
WAL_DIR = "wal"
SEGMENTS_DIR = "segments"
FRAME_SUFFIX = ".wal"  # a process's log of fsync'd frames
BULK_SUFFIX = ".arrow"  # a whole bulk import, written once


def gen_dir_name(number: int) -> str:
    return f"gen-{number:06d}"

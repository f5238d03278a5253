"""The write-ahead log: where an event is durable before anything else happens to it.

Two kinds of files live in ``events/wal/``:

- ``w-<pid>-<token>.wal`` — one per writing process, append-only, written only under the store's
  write lock. Each group commit appends one *frame* and ``fdatasync``s it before any caller is
  acknowledged. A frame is ``MAGIC | length (u32) | crc32 (u32) | Arrow IPC stream`` (schema + one
  batch). A process killed mid-write leaves a torn last frame, which readers detect (short read or CRC
  mismatch) and ignore — it was never acknowledged. The writer holds an ``flock`` on its file while it
  may append, so compaction knows when a fully sealed file can be deleted.
- ``b-<token>.arrow`` — a bulk batch (``sopflow events import``, ``simulate``), an Arrow IPC file
  written in ``events/staging/``, fsynced, then renamed in: the rename is the commit.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from sopflow.events.layout import FRAME_SUFFIX
from sopflow.events.schema import EVENT_SCHEMA

MAGIC = b"SFW1"
_HEADER = struct.Struct("<4sII")


def encode_frame(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, EVENT_SCHEMA) as writer:
        writer.write_table(table)
    payload: bytes = sink.getvalue().to_pybytes()
    return _HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def iter_frames(data: bytes, start: int = 0) -> Iterator[tuple[pa.Table, int]]:
    """Each complete, intact frame from ``start`` on, with the offset just past it; stops at a torn one."""
    pos = start
    view = memoryview(data)
    while pos + _HEADER.size <= len(data):
        magic, length, crc = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if magic != MAGIC or end > len(data):
            return
        payload = view[pos + _HEADER.size : end]
        if zlib.crc32(payload) != crc:
            return
        yield pa.ipc.open_stream(pa.py_buffer(payload)).read_all(), end
        pos = end


@dataclass
class FrameFile:
    """A process's own log file, opened for appending."""

    path: Path
    fd: int
    size: int

    @classmethod
    def create(cls, folder: Path, token: str) -> FrameFile:
        path = folder / f"w-{os.getpid()}-{token}{FRAME_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        fsync_dir(folder)  # the new name must survive a crash as surely as the frames in it
        return cls(path, fd, 0)

    def append(self, frame: bytes) -> int:
        """Write and ``fdatasync`` one frame; on failure the file is cut back so no torn frame stays."""
        before = self.size
        try:
            view = memoryview(frame)
            while view:
                written = os.write(self.fd, view)
                view = view[written:]
            os.fdatasync(self.fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, before)
            raise
        self.size = before + len(frame)
        return self.size

    def close(self) -> None:
        os.close(self.fd)


def read_bulk(path: Path) -> pa.Table:
    """A committed bulk file, memory-mapped (stays readable after a concurrent unlink)."""
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


def write_bulk(path: Path, tables: list[pa.Table]) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, EVENT_SCHEMA) as writer:
        for table in tables:
            writer.write_table(table)
    fsync_file(path)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

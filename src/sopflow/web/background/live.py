"""The newest events as they arrive, for debugging tracking: a tail of the event store's write-ahead log.

Events sent to the ingest API land in the log (``events/wal/*.wal``, one file per server process) before they
are acknowledged, in arrival order, so the log's tail *is* the stream of incoming events. A poll passes back
the ``cursor`` of its previous answer (for each log file, the offset read up to) and gets only what came
since. Reading needs no lock: frames are appended whole and :func:`iter_frames` stops at a torn one.

The first poll (no cursor) shows the newest ``limit`` events. To find them without decoding the whole log it
walks the frame headers (12 bytes each) and decodes only the last frames. Compaction deletes sealed log files;
their cursor entries are then simply dropped. Bulk imports (``.arrow``) are not shown: they are files, not
tracking traffic.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from sopflow.errors import InvalidInput
from sopflow.events.layout import FRAME_SUFFIX
from sopflow.events.store import EventStore
from sopflow.events.wal import MAGIC, iter_frames
from sopflow.i18n import _

MAX_LIMIT = 500
MAX_CURSOR_CHARS = 4000
_HEADER = struct.Struct("<4sII")  # the frame header of sopflow.events.wal: magic, payload length, crc
_ENTRY = re.compile(r"^([A-Za-z0-9._-]{1,120}):([0-9]{1,15})$")
SHOWN = ("ts", "event", "user_id", "channel", "campaign", "step", "variant", "inviter_id", "revenue",
         "currency", "properties", "event_id")  # fmt: skip


@dataclass(frozen=True)
class LiveEvents:
    events: list[dict[str, Any]]  # latest arrival first
    cursor: str
    more: bool  # more events arrived than ``limit``: the older ones are left out

    def as_json(self) -> dict[str, Any]:
        return {"events": self.events, "cursor": self.cursor, "more": self.more}


def parse_cursor(text: str | None) -> dict[str, int] | None:
    if text is None or text == "":
        return None
    if len(text) > MAX_CURSOR_CHARS:
        raise InvalidInput(_("after: the cursor is too long"), code="invalid_cursor")
    positions: dict[str, int] = {}
    for part in text.split(";"):
        match = _ENTRY.match(part)
        if match is None or not match.group(1).endswith(FRAME_SUFFIX):
            raise InvalidInput(
                _("after: not a cursor given by this API ({part!r})", part=part[:60]), code="invalid_cursor"
            )
        positions[match.group(1)] = int(match.group(2))
    return positions


def _frame_bounds(path: Path, start: int) -> list[tuple[int, int]]:
    """(start, end) of each complete frame from ``start`` on, reading only the headers."""
    bounds: list[tuple[int, int]] = []
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        pos = start
        while pos + _HEADER.size <= size:
            fh.seek(pos)
            magic, length, _crc = _HEADER.unpack(fh.read(_HEADER.size))
            end = pos + _HEADER.size + length
            if magic != MAGIC or end > size:
                break
            bounds.append((pos, end))
            pos = end
    return bounds


def _read_frames(path: Path, start: int, end: int) -> list[pa.Table]:
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    return [table for table, _offset in iter_frames(data)]


def recent_events(store: EventStore, *, after: str | None = None, limit: int = 100) -> LiveEvents:
    """Events that arrived after ``after`` (a cursor from a previous answer), else the newest ``limit``."""
    limit = max(1, min(limit, MAX_LIMIT))
    seen = parse_cursor(after)
    files = sorted(p for p in store.wal_dir.iterdir() if p.name.endswith(FRAME_SUFFIX))
    cursor: dict[str, int] = {}
    pieces: list[tuple[Path, int, int]] = []  # frames to decode: file, start, end
    for path in files:
        start = (seen or {}).get(path.name, 0)
        try:
            bounds = _frame_bounds(path, start)
        except OSError:  # compacted away between listing and reading
            continue
        cursor[path.name] = bounds[-1][1] if bounds else start
        pieces += [(path, s, e) for s, e in bounds]
    tables: list[pa.Table] = []
    counted = 0
    # Newest frames first (within a file, later offsets are newer; across files, order by their last write).
    mtimes = {path: _mtime(path) for path in files}
    pieces.sort(key=lambda piece: (mtimes[piece[0]], piece[1]), reverse=True)
    for path, s, e in pieces:
        if counted >= limit:
            break
        try:
            frames = _read_frames(path, s, e)
        except OSError:
            continue
        for table in frames:
            tables.append(table)
            counted += table.num_rows
    rows: list[dict[str, Any]] = []
    for table in tables:
        rows += [_shown(row) for row in reversed(table.select(list(SHOWN)).to_pylist())]
    more = len(rows) > limit or len(tables) < len(pieces)
    return LiveEvents(
        events=rows[:limit], cursor=";".join(f"{n}:{o}" for n, o in sorted(cursor.items())), more=more
    )


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in SHOWN:
        value = row.get(key)
        if key == "ts" and value is not None:
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = format(value.normalize(), "f")  # 99.5000 → 99.5, 100.0000 → 100
        elif key == "properties" and value:
            value = _short_json(value)
        out[key] = value
    return out


def _short_json(text: str, limit: int = 300) -> str:
    try:
        compact = json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
    except ValueError:
        compact = text
    return compact if len(compact) <= limit else compact[: limit - 1] + "…"

"""``sopflow events import``: files → validated canonical rows → one atomic bulk commit → compaction.

Outcome and exit code (the CLI uses :attr:`ImportReport.exit_code`):

- 0: every row was valid (rows already in the store count as valid: importing a file twice adds nothing);
- 3: some rows were rejected; the valid ones were imported, the bad ones listed with row and reason;
- 2: nothing was imported — a file could not be read at all, or ``--strict`` and some row was bad.

Nothing is visible in the store until every file has been read; an unreadable file anywhere, a
``--strict`` refusal or an interruption leaves the store as it was. By default rows go straight into
new sealed segments (:meth:`EventStore.bulk_import`), ready for analytics; ``--no-compact`` stages them
in the log instead (:meth:`EventStore.bulk_writer`), which holds no lock while reading the files.
"""

from __future__ import annotations

import csv
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sopflow.events.headers import DROP, fold, resolve_columns
from sopflow.events.identity import id_digests
from sopflow.events.keys import event_keys
from sopflow.events.normalize_batch import normalize_batch
from sopflow.events.normalize_table import NormalizedChunk, Reject, normalize_table
from sopflow.events.readers import RawChunk, SourceFile, open_source
from sopflow.events.store import EventStore
from sopflow.i18n import _

EXPORT_ONLY_COLUMNS = ("person_id", "date")  # written by `events export`, derived again on import
REJECT_HEADER = ("file", "row", "column", "field", "reason", "value")
Progress = Callable[[int, int], None]


@dataclass
class FileReport:
    path: Path
    format: str
    encoding: str | None
    rows: int = 0
    valid: int = 0
    rejected: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": self.format,
            "encoding": self.encoding,
            "rows": self.rows,
            "valid": self.valid,
            "rejected": self.rejected,
        }


@dataclass
class FileReject:
    file: Path
    column: str
    reject: Reject


@dataclass
class ImportReport:
    files: list[FileReport]
    rejects: list[FileReject] = field(default_factory=list)
    imported: int = 0
    duplicates: int = 0
    committed: bool = False
    strict: bool = False
    rejects_path: Path | None = None
    compacted: bool = False
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def valid(self) -> int:
        return sum(f.valid for f in self.files)

    @property
    def exit_code(self) -> int:
        if not self.committed:
            return 2
        return 3 if self.rejects else 0

    def as_json(self) -> dict[str, Any]:
        """The documented ``sopflow events import --json`` shape."""
        return {
            "files": [f.as_json() for f in self.files],
            "rows": self.rows,
            "valid": self.valid,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "rejected": len(self.rejects),
            "rejects_file": str(self.rejects_path) if self.rejects_path else None,
            "strict": self.strict,
            "committed": self.committed,
            "compacted": self.compacted,
            "seconds": round(self.seconds, 3),
            "exit_code": self.exit_code,
        }


def import_files(
    *,
    store: EventStore,
    paths: Sequence[Path],
    tz: tzinfo,
    fmt: str = "auto",
    user_map: Mapping[str, str] | None = None,
    encoding: str | None = None,
    strict: bool = False,
    rejects_path: Path | None = None,
    compact: bool = True,
    progress: Progress | None = None,
) -> ImportReport:
    """Import ``paths`` into ``store``; raises :class:`InvalidInput` (nothing written) for an unreadable file."""
    started = time.monotonic()
    user_map = dict(user_map or {})
    sources = [open_source(path, fmt=fmt, encoding=encoding) for path in paths]
    mappings = [
        resolve_columns(s.headers, user_map, source=str(s.path)) if s.headers else {} for s in sources
    ]
    report = ImportReport(
        [FileReport(s.path, s.format, s.encoding) for s in sources], strict=strict, rejects_path=rejects_path
    )
    total = sum(s.total_bytes for s in sources) or 1
    done_before = 0
    with store.bulk_import() if compact else store.bulk_writer() as writer:
        for source, mapping, file_report in zip(sources, mappings, report.files, strict=True):
            for chunk, normalized in _normalized(source, mapping, user_map, tz):
                file_report.rows += len(chunk.rows)
                file_report.valid += normalized.table.num_rows
                file_report.rejected += len(normalized.rejects)
                columns = {target: header for header, target in mapping.items()}
                report.rejects += [
                    FileReject(source.path, columns.get(r.field, r.field), r) for r in normalized.rejects
                ]
                if not (strict and report.rejects):
                    writer.write(normalized.table, keys=normalized.keys, user_digests=normalized.user_digests)
                if progress:
                    progress(done_before + chunk.done_bytes, total)
            done_before += source.total_bytes
        if rejects_path is not None:
            write_rejects(rejects_path, report.rejects)
        if strict and report.rejects:
            writer.abort()
        else:
            result = writer.commit()
            report.committed = True
            report.imported, report.duplicates = result.accepted, result.duplicates
            report.compacted = compact
    report.seconds = time.monotonic() - started
    return report


def _normalized(
    source: SourceFile, mapping: dict[str, str], user_map: Mapping[str, str], tz: tzinfo
) -> Iterator[tuple[RawChunk, NormalizedChunk]]:
    """Normalise chunks on two threads (pyarrow and DuckDB release the GIL), yielding them in file order."""
    chunks = source.chunks()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="sopflow-import") as pool:
        pending: list[tuple[RawChunk, Future[NormalizedChunk]]] = []
        for chunk in chunks:
            pending.append((chunk, pool.submit(_normalize_chunk, chunk, mapping, user_map, tz)))
            if len(pending) >= 3:
                first, future = pending.pop(0)
                yield first, future.result()
        for chunk, future in pending:
            yield chunk, future.result()


def _normalize_chunk(
    chunk: RawChunk, mapping: dict[str, str], user_map: Mapping[str, str], tz: tzinfo
) -> NormalizedChunk:
    if chunk.table is not None:
        normalized = normalize_table(prepare_table(chunk.table, mapping), tz=tz, rows=chunk.rows)
    else:
        normalized = _normalize_records(chunk.records, chunk.rows, user_map, tz)
    normalized.keys = event_keys(normalized.table["event_id"])  # here, so both cores hash
    normalized.user_digests = id_digests(normalized.table["user_id"])
    return normalized


def prepare_table(table: pa.Table, mapping: dict[str, str]) -> pa.Table:
    """Rename columns to their targets, drop ``-`` columns and the columns ``events export`` adds."""
    names = [mapping.get(h, h) for h in table.column_names]
    keep = [i for i, name in enumerate(names) if name != DROP]
    is_export = all(t in names for t in ("event_id", "event", "user_id", "ts"))
    if is_export:
        keep = [i for i in keep if names[i] not in EXPORT_ONLY_COLUMNS]
    return pa.table([table.column(i) for i in keep], names=[names[i] for i in keep])


def _normalize_records(
    records: list[Any], rows: np.ndarray, user_map: Mapping[str, str], tz: tzinfo
) -> NormalizedChunk:
    """JSON lines: renamed by ``--map``, then checked together (:func:`normalize_batch`), rejects in row order."""
    folded = {fold(k): v for k, v in user_map.items()}
    numbers = rows.tolist()
    rejects: list[tuple[int, Reject]] = []
    objects: list[dict[str, Any]] = []
    where: list[int] = []
    for index, (record, number) in enumerate(zip(records, numbers, strict=True)):
        if not isinstance(record, dict):
            rejects.append((index, Reject(number, "-", _("not a JSON object"), "")))
            continue
        mapped: dict[str, Any] = {}
        for key, value in record.items():
            target = folded.get(fold(str(key))) or str(key)
            if target != DROP:
                mapped[target] = value
        objects.append(mapped)
        where.append(index)
    result = normalize_batch(objects, tz=tz, stop_at_first_error=False)
    for position, exc in result.errors:
        value = objects[position].get(exc.field)
        index = where[position]
        rejects.append(
            (index, Reject(numbers[index], exc.field, exc.reason, "" if value is None else str(value)))
        )
    rejects.sort(key=lambda item: item[0])
    return NormalizedChunk(result.table, [r for _i, r in rejects], result.per_row + len(result.errors))


def write_rejects(path: Path, rejects: list[FileReject]) -> None:
    """The rejects as CSV (UTF-8 with BOM, so Excel shows Chinese correctly), written atomically."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(REJECT_HEADER)
        for item in rejects:
            r = item.reject
            out.writerow([str(item.file), r.row, item.column, r.field, r.reason, r.value])
    os.replace(tmp, path)

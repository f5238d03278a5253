"""Event files as chunks of raw rows: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030), Excel .xlsx, JSON lines, Parquet.

Row numbers are the ones a person would look up: in CSV and Excel the header is row 1 and the first
event row 2 (as Excel shows it; blank lines are skipped); in JSON lines the line number; in Parquet the
record number from 1. Anything that makes the file as a whole unreadable (missing, unknown format,
undecodable text, a broken CSV line) raises :class:`InvalidInput` naming the file — before or during
reading, and the importer then writes nothing.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as ds

from sopflow.errors import InvalidInput
from sopflow.events.headers import unique_headers
from sopflow.i18n import _

FORMATS = ("auto", "csv", "xlsx", "jsonl", "parquet")
CHUNK_ROWS = 262_144
WHOLE_FILE_BYTES = 256 << 20  # smaller CSVs are parsed at once (multi-threaded), larger ones streamed
_SAMPLE_BYTES = 1 << 20
_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass
class RawChunk:
    """Raw rows: a ``table`` (columns named by header) or ``records`` (JSON objects), with their row numbers."""

    rows: np.ndarray
    table: pa.Table | None = None
    records: list[Any] = field(default_factory=list)
    done_bytes: int = 0


@dataclass
class SourceFile:
    path: Path
    format: str
    headers: list[str]
    total_bytes: int
    encoding: str | None = None
    delimiter: str = ","

    def chunks(self) -> Iterator[RawChunk]:
        readers = {
            "csv": _csv_chunks,
            "xlsx": _xlsx_chunks,
            "jsonl": _jsonl_chunks,
            "parquet": _parquet_chunks,
        }
        return readers[self.format](self)


def open_source(path: Path, *, fmt: str = "auto", encoding: str | None = None) -> SourceFile:
    if not path.exists():
        raise InvalidInput(_("{path}: no such file", path=path))
    chosen = detect_format(path) if fmt == "auto" else fmt
    if chosen not in FORMATS[1:]:
        raise InvalidInput(
            _(
                "{path}: unknown format {fmt!r}; choose one of {choices}",
                path=path,
                fmt=chosen,
                choices=", ".join(FORMATS),
            )
        )
    size = _size(path)
    if chosen == "csv":
        return _open_csv(path, size, encoding)
    if chosen == "xlsx":
        return SourceFile(path, "xlsx", _xlsx_headers(path), size)
    if chosen == "parquet":
        try:
            names = _parquet_dataset(path).schema.names
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInput(
                _("{path}: not a readable Parquet file ({error})", path=path, error=exc)
            ) from None
        return SourceFile(path, "parquet", list(names), size)
    return SourceFile(path, "jsonl", [], size)


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "parquet"
    by_name = _EXTENSIONS.get(path.suffix.lower())
    if path.suffix.lower() == ".xls":
        raise InvalidInput(
            _("{path}: old .xls workbooks are not supported; save it as .xlsx or CSV", path=path)
        )
    if by_name:
        return by_name
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    return "jsonl" if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


# ---- CSV ----------------------------------------------------------------------------------------------------


def detect_encoding(sample: bytes, *, whole: bool) -> str | None:
    """``utf-8`` (with or without BOM) when the sample decodes as UTF-8, else ``gb18030`` (a superset of GBK)."""
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=whole)
            return encoding
        except UnicodeDecodeError:
            continue
    return None


def _open_csv(path: Path, size: int, encoding: str | None) -> SourceFile:
    with path.open("rb") as fh:
        sample = fh.read(_SAMPLE_BYTES)
    chosen = encoding or detect_encoding(sample, whole=size <= _SAMPLE_BYTES)
    if chosen is None:
        raise InvalidInput(_("{path}: text is neither UTF-8 nor GBK; save it as CSV UTF-8", path=path))
    try:
        text = codecs.getincrementaldecoder(chosen)(errors="replace").decode(
            sample, final=size <= _SAMPLE_BYTES
        )
    except LookupError:
        raise InvalidInput(_("{path}: unknown encoding {encoding!r}", path=path, encoding=chosen)) from None
    text = text.lstrip("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = max(",\t;|", key=first_line.count)
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter))
    except (StopIteration, csv.Error):
        header = []
    if not any(h.strip() for h in header):
        raise InvalidInput(_("{path}: no header row (the first row must name the columns)", path=path))
    return SourceFile(path, "csv", unique_headers(header), size, encoding=chosen, delimiter=delimiter)


class _CountingReader(io.RawIOBase):
    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        self.count += n or 0
        return n or 0


def _csv_options(src: SourceFile) -> tuple[pa_csv.ReadOptions, pa_csv.ParseOptions, pa_csv.ConvertOptions]:
    read = pa_csv.ReadOptions(
        column_names=src.headers, skip_rows=1, encoding=src.encoding or "utf-8", block_size=16 << 20
    )
    parse = pa_csv.ParseOptions(delimiter=src.delimiter, newlines_in_values=True)
    convert = pa_csv.ConvertOptions(
        column_types={h: pa.string() for h in src.headers},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    return read, parse, convert


def _csv_chunks(src: SourceFile) -> Iterator[RawChunk]:
    read, parse, convert = _csv_options(src)
    first_row = 2
    try:
        if src.total_bytes <= WHOLE_FILE_BYTES:
            table = pa_csv.read_csv(src.path, read_options=read, parse_options=parse, convert_options=convert)
            for start in range(0, table.num_rows, CHUNK_ROWS):
                part = table.slice(start, CHUNK_ROWS)
                done = src.total_bytes * (start + part.num_rows) // max(table.num_rows, 1)
                yield RawChunk(
                    np.arange(first_row + start, first_row + start + part.num_rows), part, done_bytes=done
                )
            return
        with src.path.open("rb") as raw:
            counter = _CountingReader(raw)
            reader = pa_csv.open_csv(counter, read_options=read, parse_options=parse, convert_options=convert)
            row = first_row
            for batch in reader:
                part = pa.Table.from_batches([batch])
                yield RawChunk(np.arange(row, row + part.num_rows), part, done_bytes=counter.count)
                row += part.num_rows
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise InvalidInput(
            _("{path}: cannot read this CSV: {error}", path=src.path, error=_short(exc))
        ) from None


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300]


# ---- Excel ----------------------------------------------------------------------------------------------------


def _workbook(path: Path) -> Any:
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise InvalidInput(
            _("{path}: not a readable .xlsx workbook ({error})", path=path, error=_short(exc))
        ) from None


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[str | None]]]:
    workbook = _workbook(path)
    try:
        sheet = workbook.active
        start = sheet.min_row or 1
        for offset, values in enumerate(sheet.iter_rows(values_only=True)):
            cells = [cell_text(v) for v in values]
            if any(c is not None and c.strip() for c in cells):
                yield start + offset, cells
    finally:
        workbook.close()


def _xlsx_headers(path: Path) -> list[str]:
    for _row, cells in _xlsx_rows(path):
        return unique_headers(c or "" for c in cells)
    raise InvalidInput(_("{path}: the first sheet is empty", path=path))


def _xlsx_chunks(src: SourceFile) -> Iterator[RawChunk]:
    width = len(src.headers)
    rows: list[int] = []
    columns: list[list[str | None]] = [[] for _ in range(width)]
    header_seen = False
    for number, cells in _xlsx_rows(src.path):
        if not header_seen:
            header_seen = True
            continue
        rows.append(number)
        for i in range(width):
            columns[i].append(cells[i] if i < len(cells) else None)
        if len(rows) >= CHUNK_ROWS // 4:
            yield _xlsx_chunk(src, rows, columns)
            rows, columns = [], [[] for _ in range(width)]
    if rows:
        yield _xlsx_chunk(src, rows, columns)


def _xlsx_chunk(src: SourceFile, rows: list[int], columns: list[list[str | None]]) -> RawChunk:
    table = pa.table({h: pa.array(c, pa.string()) for h, c in zip(src.headers, columns, strict=True)})
    return RawChunk(np.asarray(rows, dtype=np.int64), table, done_bytes=src.total_bytes)


def cell_text(value: Any) -> str | None:
    """An Excel cell as the text the user sees (dates in ISO form, whole numbers without ``.0``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


# ---- JSON lines -------------------------------------------------------------------------------------------------


def _jsonl_chunks(src: SourceFile) -> Iterator[RawChunk]:
    rows: list[int] = []
    records: list[Any] = []
    done = 0
    with src.path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            done += len(line)
            text = line.strip()
            if number == 1:
                text = text.removeprefix(b"\xef\xbb\xbf")
            if not text:
                continue
            try:
                records.append(json.loads(text))
            except ValueError:
                records.append(None)  # the importer rejects it with this row number
            rows.append(number)
            if len(rows) >= CHUNK_ROWS // 4:
                yield RawChunk(np.asarray(rows, dtype=np.int64), records=records, done_bytes=done)
                rows, records = [], []
    if rows:
        yield RawChunk(np.asarray(rows, dtype=np.int64), records=records, done_bytes=done)


# ---- Parquet ----------------------------------------------------------------------------------------------------


def _parquet_dataset(path: Path) -> ds.Dataset:
    if path.is_dir():
        return ds.dataset(path, format="parquet", partitioning="hive")
    return ds.dataset(path, format="parquet")


def _parquet_chunks(src: SourceFile) -> Iterator[RawChunk]:
    dataset = _parquet_dataset(src.path)
    total = max(dataset.count_rows(), 1)
    row = 1
    try:
        # One batch read ahead at most: the default read-ahead holds many decoded batches at once.
        for batch in dataset.to_batches(batch_size=1 << 20, batch_readahead=1, fragment_readahead=1):
            part = pa.Table.from_batches([batch])
            yield RawChunk(
                np.arange(row, row + part.num_rows),
                part,
                done_bytes=src.total_bytes * (row - 1 + part.num_rows) // total,
            )
            row += part.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(
            _("{path}: cannot read this Parquet file: {error}", path=src.path, error=_short(exc))
        ) from None

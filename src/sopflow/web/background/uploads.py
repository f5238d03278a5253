"""Event files uploaded in the console: stage, preview with a suggested column mapping, import as a job.

1. :func:`stage_upload` keeps the file in ``<workspace>/uploads/<id>/`` and reads its header; a file that is
   not a CSV or Excel table is refused there (:class:`InvalidInput`) and nothing is kept.
2. :func:`preview_upload`: the columns, a few rows, and for each column the event field the importer would
   feed from it (:data:`sopflow.events.headers.BUILTIN_HEADERS`) — the user may change any of them.
3. :func:`start_import` checks the chosen mapping (``event``, ``user_id`` and ``ts`` must each come from one
   column) before anything runs, then imports through :func:`sopflow.events.importer.import_files` as a
   background job: the same all-or-nothing commit, dedupe and row checks as ``sopflow events import``.
   Bad rows are written to ``rejects.csv`` beside the upload (row number as Excel shows it, and why).

Messages name the uploaded file, never the server's staging path.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sopflow.errors import InvalidInput, NotFound
from sopflow.events.headers import BUILTIN_HEADERS, DROP, TARGETS, fold
from sopflow.events.importer import REJECT_HEADER, FileReject, import_files
from sopflow.events.readers import SourceFile, detect_encoding, open_source
from sopflow.events.store import EventStore
from sopflow.i18n import _
from sopflow.web.background.jobs import Job, JobRunner, Progress
from sopflow.workspace import Workspace

MAX_UPLOAD_BYTES = 200 << 20
KEEP_UPLOADS_S = 24 * 3600
REQUIRED_FIELDS = ("event", "user_id", "ts")
PROPERTY = ""  # the mapping value for "keep as a property named after the column"
PREVIEW_ROWS = 5
_EXTENSIONS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ID = re.compile(r"^[A-Za-z0-9_-]{8,40}$")


@dataclass(frozen=True)
class Upload:
    id: str
    owner: str
    filename: str
    format: str
    size: int
    created_at: datetime
    folder: Path

    @property
    def source(self) -> Path:
        return self.folder / f"source.{self.format}"

    @property
    def rejects(self) -> Path:
        return self.folder / "rejects.csv"


def uploads_dir(workspace: Workspace) -> Path:
    return workspace.root / "uploads"


def _clean_name(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name.strip()
    return name[:200] or "upload"


def _format_of(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix == ".xls":
        raise InvalidInput(
            _("{file}: old .xls workbooks are not supported; save it as .xlsx or CSV", file=filename),
            code="not_a_table",
        )
    chosen = _EXTENSIONS.get(suffix)
    if chosen is None:
        raise InvalidInput(
            _("{file}: upload a CSV or Excel (.xlsx) file", file=filename),
            code="not_a_table",
        )
    return chosen


def _friendly(exc: InvalidInput, path: Path, filename: str) -> InvalidInput:
    """The same error with the staging path replaced by the name the user uploaded."""
    message = exc.message.replace(str(path.resolve()), filename).replace(str(path), filename)
    return InvalidInput(message, code="not_a_table")


def stage_upload(
    *, workspace: Workspace, owner: str, filename: str, data: BinaryIO, now: datetime | None = None
) -> Upload:
    """Keep the uploaded file and check that it reads as a table with a header; else nothing is kept."""
    name = _clean_name(filename)
    fmt = _format_of(name)
    root = uploads_dir(workspace)
    _sweep(root)
    folder = root / secrets.token_urlsafe(12)
    folder.mkdir(parents=True)
    try:
        target = folder / f"source.{fmt}"
        size = 0
        with target.open("wb") as out:
            while chunk := data.read(1 << 20):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise InvalidInput(
                        _(
                            "{file}: larger than {mib} MiB; import it with `sopflow events import`",
                            file=name,
                            mib=MAX_UPLOAD_BYTES >> 20,
                        ),
                        code="too_large",
                    )
                out.write(chunk)
        if size == 0:
            raise InvalidInput(_("{file}: the file is empty", file=name), code="not_a_table")
        try:
            headers = open_source(target, fmt=fmt).headers
        except InvalidInput as exc:
            raise _friendly(exc, target, name) from None
        if any(_CONTROL.search(h) for h in headers):
            # Binary data that happened to decode as text: a header row is names a person typed.
            raise InvalidInput(
                _("{file}: the first row holds binary data, not column names: is it a table?", file=name),
                code="not_a_table",
            )
        upload = Upload(folder.name, owner, name, fmt, size, now or datetime.now(UTC), folder)
        (folder / "meta.json").write_text(
            json.dumps(
                {
                    "owner": owner,
                    "filename": name,
                    "format": fmt,
                    "size": size,
                    "created_at": upload.created_at.isoformat(),
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
        return upload
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _sweep(root: Path) -> None:
    """Forget uploads older than a day (their imports are long over)."""
    if not root.exists():
        return
    cutoff = time.time() - KEEP_UPLOADS_S
    for folder in root.iterdir():
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def get_upload(*, workspace: Workspace, upload_id: str, user: str, role: str) -> Upload:
    """The upload, for its owner or an admin; anyone else is told it does not exist."""
    folder = uploads_dir(workspace) / upload_id
    meta_path = folder / "meta.json"
    if not _ID.match(upload_id) or not meta_path.exists():
        raise NotFound(_("no upload {id!r}; upload the file again", id=upload_id), code="unknown_upload")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta["owner"] != user and role != "admin":
        raise NotFound(_("no upload {id!r}; upload the file again", id=upload_id), code="unknown_upload")
    return Upload(
        upload_id,
        meta["owner"],
        meta["filename"],
        meta["format"],
        int(meta["size"]),
        datetime.fromisoformat(meta["created_at"]),
        folder,
    )


def suggest_mapping(headers: list[str]) -> dict[str, str]:
    """Each column's suggested field (first claimant of a field wins; the rest stay properties)."""
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    for header in headers:
        target = BUILTIN_HEADERS.get(fold(header), PROPERTY)
        if target in taken:
            target = PROPERTY
        if target:
            taken.add(target)
        mapping[header] = target
    return mapping


def _sample_rows(source: SourceFile) -> list[list[str]]:
    if source.format == "csv":
        with source.path.open("rb") as fh:
            raw = fh.read(256 << 10)
        encoding = source.encoding or detect_encoding(raw, whole=False) or "utf-8"
        text = raw.decode(encoding, errors="replace").lstrip("\ufeff")
        reader = csv.reader(io.StringIO(text), delimiter=source.delimiter)
        rows: list[list[str]] = []
        try:
            next(reader, None)
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append(row)
                if len(rows) >= PREVIEW_ROWS:
                    break
        except csv.Error:
            pass  # a cut-off sample: the rows before it still show the shape
        return rows
    for chunk in source.chunks():
        table = chunk.table
        if table is None:
            return []
        part = table.slice(0, PREVIEW_ROWS).to_pylist()
        return [["" if v is None else str(v) for v in row.values()] for row in part]
    return []


def preview_upload(upload: Upload) -> dict[str, Any]:
    try:
        source = open_source(upload.source, fmt=upload.format)
        sample = _sample_rows(source)
    except InvalidInput as exc:
        raise _friendly(exc, upload.source, upload.filename) from None
    headers = source.headers
    return {
        "upload": upload.id,
        "filename": upload.filename,
        "format": upload.format,
        "encoding": source.encoding,
        "size": upload.size,
        "columns": headers,
        "rows": [dict(zip(headers, [*row, *[""] * len(headers)], strict=False)) for row in sample],
        "mapping": suggest_mapping(headers),
        "fields": list(TARGETS),
        "required": list(REQUIRED_FIELDS),
    }


def check_mapping(headers: list[str], mapping: Mapping[str, str]) -> dict[str, str]:
    """The chosen mapping as the importer's ``--map``: every column named, each field from one column, and
    the required fields present. Raises :class:`InvalidInput` naming the column or field at fault."""
    unknown = [h for h in mapping if h not in headers]
    if unknown:
        raise InvalidInput(
            _("mapping: the file has no column {column!r}", column=unknown[0]), code="invalid_mapping"
        )
    user_map: dict[str, str] = {}
    claimed: dict[str, str] = {}
    for header in headers:
        target = mapping.get(header)
        if target is None:
            target = suggest_mapping(headers)[header]
        if target not in (*TARGETS, DROP, PROPERTY):
            raise InvalidInput(
                _(
                    "mapping: column {column!r} → unknown field {field!r}; choose one of {choices}",
                    column=header,
                    field=target,
                    choices=", ".join(TARGETS),
                ),
                code="invalid_mapping",
            )
        if target in TARGETS:
            if target in claimed:
                raise InvalidInput(
                    _(
                        "mapping: columns {first!r} and {second!r} both feed {field}; keep one",
                        first=claimed[target],
                        second=header,
                        field=target,
                    ),
                    code="invalid_mapping",
                )
            claimed[target] = header
        if target == PROPERTY:
            # Kept as a property under its own name, even where the built-in map would take the column; a
            # column literally named like a field gets a prefix so it cannot feed that field.
            name = header.strip()
            target = f"column_{name}" if name in TARGETS else name
        user_map[header] = target
    missing = [f for f in REQUIRED_FIELDS if f not in claimed]
    if missing:
        raise InvalidInput(
            _(
                "mapping: no column feeds {fields}; every event needs an event name, a user id and a time",
                fields=", ".join(missing),
            ),
            code="invalid_mapping",
        )
    return user_map


def start_import(
    *,
    runner: JobRunner,
    store: EventStore,
    upload: Upload,
    owner: str,
    mapping: Mapping[str, str],
    timezone: str,
) -> Job:
    """Check the mapping now (a 4xx before any work), then import in the background."""
    try:
        headers = open_source(upload.source, fmt=upload.format).headers
    except InvalidInput as exc:
        raise _friendly(exc, upload.source, upload.filename) from None
    user_map = check_mapping(headers, mapping)
    tz = ZoneInfo(timezone)

    def work(progress: Progress) -> dict[str, Any]:
        progress(0, upload.size, _("reading {file}", file=upload.filename))
        upload.rejects.unlink(missing_ok=True)
        try:
            report = import_files(
                store=store,
                paths=[upload.source],
                tz=tz,
                fmt=upload.format,
                user_map=user_map,
                compact=False,  # stage through the log: no store-wide lock while the file is read
                progress=lambda done, total: progress(done, total),
            )
        except InvalidInput as exc:
            raise _friendly(exc, upload.source, upload.filename) from None
        write_rejects(upload, report.rejects)
        progress(upload.size, upload.size, _("imported {n} events", n=report.imported))
        return {
            "upload": upload.id,
            "filename": upload.filename,
            "rows": report.rows,
            "valid": report.valid,
            "imported": report.imported,
            "duplicates": report.duplicates,
            "rejected": len(report.rejects),
            "timezone": timezone,
            "seconds": round(report.seconds, 3),
        }

    return runner.submit(
        kind="events.import",
        owner=owner,
        title=_("import {file}", file=upload.filename),
        work=work,
    )


def write_rejects(upload: Upload, rejects: list[FileReject]) -> None:
    """The bad rows as CSV (UTF-8 with BOM for Excel and WPS), the file column naming the uploaded file."""
    tmp = upload.folder / f".rejects.{secrets.token_hex(4)}.tmp"
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(REJECT_HEADER)
        for item in rejects:
            r = item.reject
            out.writerow([upload.filename, r.row, item.column, r.field, r.reason, r.value])
    tmp.replace(upload.rejects)


def rejects_csv(upload: Upload) -> bytes:
    if not upload.rejects.exists():
        raise NotFound(
            _("no rejects for {file} yet: import it first", file=upload.filename), code="no_rejects"
        )
    return upload.rejects.read_bytes()

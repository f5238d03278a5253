"""Options of a render read from the user (format, start date, timezone) and the atomic write of the result."""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sopflow.errors import InvalidInput, SopflowError
from sopflow.i18n import _

FORMATS = ("md", "html", "xlsx", "ics")
_SUFFIXES = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".xlsx": "xlsx", ".ics": "ics"}


def output_format(fmt: str | None, out: Path) -> str:
    """The format asked for, else the one named by OUT's suffix."""
    if fmt:
        chosen = fmt.strip().lower().lstrip(".")
        chosen = {"markdown": "md", "htm": "html"}.get(chosen, chosen)
        if chosen not in FORMATS:
            raise InvalidInput(
                _(
                    "unknown format {format!r}: choose one of {choices}",
                    format=fmt,
                    choices=", ".join(FORMATS),
                ),
                code="unknown_format",
            )
        return chosen
    inferred = _SUFFIXES.get(out.suffix.lower())
    if inferred is None:
        raise InvalidInput(
            _(
                "cannot tell the format from the file name {path}: give --format {choices}",
                path=str(out),
                choices="|".join(FORMATS),
            ),
            code="unknown_format",
        )
    return inferred


def timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            _("unknown timezone {value!r}: use a name such as Asia/Shanghai", value=name),
            code="unknown_timezone",
        ) from None


def campaign_start(text: str, zone: ZoneInfo) -> datetime:
    """D0 00:00 in ``zone`` for a date (``2026-12-01``) or a date and time (``2026-12-01 09:00``).

    Time nodes count from the start *day* (``D0 20:00`` is 20:00 on that day), so a time of day given
    with the date does not move D0; a time with a UTC offset is first converted into ``zone``.
    """
    value = text.strip().replace("/", "-")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            _(
                "invalid start {value!r}: write a date such as 2026-12-01 or a date and time such as "
                '"2026-12-01 09:00"',
                value=text,
            ),
            code="invalid_start",
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(zone)
    return datetime.combine(parsed.date(), time(0), tzinfo=zone)


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder: never a half-written file."""
    target = path.expanduser()
    if target.is_dir():
        raise InvalidInput(
            _("{path} is a folder: give a file name for the output", path=str(path)), code="output_is_folder"
        )
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise SopflowError(
            _("cannot write to {path}: {reason}", path=str(folder), reason=exc.strerror or exc),
            code="write_failed",
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temp, 0o644)  # mkstemp makes the file private; the SOP is for the team
        os.replace(temp, target)
    except BaseException as exc:  # an interrupt too: leave no temporary file behind
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise SopflowError(
                _("cannot write to {path}: {reason}", path=str(path), reason=exc.strerror or exc),
                code="write_failed",
            ) from None
        raise
    return target

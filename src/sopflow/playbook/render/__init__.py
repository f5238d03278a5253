"""Render a playbook as the team's SOP document: Markdown, HTML, an Excel workbook or an iCalendar file.

Every format lays out the same translated :class:`~sopflow.playbook.render.blocks.SopDocument`, built by
:func:`~sopflow.playbook.render.document.build_document`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.playbook.model import Playbook
from sopflow.playbook.render.document import build_document
from sopflow.playbook.render.output import FORMATS, campaign_start, output_format, timezone, write_atomic

__all__ = [
    "FORMATS",
    "build_document",
    "campaign_start",
    "output_format",
    "render_sop",
    "timezone",
    "write_atomic",
    "write_sop",
]


def render_sop(*, playbook: Playbook, fmt: str, start: datetime | None = None) -> bytes:
    """The SOP in ``fmt`` (one of :data:`FORMATS`); ``start`` is D0 00:00 as an aware datetime."""
    if fmt == "ics" and start is None:
        raise InvalidInput(
            _("a calendar needs the campaign's start date: add --start YYYY-MM-DD"), code="start_required"
        )
    doc = build_document(playbook=playbook, start=start)
    if fmt == "md":
        from sopflow.playbook.render.markdown import render_markdown

        return render_markdown(doc).encode("utf-8")
    if fmt == "html":
        from sopflow.playbook.render.html import render_html

        return render_html(doc).encode("utf-8")
    if fmt == "xlsx":
        from sopflow.playbook.render.xlsx import render_xlsx

        return render_xlsx(doc)
    if fmt == "ics":
        from sopflow.playbook.render.ics import render_ics

        return render_ics(doc)
    raise InvalidInput(
        _("unknown format {format!r}: choose one of {choices}", format=fmt, choices=", ".join(FORMATS)),
        code="unknown_format",
    )


def write_sop(*, playbook: Playbook, fmt: str, out: Path, start: datetime | None = None) -> Path:
    """Render and write atomically; returns the path written."""
    return write_atomic(out, render_sop(playbook=playbook, fmt=fmt, start=start))

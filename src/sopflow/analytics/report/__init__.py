"""``sopflow report``: one self-contained HTML page with every model's numbers for a playbook.

Three steps, kept apart: :func:`collect_report` runs the models and returns plain data (``collect``),
:func:`build_page` turns it into what the page shows (``view``), :func:`render_page` writes the HTML
(``html``, a Jinja2 template with inline CSS and SVG).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sopflow.analytics.frame import Engine
from sopflow.analytics.report.collect import SECTIONS, collect_report
from sopflow.analytics.report.html import render_page
from sopflow.analytics.report.view import build_page
from sopflow.analytics.timerange import TimeRange
from sopflow.playbook.model import Playbook

__all__ = ["SECTIONS", "build_page", "collect_report", "render_page", "report_html", "write_report"]


def report_html(report: dict[str, Any]) -> str:
    """The page for data from :func:`collect_report`, in the current language."""
    return render_page(build_page(report))


def write_report(
    *,
    engine: Engine,
    playbook: Playbook,
    time_range: TimeRange,
    out: Path,
    return_event: str | None = None,
    now: datetime | None = None,
    campaign: Any = None,
) -> tuple[Path, dict[str, Any]]:
    """Collect, render and write the report atomically; returns the file and the collected data."""
    from sopflow.playbook.render.output import write_atomic

    report = collect_report(
        engine=engine,
        playbook=playbook,
        time_range=time_range,
        return_event=return_event,
        now=now,
        campaign=campaign,
    )
    path = write_atomic(out, report_html(report).encode("utf-8"))
    return path, report

"""The report as one self-contained HTML page: Jinja2 template and CSS in ``assets/``, inline SVG charts,
no scripts and no external URL; every value autoescaped (names and ids are user text, never markup)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sopflow.analytics.report.view.blocks import Page

ASSETS = Path(__file__).parent / "assets"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(ASSETS),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["px"] = lambda value: f"{value:.1f}"
    return env


def render_page(page: Page) -> str:
    return _environment().get_template("report.html.j2").render(page=page)

"""The SOP as one self-contained HTML page (Jinja2 template in ``assets/``, every value autoescaped)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sopflow.playbook.render.blocks import (
    Block,
    Bullets,
    Checklist,
    Fields,
    Gantt,
    Paragraph,
    ScriptText,
    SopDocument,
    Table,
)
from sopflow.playbook.render.gantt import SvgChart, svg_layout

ASSETS = Path(__file__).parent / "assets"
_KINDS: dict[type, str] = {
    Paragraph: "paragraph",
    Fields: "fields",
    Bullets: "bullets",
    Checklist: "checklist",
    Table: "table",
    ScriptText: "script",
    Gantt: "gantt",
}


def _kind(block: Block) -> str:
    return _KINDS[type(block)]


def _svg(gantt: Gantt) -> SvgChart:
    return svg_layout(gantt)


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(ASSETS),
        autoescape=True,  # every playbook value is user text: never markup
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["kind"] = _kind
    env.filters["svg"] = _svg
    return env


def render_html(doc: SopDocument) -> str:
    return _environment().get_template("sop.html.j2").render(doc=doc)

"""The SOP as GitHub-flavoured Markdown: tables, task lists, fenced scripts and a Mermaid Gantt block."""

from __future__ import annotations

import re

from sopflow.playbook.render.blocks import (
    Block,
    Bullets,
    Checklist,
    Fields,
    Gantt,
    Paragraph,
    ScriptText,
    Section,
    SopDocument,
    Table,
)

# Characters that Markdown or the HTML inside it would read as markup, escaped so user text shows as written.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&])")


def inline(text: str) -> str:
    """User text safe for one Markdown line or table cell; line breaks become <br>."""
    escaped = _SPECIAL.sub(r"\\\1", text)
    return "<br>".join(line.strip() for line in escaped.splitlines())


def fenced(text: str, info: str = "text") -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def _table(table: Table) -> str:
    lines = [
        "| " + " | ".join(inline(h) for h in table.headers) + " |",
        "|" + "|".join(" --- " for _h in table.headers) + "|",
    ]
    lines += ["| " + " | ".join(inline(cell) for cell in row) + " |" for row in table.rows]
    return "\n".join(lines)


def _checklist(block: Checklist) -> str:
    lines = []
    for item in block.items:
        text = inline(item.text) + (f" — {inline(item.detail)}" if item.detail else "")
        lines.append(f"- [{'x' if item.done else ' '}] {text}")
    return "\n".join(lines)


def _script(block: ScriptText) -> str:
    parts = [f"**{inline(block.title)}**", fenced(block.text)]
    for name, text in block.variants:
        parts += [f"*{inline(name)}*", fenced(text)]
    return "\n\n".join(parts)


def block(item: Block) -> str:
    if isinstance(item, Paragraph):
        return inline(item.text)
    if isinstance(item, Fields):
        return "\n".join(f"- **{inline(k)}**: {inline(v)}" for k, v in item.items)
    if isinstance(item, Bullets):
        return "\n".join(f"- {inline(text)}" for text in item.items)
    if isinstance(item, Checklist):
        return _checklist(item)
    if isinstance(item, Table):
        return _table(item)
    if isinstance(item, ScriptText):
        return _script(item)
    if isinstance(item, Gantt):
        return fenced(item.mermaid, "mermaid")
    raise TypeError(type(item).__name__)


def _section(section: Section, level: int) -> list[str]:
    out = [f"{'#' * level} {inline(section.title)}"]
    out += [block(b) for b in section.blocks]
    for sub in section.subsections:
        out += _section(sub, level + 1)
    return out


def render_markdown(doc: SopDocument) -> str:
    out = [f"# {inline(doc.title)}", inline(doc.subtitle), "> " + inline(doc.start_note)]
    for part in doc.parts:
        out.append(f"## {inline(part.title)}")
        for section in part.sections:
            out += _section(section, 3)
    out.append(f"---\n\n*{inline(doc.labels['generated'])}*")
    return "\n\n".join(out) + "\n"

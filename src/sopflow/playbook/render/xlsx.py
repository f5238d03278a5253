"""The SOP as an Excel workbook (operators live in Excel/WPS): plan, timeline, scripts, checklist, materials."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from sopflow.playbook.render import words
from sopflow.playbook.render.blocks import (
    Block,
    Bullets,
    Checklist,
    Fields,
    Gantt,
    Paragraph,
    ScriptText,
    SopDocument,
    StepView,
    Table,
)

Cell = str | int | float | datetime | None
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
MAX_WIDTH = 60
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
WRAP = Alignment(wrap_text=True, vertical="top")


def _display_width(text: str) -> int:
    return max(
        (
            sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
            for line in text.splitlines()
        ),
        default=0,
    )


def _put(ws: Worksheet, row: int, col: int, value: Cell, *, font: Font | None = None) -> None:
    if isinstance(value, datetime):
        # Excel has no time zones: the wall-clock time in the campaign's zone, named in the header.
        cell = ws.cell(row=row, column=col, value=value.replace(tzinfo=None))
        cell.number_format = DATETIME_FORMAT
    else:
        text = ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value
        cell = ws.cell(row=row, column=col, value=text)
        if isinstance(text, str) and text.startswith("="):
            cell.data_type = "s"  # user text, never a formula
    cell.alignment = WRAP
    if font is not None:
        cell.font = font


def _fit_columns(ws: Worksheet, widths: dict[int, int]) -> None:
    for col, width in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = min(max(width + 2, 8), MAX_WIDTH)


def _table_sheet(ws: Worksheet, headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> None:
    """A header row (bold, frozen, filterable) and the rows, with column widths from the content."""
    widths: dict[int, int] = {}
    for row_index, values in enumerate([headers, *rows], start=1):
        for col, value in enumerate(values, start=1):
            _put(ws, row_index, col, value, font=BOLD if row_index == 1 else None)
            shown = len(DATETIME_FORMAT) if isinstance(value, datetime) else _display_width(str(value or ""))
            widths[col] = max(widths.get(col, 0), shown)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    _fit_columns(ws, widths)


def _block_rows(block: Block, labels: dict[str, str]) -> list[tuple[list[str], bool]]:
    """Rows for one block of the plan sheet, each with whether it is a header row."""
    if isinstance(block, Fields):
        return [([key, value], False) for key, value in block.items]
    if isinstance(block, Table):
        return [(list(block.headers), True)] + [(list(row), False) for row in block.rows]
    if isinstance(block, Checklist):
        rows: list[tuple[list[str], bool]] = [([labels["item"], labels["done"], labels["notes"]], True)]
        return rows + [
            ([i.text, labels["yes"] if i.done else labels["no"], i.detail], False) for i in block.items
        ]
    if isinstance(block, Bullets):
        return [([f"• {item}"], False) for item in block.items]
    if isinstance(block, Paragraph):
        return [([block.text], False)]
    if isinstance(block, ScriptText | Gantt):
        return []
    raise TypeError(type(block).__name__)


def _plan_sheet(ws: Worksheet, doc: SopDocument) -> None:
    labels = dict(doc.labels)
    _put(ws, 1, 1, doc.title, font=TITLE)
    _put(ws, 2, 1, doc.subtitle)
    _put(ws, 3, 1, doc.start_note)
    row, widths = 5, {1: 24}
    for section in doc.framework.sections:
        _put(ws, row, 1, section.title, font=TITLE)
        row += 1
        for block in section.blocks:
            for values, header in _block_rows(block, labels):
                for col, value in enumerate(values, start=1):
                    _put(ws, row, col, value, font=BOLD if header else None)
                    widths[col] = max(widths.get(col, 0), _display_width(str(value or "")))
                row += 1
        row += 1
    ws.freeze_panes = "A2"
    _fit_columns(ws, widths)


def _timeline_rows(doc: SopDocument) -> tuple[list[str], list[list[Cell]]]:
    lab, dated = doc.labels, doc.start is not None
    zone = f" ({doc.timezone})"
    headers = [
        lab["phase"],
        lab["node"],
        *([lab["time"] + zone] if dated else []),
        lab["step_id"],
        lab["step"],
        lab["owner"],
        lab["people"],
        lab["channel"],
        lab["action"],
        lab["stage"],
        lab["deadline"],
        *([lab["due"] + zone] if dated else []),
        lab["script"],
        lab["materials"],
        lab["checklist"],
        lab["audience"],
        lab["exit_when"],
        lab["notes"],
    ]
    rows: list[list[Cell]] = []
    for s in doc.steps:
        rows.append(
            [
                s.phase,
                s.node,
                *([s.starts_at] if dated else []),
                s.id,
                s.name,
                s.owner,
                words.join(s.people),
                s.channel,
                s.action,
                s.stage,
                s.deadline_node,
                *([s.due_at] if dated else []),
                s.script_name,
                "\n".join(m.text() for m in s.materials),
                "\n".join(s.checklist),
                s.audience,
                s.exit_when,
                s.notes,
            ]
        )
    return headers, rows


def _when(step: StepView, dated: bool) -> list[Cell]:
    return [step.node, step.starts_at] if dated else [step.node]


def _scripts_rows(doc: SopDocument) -> tuple[list[str], list[list[Cell]]]:
    lab, dated = doc.labels, doc.start is not None
    headers = [
        lab["node"],
        *([lab["time"] + f" ({doc.timezone})"] if dated else []),
        lab["step"],
        lab["owner"],
        lab["channel"],
        lab["script"],
        lab["variant"],
        lab["script_text"],
    ]
    rows: list[list[Cell]] = []
    for s in doc.steps:
        if not s.script_text:
            continue
        for variant, text in (("", s.script_text), *s.variants):
            rows.append([*_when(s, dated), s.name, s.owner_text, s.channel, s.script_name, variant, text])
    return headers, rows


def _checklist_rows(doc: SopDocument) -> tuple[list[str], list[list[Cell]]]:
    lab, dated = doc.labels, doc.start is not None
    headers = [
        lab["node"],
        *([lab["time"] + f" ({doc.timezone})"] if dated else []),
        lab["step"],
        lab["owner"],
        lab["item"],
        lab["done"],
    ]
    rows: list[list[Cell]] = [
        [*_when(s, dated), s.name, s.owner_text, item, lab["no"]] for s in doc.steps for item in s.checklist
    ]
    return headers, rows


def _materials_table(doc: SopDocument) -> Table | None:
    section = next((s for s in doc.parts[1].sections if s.anchor == "materials"), None)
    return next((b for b in section.blocks if isinstance(b, Table)), None) if section else None


def render_xlsx(doc: SopDocument) -> bytes:
    wb = Workbook()
    plan = wb.active
    assert plan is not None
    plan.title = doc.labels["sheet_framework"]
    _plan_sheet(plan, doc)
    _table_sheet(wb.create_sheet(doc.labels["sheet_timeline"]), *_timeline_rows(doc))
    _table_sheet(wb.create_sheet(doc.labels["sheet_scripts"]), *_scripts_rows(doc))
    checklist = wb.create_sheet(doc.labels["sheet_checklist"])
    headers, rows = _checklist_rows(doc)
    _table_sheet(checklist, headers, rows)
    if rows:
        done = get_column_letter(len(headers))
        choice = DataValidation(
            type="list", formula1=f'"{doc.labels["yes"]},{doc.labels["no"]}"', allow_blank=True
        )
        checklist.add_data_validation(choice)
        choice.add(f"{done}2:{done}{len(rows) + 1}")
    materials = _materials_table(doc)
    if materials is not None:
        _table_sheet(wb.create_sheet(doc.labels["sheet_materials"]), materials.headers, materials.rows)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()

"""Chart geometry for inline SVG, drawn by the template without JavaScript: bars, a heatmap, a tree.

Only coordinates and the text to show live here; colours are CSS classes, and every text is escaped by
the template.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Describe = Callable[[dict[str, Any]], tuple[str, str, str]]

LABEL_WIDTH = 220
BAR_AREA = 440
VALUE_WIDTH = 240
ROW_HEIGHT = 40
BAR_HEIGHT = 18
TOP = 8


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns (CJK characters count two), with an ellipsis when cut."""
    if display_width(text) <= width:
        return text
    out, used = "", 0
    for ch in text:
        w = display_width(ch)
        if used + w > width - 1:
            break
        out, used = out + ch, used + w
    return out + "…"


@dataclass(frozen=True)
class BarItem:
    label: str
    value: float | None  # None: nothing to draw (shown as "—")
    text: str  # beside the bar
    note: str = ""  # the line under the bar (rate and its denominator)
    plan: float | None = None  # a marker at the planned value
    plan_text: str = ""
    tone: str = "t0"


@dataclass(frozen=True)
class BarRow:
    y: float
    label: str
    tooltip: str
    width: float
    text: str
    text_x: float
    note: str
    marker_x: float | None
    plan_text: str
    tone: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    label_width: int
    bar_height: int
    rows: tuple[BarRow, ...]


def bar_chart(items: Sequence[BarItem]) -> BarChart:
    """Horizontal bars on one scale (the largest value or plan fills the area); negative values draw nothing."""
    scale_max = max([abs(v) for i in items for v in (i.value, i.plan) if v is not None] or [0.0])
    unit = BAR_AREA / scale_max if scale_max else 0.0
    rows = []
    for n, item in enumerate(items):
        width = max(0.0, (item.value or 0.0) * unit)
        if item.value and width < 2:
            width = 2.0  # a small but non-zero value stays visible
        marker = LABEL_WIDTH + item.plan * unit if item.plan is not None and item.plan >= 0 else None
        rows.append(
            BarRow(
                y=TOP + n * ROW_HEIGHT,
                label=shorten(item.label, 28),
                tooltip=item.label,
                width=width,
                text=item.text,
                text_x=LABEL_WIDTH + max(width, marker - LABEL_WIDTH if marker else 0.0) + 8,
                note=item.note,
                marker_x=marker,
                plan_text=item.plan_text,
                tone=item.tone,
            )
        )
    return BarChart(
        width=LABEL_WIDTH + BAR_AREA + VALUE_WIDTH,
        height=TOP + len(items) * ROW_HEIGHT + 4,
        label_width=LABEL_WIDTH,
        bar_height=BAR_HEIGHT,
        rows=tuple(rows),
    )


HEAT_LABEL = 170
HEAT_CELL_W = 56
HEAT_CELL_H = 24
HEAT_TOP = 26


@dataclass(frozen=True)
class HeatCell:
    x: float
    text: str
    tooltip: str
    level: int | None  # 0…10 colour step; None: the period is not complete yet


@dataclass(frozen=True)
class HeatRow:
    y: float
    label: str
    cells: tuple[HeatCell, ...]
    strong: bool = False


@dataclass(frozen=True)
class Heatmap:
    width: int
    height: int
    cell_width: int
    cell_height: int
    label_width: int
    columns: tuple[tuple[float, str], ...]  # (x of the column centre, header)
    rows: tuple[HeatRow, ...]


@dataclass(frozen=True)
class HeatInput:
    label: str
    cells: Sequence[tuple[float | None, str, str]]  # (rate, text, tooltip); rate None: not complete
    strong: bool = False


def heatmap(headers: Sequence[str], rows: Sequence[HeatInput]) -> Heatmap:
    out = []
    for r, row in enumerate(rows):
        cells = tuple(
            HeatCell(
                x=HEAT_LABEL + c * HEAT_CELL_W,
                text=text,
                tooltip=tooltip,
                level=None if rate is None else max(0, min(10, round(rate * 10))),
            )
            for c, (rate, text, tooltip) in enumerate(row.cells)
        )
        out.append(
            HeatRow(
                y=HEAT_TOP + r * HEAT_CELL_H, label=shorten(row.label, 24), cells=cells, strong=row.strong
            )
        )
    columns = tuple((HEAT_LABEL + c * HEAT_CELL_W + HEAT_CELL_W / 2, h) for c, h in enumerate(headers))
    return Heatmap(
        width=HEAT_LABEL + len(headers) * HEAT_CELL_W + 8,
        height=HEAT_TOP + len(rows) * HEAT_CELL_H + 6,
        cell_width=HEAT_CELL_W,
        cell_height=HEAT_CELL_H,
        label_width=HEAT_LABEL,
        columns=columns,
        rows=tuple(out),
    )


TREE_COLUMN = 200
TREE_NODE_W = 170
TREE_NODE_H = 34
TREE_ROW = 42
TREE_TOP = 8


@dataclass(frozen=True)
class TreeBox:
    x: float
    y: float
    title: str
    detail: str
    tooltip: str
    more: bool  # a "+N more" stub rather than a person


@dataclass(frozen=True)
class TreeChart:
    width: int
    height: int
    node_width: int
    node_height: int
    boxes: tuple[TreeBox, ...]
    edges: tuple[tuple[float, float, float, float], ...]


@dataclass
class _Layout:
    describe: Describe  # node -> (title, detail, tooltip)
    more_text: Callable[[int], str]  # hidden invitees -> the stub's text
    boxes: list[TreeBox] = field(default_factory=list)
    edges: list[tuple[float, float, float, float]] = field(default_factory=list)
    next_row: int = 0
    depth: int = 0


def tree_chart(
    roots: Sequence[dict[str, Any]], *, describe: Describe, more_text: Callable[[int], str]
) -> TreeChart:
    """Left to right: a column per level, leaves on consecutive rows, each inviter centred on its invitees.

    ``describe(node) -> (title, detail, tooltip)``; ``more_text(n)`` labels the stub for hidden invitees.
    """
    layout = _Layout(describe, more_text)
    for root in roots:
        _place(layout, root, 0)
    rows = max(layout.next_row, 1)
    return TreeChart(
        width=16 + layout.depth * TREE_COLUMN + TREE_NODE_W,
        height=TREE_TOP + rows * TREE_ROW,
        node_width=TREE_NODE_W,
        node_height=TREE_NODE_H,
        boxes=tuple(layout.boxes),
        edges=tuple(layout.edges),
    )


def _place(layout: _Layout, node: dict[str, Any], level: int) -> float:
    """Place ``node`` and its shown descendants; returns the node's y (top of its box)."""
    layout.depth = max(layout.depth, level)
    x = 8 + level * TREE_COLUMN
    child_ys = [_place(layout, child, level + 1) for child in node["children"]]
    if node["more"]:
        y_more = _row(layout)
        layout.depth = max(layout.depth, level + 1)
        text = layout.more_text(node["more"])
        layout.boxes.append(TreeBox(x + TREE_COLUMN, y_more, text, "", text, more=True))
        child_ys.append(y_more)
    y = sum(child_ys) / len(child_ys) if child_ys else _row(layout)
    title, detail, tooltip = layout.describe(node)
    layout.boxes.append(TreeBox(x, y, title, detail, tooltip, more=False))
    for child_y in child_ys:
        mid = TREE_NODE_H / 2
        layout.edges.append((x + TREE_NODE_W, y + mid, x + TREE_COLUMN, child_y + mid))
    return y


def _row(layout: _Layout) -> float:
    y = TREE_TOP + layout.next_row * TREE_ROW
    layout.next_row += 1
    return float(y)

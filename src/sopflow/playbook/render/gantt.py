"""The timeline as a Gantt chart: Mermaid source, and an SVG layout that shows offline without JavaScript."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sopflow.playbook.render.blocks import Gantt, GanttGroup
from sopflow.playbook.timenode import DAY

# Mermaid needs calendar dates; without a start date the chart is drawn on this Monday as D0 and the
# document says the dates are only nominal.
NOMINAL_D0 = datetime(2000, 1, 3)
_MERMAID_UNSAFE = re.compile(r"[:;#`\r\n]|%%")


def _mermaid_text(text: str) -> str:
    # ':' separates a task's name from its times; '#', ';', '%%' start entities and comments; '`' would
    # close the Markdown fence around the chart.
    cleaned = _MERMAID_UNSAFE.sub(lambda m: "：" if m.group(0) == ":" else " ", text)
    return " ".join(cleaned.split()) or "-"


def mermaid_source(*, title: str, groups: tuple[GanttGroup, ...], start: datetime | None) -> str:
    base = start.replace(tzinfo=None) if start is not None else NOMINAL_D0
    lines = [
        "gantt",
        f"    title {_mermaid_text(title)}",
        "    dateFormat YYYY-MM-DD HH:mm",
        "    axisFormat %m-%d",
    ]
    if start is None:
        lines.append("    todayMarker off")
    for group in groups:
        lines.append(f"    section {_mermaid_text(group.title)}")
        for bar in group.bars:
            begin = base + timedelta(seconds=bar.start)
            end = base + timedelta(seconds=bar.end)
            lines.append(f"    {_mermaid_text(bar.label)} :{begin:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SvgBar:
    x: float
    y: float
    width: float
    label: str  # shortened to fit the label column
    tooltip: str
    tone: int  # the phase's colour


@dataclass(frozen=True)
class SvgTick:
    x: float
    day: str  # "D+1"; "" for an unlabelled grid line
    date: str  # "12-02", "" without a start date


@dataclass(frozen=True)
class SvgHeading:
    y: float
    text: str


@dataclass(frozen=True)
class SvgChart:
    width: int
    height: int
    label_width: int
    chart_width: int
    row_height: int
    top: int
    bar_height: int
    bars: tuple[SvgBar, ...]
    ticks: tuple[SvgTick, ...]
    headings: tuple[SvgHeading, ...]


LABEL_WIDTH = 260
CHART_WIDTH = 700
ROW_HEIGHT = 24
BAR_HEIGHT = 14
TOP = 40
MIN_BAR = 3.0


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns (CJK characters count two), with an ellipsis when cut."""
    if _display_width(text) <= width:
        return text
    out, used = "", 0
    for ch in text:
        w = _display_width(ch)
        if used + w > width - 1:
            break
        out, used = out + ch, used + w
    return out + "…"


def _tick_step(days: int) -> int:
    if days <= 16:
        return 1
    return 7 if days <= 120 else 30


def _day_label(day: int) -> str:
    return f"D{'+' if day > 0 else ''}{day}"


def svg_layout(gantt: Gantt) -> SvgChart:
    """Coordinates for drawing ``gantt`` as SVG: one row per bar, a heading row per group, a tick per day."""
    bars = [bar for group in gantt.groups for bar in group.bars]
    lo = math.floor(min((b.start for b in bars), default=0) / DAY) * DAY
    hi = max(math.ceil(max((b.end for b in bars), default=DAY) / DAY) * DAY, lo + DAY)
    scale = CHART_WIDTH / (hi - lo)
    step = _tick_step((hi - lo) // DAY)
    ticks = []
    first = lo // DAY
    for day in range(first, hi // DAY + 1):
        x = LABEL_WIDTH + (day * DAY - lo) * scale
        if (day - first) % step:
            ticks.append(SvgTick(x=x, day="", date=""))  # a grid line for each day, a label every `step` days
            continue
        date = (gantt.start + timedelta(days=day)).strftime("%m-%d") if gantt.start is not None else ""
        ticks.append(SvgTick(x=x, day=_day_label(day), date=date))
    out_bars, headings, y = [], [], float(TOP)
    for tone, group in enumerate(gantt.groups):
        headings.append(SvgHeading(y=y, text=shorten(group.title, 40)))
        y += ROW_HEIGHT
        for bar in group.bars:
            width = max((bar.end - bar.start) * scale, MIN_BAR)
            out_bars.append(
                SvgBar(
                    x=LABEL_WIDTH + (bar.start - lo) * scale,
                    y=y,
                    width=width,
                    label=shorten(f"{bar.node} {bar.label}", 36),
                    tooltip=f"{bar.node} {bar.label}",
                    tone=tone % 6,
                )
            )
            y += ROW_HEIGHT
    return SvgChart(
        width=LABEL_WIDTH + CHART_WIDTH + 20,
        height=int(y) + 10,
        label_width=LABEL_WIDTH,
        chart_width=CHART_WIDTH,
        row_height=ROW_HEIGHT,
        top=TOP,
        bar_height=BAR_HEIGHT,
        bars=tuple(out_bars),
        ticks=tuple(ticks),
        headings=tuple(headings),
    )

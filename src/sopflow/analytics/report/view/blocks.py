"""The pieces a report section is made of; the template draws each kind. Every text is plain (escaped there)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sopflow.analytics.report.charts import BarChart, Heatmap, TreeChart
from sopflow.analytics.report.format import DASH, moment
from sopflow.i18n import _


@dataclass(frozen=True)
class Kpi:
    label: str
    value: str
    basis: str = ""  # how it was computed: "988 ÷ 2,988", "plan 0.35"


@dataclass(frozen=True)
class Kpis:
    items: tuple[Kpi, ...]
    kind: str = "kpis"


@dataclass(frozen=True)
class Bars:
    chart: BarChart
    caption: str
    legend: str = ""
    kind: str = "bars"


@dataclass(frozen=True)
class HeatBlock:
    chart: Heatmap
    caption: str
    kind: str = "heatmap"


@dataclass(frozen=True)
class TreeBlock:
    chart: TreeChart
    caption: str
    kind: str = "tree"


@dataclass(frozen=True)
class Cell:
    text: str
    sub: str = ""  # a second, smaller line: the denominator or the plan
    cls: str = ""  # "num", "status-met"…


@dataclass(frozen=True)
class TableBlock:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    kind: str = "table"


@dataclass(frozen=True)
class Notes:
    title: str
    items: tuple[str, ...]
    kind: str = "notes"


Block = Kpis | Bars | HeatBlock | TreeBlock | TableBlock | Notes


@dataclass(frozen=True)
class SectionView:
    anchor: str
    title: str
    scope: str  # what is counted, over which range, divided by what
    blocks: tuple[Block, ...] = ()
    problem: str | None = None  # set when the section is not available


@dataclass(frozen=True)
class Page:
    lang: str
    title: str
    subtitle: str
    scope: str
    sections: tuple[SectionView, ...]
    footer: str
    labels: dict[str, str] = field(default_factory=dict)


def num(text: str, sub: str = "") -> Cell:
    return Cell(text, sub, "num")


def range_text(span: dict[str, Any] | None, data: dict[str, Any] | None) -> str:
    """The range a section counts over, with the data's own first and last event when it is open."""
    span = span or {}
    if not span.get("from") and not span.get("to") and not data:
        return _("all events (none yet), {tz}", tz=span.get("tz") or DASH)
    first = (data or {}).get("first")
    last = (data or {}).get("last")
    start = moment(span.get("from")) if span.get("from") else _("first event ({at})", at=moment(first))
    end = (
        _("{at} (excluded)", at=moment(span["to"]))
        if span.get("to")
        else _("last event ({at})", at=moment(last))
    )
    return _("{start} to {end}, {tz}", start=start, end=end, tz=span.get("tz") or DASH)

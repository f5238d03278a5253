"""The retention table for people: one row per cohort, each period's rate on a heatmap colour."""

from __future__ import annotations

from datetime import tzinfo

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from sopflow.analytics.retention.aggregate import NONE, OTHER, RetentionResult, RetentionTable
from sopflow.analytics.timerange import from_micros
from sopflow.i18n import _

# From pale to deep blue: the higher the rate, the darker the cell.
_LOW = (239, 246, 255)
_HIGH = (8, 69, 148)


def heat_style(rate: float) -> str:
    share = min(max(rate, 0.0), 1.0)
    r, g, b = (round(lo + (hi - lo) * share) for lo, hi in zip(_LOW, _HIGH, strict=True))
    ink = "white" if share >= 0.5 else "black"
    return f"{ink} on rgb({r},{g},{b})"


def _cell(count: int | None, rate: float | None) -> Text:
    if count is None or rate is None:
        return Text("—", style="dim")
    # percent without the sign (the title says so): many periods still fit an 80-column terminal
    text = "100" if rate >= 1 else f"{rate * 100:.1f}"
    return Text(text, style=heat_style(rate))


def print_retention(console: Console, result: RetentionResult) -> None:
    spec = result.spec
    console.print(
        _(
            "Retention: {start} → {back}; period: {period}; {mode}; range: {range}",
            start=spec.start_event,
            back=spec.return_event,
            period=_("day") if spec.period == "day" else _("week (from Monday)"),
            mode=_("returned in period k") if spec.mode == "on" else _("returned in period k or later"),
            range=_range_text(result),
        )
    )
    console.print(
        _table(
            result.table,
            title=_("Cohorts ({n} persons), % of each cohort", n=f"{result.table.size:,}"),
            spec_periods=spec.periods,
        )
    )
    for group in result.breakdown:
        value = _("(other)") if group.value == OTHER else _("(none)") if group.value == NONE else group.value
        title = _(
            "{prop} = {value} ({n} persons), % of each cohort",
            prop=spec.by or "",
            value=value,
            n=f"{group.table.size:,}",
        )
        console.print(_table(group.table, title=title, spec_periods=spec.periods))
    console.print(
        _(
            "Period 0 is the cohort itself (100%); — marks a period not complete by the data's last event ({end}).",
            end="—" if result.data_end is None else _moment(result.data_end, result.spec.range.tz),
        )
    )


def _range_text(result: RetentionResult) -> str:
    span = result.spec.range
    if span.start is None and span.end is None:
        return _("all events ({tz})", tz=str(span.tz))
    return _(
        "from {start} to {end} ({tz})",
        start="…" if span.start is None else _moment(span.start, span.tz),
        end="…" if span.end is None else _moment(span.end, span.tz),
        tz=str(span.tz),
    )


def _moment(micros: int, tz: tzinfo) -> str:
    return from_micros(micros, tz).strftime("%Y-%m-%d %H:%M")


def _table(table: RetentionTable, *, title: str, spec_periods: int) -> Table:
    out = Table(title=title, box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    out.add_column(_("Cohort"), no_wrap=True, min_width=10)
    out.add_column(_("Persons"), justify="right")
    for k in range(spec_periods + 1):
        out.add_column(str(k), justify="right")
    for cohort in table.cohorts:
        out.add_row(
            cohort.label,
            f"{cohort.size:,}",
            *(_cell(c, r) for c, r in zip(cohort.counts, cohort.rates, strict=True)),
        )
    out.add_section()
    out.add_row(
        _("Weighted"),
        f"{table.size:,}",
        *(_cell(t.returned if t.persons else None, t.rate) for t in table.overall),
    )
    return out

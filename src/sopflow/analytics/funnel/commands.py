"""``sopflow funnel``: persons reaching each step, with breakdown, trend and the drop-off audience.

``--json`` prints :meth:`FunnelResult.as_json` (documented in docs/funnels.md).
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import Any

import typer

from sopflow.analytics import options
from sopflow.analytics.funnel.aggregate import NONE_VALUE, OTHER, FunnelResult, StepResult
from sopflow.analytics.funnel.spec import (
    ENTRIES,
    ORDERS,
    FunnelSpec,
    parse_exclusions,
    parse_steps,
    parse_where,
)
from sopflow.analytics.timerange import parse_range, parse_window
from sopflow.errors import InvalidInput
from sopflow.i18n import _


def funnel_command(
    steps: str = typer.Option(
        ..., "--steps", help=_("Event names of the steps, in order, separated by commas")
    ),
    where: list[str] = typer.Option(
        [], "--where", help=_("Condition on a step's events: STEP:property OP value (repeatable)")
    ),
    window: str = typer.Option(
        "7d", "--window", help=_("Time allowed from entry to the last step: 30m, 12h, 7d…")
    ),
    order: str = typer.Option("ordered", "--order", help=_("ordered, strict or unordered")),
    entry: str = typer.Option(
        "any", "--entry", help=_("any: best attempt counts; first: only the first entry")
    ),
    exclude: list[str] = typer.Option(
        [], "--exclude", help=_("EVENT:i-j: drop attempts with EVENT between steps i and j (repeatable)")
    ),
    by: str | None = typer.Option(None, "--by", help=_("Break down by a property of the entry event")),
    top: int = typer.Option(10, "--top", help=_("Breakdown values shown; the rest are grouped as other")),
    trend: str | None = typer.Option(None, "--trend", help=_("Conversion by entry day or week: day|week")),
    histogram: bool = typer.Option(False, "--histogram", help=_("Add time-to-convert histograms")),
    dropped_at: int | None = typer.Option(
        None, "--dropped-at", help=_("Write the persons who reached step N-1 but not N (with -o FILE.csv)")
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help=_("CSV file for --dropped-at")),
    start: str | None = options.from_option(),
    end: str | None = options.to_option(),
    tz: str = options.tz_option(),
    events: Path | None = options.events_option(),
    engine: str = options.engine_option(),
    workspace: Path | None = options.workspace_option(),
    as_json: bool = options.json_option(),
) -> None:
    from sopflow.analytics.engines import open_engine
    from sopflow.analytics.funnel import run_funnel
    from sopflow.workspace import Workspace

    zone = options.parse_tz(tz)
    names = parse_steps(steps)
    if order not in ORDERS:
        raise InvalidInput(_("--order: choose one of {choices}", choices=", ".join(ORDERS)))
    if entry not in ENTRIES:
        raise InvalidInput(_("--entry: choose one of {choices}", choices=", ".join(ENTRIES)))
    if trend not in (None, "day", "week"):
        raise InvalidInput(_("--trend: choose day or week"))
    if dropped_at is not None and output is None:
        raise InvalidInput(_("--dropped-at needs -o FILE.csv to write the persons to"))
    spec = FunnelSpec(
        steps=names,
        window_us=parse_window(window),
        order=order,
        entry=entry,
        where=parse_where(where, names),
        exclusions=parse_exclusions(exclude, names),
        by=by,
        top=top,
        range=parse_range(start, end, tz=zone),
        trend=trend,  # type: ignore[arg-type]
        histogram=histogram,
        dropped_at=dropped_at,
    )
    chosen = open_engine(engine, workspace=Workspace.resolve(workspace), events_path=events, tz=zone)
    result = run_funnel(chosen, spec)
    if output is not None and result.dropped is not None:
        _write_dropped(output, result.dropped)
    if as_json:
        data = result.as_json()
        if result.dropped is not None:
            data["dropped"] = {"step": dropped_at, "persons": len(result.dropped), "output": str(output)}
        options.echo_json(data)
        return
    _print(result, output)


def _write_dropped(path: Path, rows: list[dict[str, Any]]) -> None:
    """All rows or nothing: a temporary file beside the target, renamed into place."""
    path = path.expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.DictWriter(handle, fieldnames=["person_id", "last_step", "last_step_at", "channel"])
            writer.writeheader()
            writer.writerows(rows)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _print(result: FunnelResult, output: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    spec = result.spec
    window = _duration(spec.window_us / 1_000_000)
    title = _(
        "Funnel ({order}, window {window}, entry {entry})",
        order=_(spec.order),
        window=window,
        entry=_(spec.entry),
    )
    table = Table(title=title)
    for header in (
        _("Step"),
        _("Persons"),
        _("From previous"),
        _("From first"),
        _("Median time"),
        _("P90 time"),
    ):
        table.add_column(header, justify="right" if header != _("Step") else "left")
    for step in result.steps:
        table.add_row(
            f"{step.index}. {step.name}",
            f"{step.users:,}",
            _percent(step.rate_from_previous),
            _percent(step.rate_from_first),
            _duration(step.median_seconds_from_previous),
            _duration(step.p90_seconds_from_previous),
        )
    console.print(table)
    if result.steps:
        console.print(_denominator(result))
    if result.breakdown:
        console.print(_breakdown_table(result, _("By {prop}", prop=spec.by), result.breakdown))
    if result.trend:
        console.print(
            _breakdown_table(result, _("By entry {period}", period=_(spec.trend or "day")), result.trend)
        )
    if result.dropped is not None and output is not None:
        console.print(
            _(
                "{n} persons reached step {prev} but not step {step}: written to {path}",
                n=len(result.dropped),
                prev=(spec.dropped_at or 2) - 1,
                step=spec.dropped_at,
                path=output,
            )
        )


def _denominator(result: FunnelResult) -> str:
    spec = result.spec
    span = spec.range.as_json() if spec.range else {"from": None, "to": None}
    start = span["from"] or _("the first event")
    end = span["to"] or _("the last event")
    return _(
        "Rates are of persons who entered (step 1: {first:,} persons) from {start} to {end}; engine {engine}.",
        first=result.steps[0].users,
        start=start,
        end=end,
        engine=result.engine,
    )


def _breakdown_table(result: FunnelResult, title: str, groups: list[tuple[str, list[StepResult]]]) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column(_("Value"))
    for step in result.steps:
        table.add_column(f"{step.index}. {step.name}", justify="right")
    table.add_column(_("Conversion rate"), justify="right")
    for value, steps in groups:
        shown = {OTHER: _("(other)"), NONE_VALUE: _("(none)")}.get(value, value)
        table.add_row(shown, *[f"{s.users:,}" for s in steps], _percent(steps[-1].rate_from_first))
    return table


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return _("{n:.0f}s", n=seconds)
    if seconds < 3600:
        return _("{n:.1f}m", n=seconds / 60)
    if seconds < 86400:
        return _("{n:.1f}h", n=seconds / 3600)
    return _("{n:.1f}d", n=seconds / 86400)

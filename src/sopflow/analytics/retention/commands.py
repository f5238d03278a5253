"""``sopflow retention``: the cohort table of persons returning in period k after their start period."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from sopflow.analytics.options import (
    echo_json,
    engine_option,
    events_option,
    from_option,
    json_option,
    resolve_events_path,
    to_option,
    tz_option,
    workspace_option,
)
from sopflow.i18n import _


def retention_help() -> str:
    return _(
        "Retention: cohorts by the period of their first start event, and who returns in each later period."
    )


def retention_command(
    start_event: str = typer.Option(
        ..., "--start-event", help=_("Event that puts a person in a cohort (their first one in range)")
    ),
    return_event: str = typer.Option(..., "--return-event", help=_("Event that counts as coming back")),
    period: str = typer.Option("day", "--period", help=_("Period length: day or week (ISO, from Monday)")),
    periods: int = typer.Option(7, "--periods", help=_("Number of periods after the start period to show")),
    mode: str = typer.Option(
        "on", "--mode", help=_("on: returned in exactly period k; on_or_after: in period k or later")
    ),
    by: str | None = typer.Option(
        None, "--by", help=_("Break down by this property of the first start event")
    ),
    top: int = typer.Option(10, "--top", help=_("With --by: how many values to show; the rest are grouped")),
    workspace: Path | None = workspace_option(),
    events: Path | None = events_option(),
    engine: str = engine_option(),
    start: str | None = from_option(),
    end: str | None = to_option(),
    tz: str = tz_option(),
    as_json: bool = json_option(),
) -> None:
    from sopflow.analytics.engines import open_engine
    from sopflow.analytics.options import parse_tz as zone
    from sopflow.analytics.retention.aggregate import compute_retention
    from sopflow.analytics.retention.definition import RetentionSpec
    from sopflow.analytics.retention.render import print_retention
    from sopflow.analytics.timerange import parse_range
    from sopflow.workspace import Workspace

    spec = RetentionSpec.make(
        start_event=start_event,
        return_event=return_event,
        range=parse_range(start, end, tz=zone(tz)),
        period=period,
        periods=periods,
        mode=mode,
        by=by,
        top=top,
    )
    reader = open_engine(
        engine, workspace=Workspace.resolve(workspace), events_path=resolve_events_path(events)
    )
    result = compute_retention(reader, spec)
    if as_json:
        echo_json(result.as_json())
        return
    print_retention(Console(highlight=False, markup=False), result)

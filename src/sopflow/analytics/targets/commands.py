"""``sopflow targets``: every target of the playbook against the data, and the three biggest findings.

``--json`` prints :meth:`TargetsResult.as_json` (shape in :mod:`sopflow.analytics.targets.aggregate`).
With ``--campaign ID`` it also shows the campaign's per-step table (touched → reacted → converted, revenue,
per script variant; :mod:`sopflow.analytics.targets.campaign_steps`), under the key ``campaign`` in
``--json``; the playbook is then the campaign's frozen version unless ``--playbook`` is given.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sopflow.analytics import options
from sopflow.analytics.aarrr.session import open_session, range_text
from sopflow.analytics.targets.aggregate import TargetsResult, compute_targets
from sopflow.analytics.targets.status import TargetResult
from sopflow.i18n import N_, _
from sopflow.playbook.estimate import format_metric

STATUS_LABELS = {"met": N_("met"), "near": N_("near"), "missed": N_("missed"), "no_data": N_("no data")}
STATUS_STYLES = {"met": "green", "near": "yellow", "missed": "red", "no_data": "dim"}


def targets_command(
    playbook: Path | None = typer.Option(None, "--playbook", help=_("Playbook file with the targets")),
    costs: Path | None = options.costs_option(),
    attribution: str = options.attribution_option(),
    start: str | None = options.from_option(),
    end: str | None = options.to_option(),
    tz: str = options.tz_option(),
    events: Path | None = options.events_option(),
    engine: str = options.engine_option(),
    workspace: Path | None = options.workspace_option(),
    as_json: bool = options.json_option(),
    campaign: int | None = typer.Option(
        None,
        "--campaign",
        help=_("Also show this campaign's per-step table: touched, reacted, converted, revenue per variant"),
    ),
) -> None:
    from sopflow.analytics.targets.campaign_view import campaign_session, print_campaign_steps

    chosen = options.parse_attribution(attribution)
    if campaign is None:
        session = open_session(
            playbook=require_playbook(playbook),
            workspace=workspace,
            events=events,
            engine=engine,
            start=start,
            end=end,
            tz=tz,
            costs=costs,
        )
        run = None
    else:
        session, run = campaign_session(
            campaign_id=campaign,
            playbook=playbook,
            workspace=workspace,
            events=events,
            engine=engine,
            start=start,
            end=end,
            tz=tz,
            costs=costs,
        )
    result = compute_targets(
        engine=session.engine,
        playbook=session.playbook,
        time_range=session.time_range,
        cost_rows=session.cost_rows,
        attribution=chosen,
    )
    steps = None
    if run is not None:
        from sopflow.analytics.targets.campaign_steps import compute_campaign_steps

        steps = compute_campaign_steps(engine=session.engine, run=run, time_range=session.time_range)
    if as_json:
        data = result.as_json()
        if steps is not None:
            data["campaign"] = steps.as_json()
        options.echo_json(data)
        return
    _print(result)
    if steps is not None:
        print_campaign_steps(steps)


def require_playbook(playbook: Path | None) -> Path:
    if playbook is None:
        from sopflow.errors import InvalidInput

        raise InvalidInput(_("give --playbook FILE, or --campaign ID to use the campaign's playbook version"))
    return playbook


def _print(result: TargetsResult) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(title=_("Targets: {name}", name=result.playbook["name"]), box=box.SIMPLE_HEAD)
    table.add_column(_("Target"))
    table.add_column(_("Metric"))
    for header in (_("Expected"), _("Planned"), _("Actual"), _("Gap"), _("Status")):
        table.add_column(header, justify="right")
    for target in result.targets:
        table.add_row(
            target.name,
            target.metric,
            _expected(target),
            format_metric(target.metric, target.planned),
            format_metric(target.metric, target.actual),
            _gap(target),
            f"[{STATUS_STYLES[target.status]}]{_(STATUS_LABELS[target.status])}[/]",
        )
    if not result.targets:
        console.print(_("This playbook has no targets."))
    else:
        console.print(table)
    if result.findings:
        console.print(_("Biggest findings:"))
        for number, finding in enumerate(result.findings, start=1):
            console.print(f"  {number}. {finding.text}", markup=False, soft_wrap=True)
    elif result.targets:
        console.print(_("Every target is met and every stage converts at or above plan."))
    first = result.stages[0].users if result.stages else 0
    console.print(
        _(
            "Actual values over {range}; stage counts by the funnel ({first} persons at the first stage); "
            "money as in sopflow roi; engine {engine}.",
            range=range_text(result.range),
            first=f"{first:,}",
            engine=result.engine,
        ),
        soft_wrap=True,
    )


def _expected(target: TargetResult) -> str:
    value = format_metric(target.metric, target.expected)
    return _("≥ {value}", value=value) if target.direction == "at_least" else _("≤ {value}", value=value)


def _gap(target: TargetResult) -> str:
    if target.gap is None:
        return "—"
    sign = "+" if target.gap > 0 else ("−" if target.gap < 0 else "")
    text = sign + format_metric(target.metric, abs(target.gap))
    if target.relative_gap is not None and not target.metric.startswith(("rate.", "rate_from_first.")):
        text += f" ({target.relative_gap:+.1%})".replace("-", "−")
    return text

"""``sopflow roi``: revenue, cost, ROI (投产比), CAC and payback per channel, with the plan's numbers beside.

``--json`` prints :meth:`RoiResult.as_json` (shape in :mod:`sopflow.analytics.roi.aggregate`).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import typer

from sopflow.analytics import options
from sopflow.analytics.aarrr.session import count, open_session, range_text
from sopflow.analytics.roi.aggregate import Numbers, RoiResult, compute_roi
from sopflow.i18n import _
from sopflow.playbook.estimate import format_number


def roi_command(
    playbook: Path = typer.Option(..., "--playbook", help=_("Playbook file with the channels and costs")),
    costs: Path | None = options.costs_option(),
    attribution: str = options.attribution_option(),
    start: str | None = options.from_option(),
    end: str | None = options.to_option(),
    tz: str = options.tz_option(),
    events: Path | None = options.events_option(),
    engine: str = options.engine_option(),
    workspace: Path | None = options.workspace_option(),
    as_json: bool = options.json_option(),
) -> None:
    chosen = options.parse_attribution(attribution)
    session = open_session(
        playbook=playbook,
        workspace=workspace,
        events=events,
        engine=engine,
        start=start,
        end=end,
        tz=tz,
        costs=costs,
    )
    result = compute_roi(
        engine=session.engine,
        playbook=session.playbook,
        time_range=session.time_range,
        attribution=chosen,
        cost_rows=session.cost_rows,
        costs_file=str(costs) if costs is not None else None,
    )
    if as_json:
        options.echo_json(result.as_json())
        return
    _print(result)


def money_text(value: Decimal | float | None) -> str:
    """Whole amounts from 100 up, else up to two decimals (as the plan shows them)."""
    return "—" if value is None else format_number(float(value))


def ratio_text(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _print(result: RoiResult) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(
        title=_("ROI by channel ({currency}); the plan's numbers below each row", currency=result.currency),
        box=box.SIMPLE_HEAD,
    )
    table.add_column(_("Channel"))
    headers = (_("New"), _("Paying"), _("Revenue"), _("Cost"), _("ROI"), _("CAC"), _("Payback"))
    for header in headers:
        table.add_column(header, justify="right")
    for row in result.channels:
        table.add_row(row.name, *_cells(row.numbers))
        if row.plan is not None:
            table.add_row(_("  plan"), *_plan_cells(row.plan), style="dim")
    if result.campaign_cost:
        table.add_row(_("Campaign-wide costs"), "", "", "", money_text(result.campaign_cost), "", "", "")
    table.add_row(_("Total"), *_cells(result.totals), style="bold", end_section=False)
    table.add_row(_("  plan"), *_plan_cells(result.plan), style="dim")
    console.print(table)
    source = (
        _("costs from the playbook (fixed costs on {day})", day=result.days["first"] or "—")
        if result.costs["source"] == "playbook"
        else _("fixed costs from {file}", file=result.costs["file"])
    )
    console.print(
        _(
            "Revenue by {touch}; {source}, per-person costs and rewards on actual persons; "
            "new = persons at the first stage, CAC = cost ÷ paying persons ({paying}); payback in days from "
            "{first}; {range}; engine {engine}.",
            touch=_("first touch") if result.attribution == "first" else _("last touch"),
            source=source,
            paying=count(result.totals.paying_users),
            first=result.days["first"] or "—",
            range=range_text(result.range),
            engine=result.engine,
        ),
        soft_wrap=True,
    )


def _cells(numbers: Numbers) -> list[str]:
    payback = "—" if numbers.payback_days is None else _("{n} d", n=numbers.payback_days)
    return [
        count(numbers.new_users),
        count(numbers.paying_users),
        money_text(numbers.revenue),
        money_text(numbers.cost),
        ratio_text(numbers.roi),
        money_text(numbers.cac),
        payback,
    ]


def _plan_cells(plan: dict[str, float | None]) -> list[str]:
    return [
        count(plan.get("new_users")),
        "",
        money_text(plan.get("revenue")),
        money_text(plan.get("cost")),
        ratio_text(plan.get("roi")),
        money_text(plan.get("cac")),
        "",
    ]

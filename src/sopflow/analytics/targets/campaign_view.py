"""``--campaign ID`` of ``sopflow targets``: where the campaign comes from, and its per-step table in Rich."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from sopflow.analytics.aarrr.session import Session, count, percent, range_text
from sopflow.analytics.targets.campaign_steps import CampaignRun, CampaignSteps, StepRow, read_campaign_run
from sopflow.i18n import _


def campaign_session(
    *,
    campaign_id: int,
    playbook: Path | None,
    workspace: Path | None,
    events: Path | None,
    engine: str,
    start: str | None,
    end: str | None,
    tz: str,
    costs: Path | None,
) -> tuple[Session, CampaignRun]:
    """The analysis session of ``targets``, with the campaign's frozen playbook unless a file is given.

    Checked in order of cost, as :func:`~sopflow.analytics.aarrr.session.open_session`: options, the
    campaign (the app database), the playbook and costs, then the engine."""
    from sopflow.analytics.aarrr.session import open_session
    from sopflow.analytics.engines import open_engine
    from sopflow.analytics.options import parse_tz
    from sopflow.analytics.roi.costs import read_costs
    from sopflow.analytics.timerange import parse_range
    from sopflow.workspace import Workspace

    zone = parse_tz(tz)
    time_range = parse_range(start, end, tz=zone)
    run = read_campaign_run(workspace=workspace, campaign_id=campaign_id)
    if playbook is not None:
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
        return session, run
    rows = read_costs(costs, currency=run.playbook.meta.currency) if costs is not None else None
    chosen = open_engine(engine, workspace=Workspace.resolve(workspace), events_path=events, tz=zone)
    return Session(run.playbook, chosen, time_range, rows), run


def money(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def rate(value: float | None, numerator: int, denominator: int) -> str:
    return f"{percent(value)} ({numerator}/{denominator})"


def reaction_text(row: StepRow) -> str:
    reaction = row.reaction
    if reaction["kind"] == "stage":
        return _("stage {name}", name=reaction["name"])
    if reaction["kind"] == "event":
        return _("event {name}", name=reaction["name"])
    return _("any action")


def campaign_table(steps: CampaignSteps) -> Table:
    title = _("Campaign {id} · {name}: per step", id=steps.campaign["id"], name=steps.campaign["name"])
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    table.add_column(_("Step / variant"), ratio=2)
    table.add_column(_("Task"), ratio=1)
    for header in (_("Touched / audience"), _("Reacted"), _("Converted"), _("Revenue")):
        table.add_column(header, justify="right", no_wrap=True)  # a rate stays on one line with its basis
    for row in steps.steps:
        table.add_row(
            f"{row.position + 1}. {row.name}",
            _("{state} ({owner})", state=row.state, owner=row.owner),
            f"{count(row.touched)} / {count(row.audience_size)}",
            rate(row.reaction_rate, row.reacted, row.touched),
            rate(row.conversion_rate, row.converted, row.touched),
            money(row.revenue),
        )
        for variant in row.variants:
            table.add_row(
                f"  · {variant.variant or '—'}",
                "",
                count(variant.touched),
                rate(variant.reaction_rate, variant.reacted, variant.touched),
                rate(variant.conversion_rate, variant.converted, variant.touched),
                money(variant.revenue),
            )
    return table


def print_campaign_steps(steps: CampaignSteps, console: Console | None = None) -> None:
    console = console or Console(highlight=False)
    console.print(campaign_table(steps))
    reactions = "; ".join(f"{row.position + 1}. {reaction_text(row)}" for row in steps.steps)
    console.print(_("Reaction per step: {list}", list=reactions), soft_wrap=True)
    totals = steps.totals
    conversion = steps.conversion["name"] if steps.conversion else "—"
    console.print(
        _(
            "Touched: persons with a sop_touch event of the campaign and step; reacted and converted: of "
            "them, persons who did the step's reaction / reached {stage} within {days} days after their "
            "first touch of the step (rates ÷ touched); revenue: in {currency}, credited to the latest "
            "touch of the campaign within that window. {touched} persons touched in all; {executed} of "
            "{tasks} tasks executed; {range}; engine {engine}.",
            stage=conversion,
            days=f"{steps.window_seconds / 86_400:g}",
            currency=steps.currency,
            touched=f"{totals['touched']:,}",
            executed=totals["executed"],
            tasks=totals["tasks"],
            range=range_text(steps.range),
            engine=steps.engine,
        ),
        soft_wrap=True,
    )
    if totals["staff_records"]:
        console.print(
            _(
                "Touches of {count} task owner(s) were recorded instead of persons (the audience was unknown "
                "when the task ran); they are not counted as touched.",
                count=totals["staff_records"],
            ),
            soft_wrap=True,
        )
    if totals["other_currency_events"]:
        console.print(
            _(
                "{count} payment event(s) in another currency than {currency} are left out of revenue.",
                count=totals["other_currency_events"],
                currency=steps.currency,
            ),
            soft_wrap=True,
        )

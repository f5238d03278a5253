"""``sopflow playbook plan FILE``: the estimate (测算) as Rich tables, or ``--json`` (shape: estimate module).

Unreachable targets are part of the plan, not a failure: the exit code is 0 for any valid playbook.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from sopflow.i18n import _
from sopflow.playbook.commands import app
from sopflow.playbook.estimate import Plan, estimate, format_metric, format_number, revenue_stage
from sopflow.playbook.labels import label
from sopflow.playbook.loader import load_playbook
from sopflow.playbook.montecarlo import Simulation, check_simulation_args, simulate


@app.command(
    "plan",
    help=_("Estimate a playbook: users per stage, referral, cost, revenue, ROI, break-even and targets."),
)
def plan(
    file: Path = typer.Argument(..., help=_("Playbook YAML file")),
    as_json: bool = typer.Option(False, "--json", help=_("Print a machine-readable plan")),
    simulations: int | None = typer.Option(
        None, "--simulations", help=_("Number of Monte Carlo runs for P10/P50/P90 bands (1 to 1,000,000)")
    ),
    seed: int = typer.Option(0, "--seed", help=_("Random seed of the Monte Carlo runs")),
) -> None:
    if simulations is not None:
        check_simulation_args(n=simulations, seed=seed)
    playbook = load_playbook(file)
    result = estimate(playbook)
    bands = simulate(playbook, n=simulations, seed=seed) if simulations is not None else None
    if as_json:
        typer.echo(
            json.dumps(result.as_json(bands.as_json() if bands else None), ensure_ascii=False, indent=2)
        )
        return
    print_plan(
        Console(highlight=False, markup=False), result, bands, has_revenue_stage=bool(revenue_stage(playbook))
    )


def print_plan(console: Console, result: Plan, bands: Simulation | None, *, has_revenue_stage: bool) -> None:
    meta = result.playbook
    console.print(
        _(
            "Plan of {name} ({id} v{version}); money in {currency}",
            name=meta["name"],
            id=meta["id"],
            version=meta["version"],
            currency=result.currency,
        )
    )
    console.print(_stages_table(result))
    console.print(_channels_table(result))
    console.print(_channel_users_table(result))
    if result.referral is not None:
        console.print(_referral_table(result))
    console.print(_totals_table(result))
    console.print(_break_even_line(result, has_revenue_stage=has_revenue_stage))
    if result.targets:
        console.print(_targets_table(result))
        for t in result.targets:
            if t.message:
                console.print(f"{_mark(t.reachable)} {t.message}")
    if bands is not None:
        console.print(_bands_table(bands))


def _rate(value: float | None) -> str:
    return format_metric("rate.x", value)


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _count(value: float | None) -> str:
    return "—" if value is None else format_number(value)


def _stages_table(result: Plan) -> Table:
    table = Table(title=_("Funnel (expected users per stage)"))
    table.add_column("#", justify="right")
    table.add_column(_("Stage"))
    table.add_column(_("AARRR"))
    for header in (
        _("Users"),
        _("Rate from previous"),
        _("Rate from first"),
        _("Value per user"),
        _("Revenue"),
    ):
        table.add_column(header, justify="right")
    for s in result.stages:
        table.add_row(
            str(s.index),
            f"{s.name} ({s.id})",
            label("aarrr", s.aarrr),
            _count(s.users),
            _rate(s.rate_from_previous),
            _rate(s.rate_from_first),
            _money(s.value),
            _money(s.revenue),
        )
    return table


def _channels_table(result: Plan) -> Table:
    table = Table(title=_("Channels"))
    table.add_column(_("Channel"))
    table.add_column(_("Kind"))
    for header in (
        _("Reach"),
        _("Entrants"),
        _("Cost"),
        _("People / hours"),
        _("Revenue"),
        _("ROI"),
        _("CAC"),
    ):
        table.add_column(header, justify="right")
    for c in result.channels:
        manpower = f"{_count(c.manpower['people'])} / {_count(c.manpower['hours'])}"
        table.add_row(
            c.name,
            label("channel_kind", c.kind),
            _count(c.reach),
            _count(c.entrants),
            _count(c.cost),
            manpower,
            _count(c.revenue),
            _count(c.roi),
            _count(c.cac),
        )
    return table


def _channel_users_table(result: Plan) -> Table:
    table = Table(title=_("Users by stage and channel"))
    table.add_column(_("Stage"))
    for c in result.channels:
        table.add_column(c.name, justify="right")
    table.add_column(_("Total"), justify="right")
    for i, s in enumerate(result.stages):
        table.add_row(s.name, *(_count(c.users[i]) for c in result.channels), _count(s.users))
    return table


def _referral_table(result: Plan) -> Table:
    referral = result.referral
    assert referral is not None
    table = Table(title=_("Referral generations (K-factor {k})", k=_count(referral.k_factor)))
    for header in (_("Generation"), _("K"), _("Inviters"), _("Invitees")):
        table.add_column(header, justify="right")
    for g in referral.generations:
        table.add_row(str(g.generation), _count(g.k), _count(g.inviters), _count(g.invitees))
    return table


def _totals_table(result: Plan) -> Table:
    t = result.totals
    table = Table(title=_("Totals"), show_header=False)
    table.add_column(_("Metric"))
    table.add_column(_("Value"), justify="right")
    for name, value in (
        (_("New users"), _count(t.new_users)),
        (_("Referred users"), _count(t.referred_users)),
        (_("Revenue"), _money(t.revenue)),
        (_("Cost"), _money(t.cost)),
        (_("Profit"), _money(t.profit)),
        (_("ROI (revenue ÷ cost)"), _count(t.roi)),
        (_("CAC (cost ÷ paying users)"), _money(t.cac)),
        (_("Revenue per new user"), _money(t.revenue_per_user)),
    ):
        table.add_row(name, value)
    return table


def _break_even_line(result: Plan, *, has_revenue_stage: bool) -> str:
    be = result.break_even
    if be is None and not has_revenue_stage:
        return _(
            "Break-even: no revenue stage after the first stage (tag one with aarrr: revenue or give it a value)."
        )
    if be is None:
        return _(
            "Break-even: out of reach; even at 100% conversion of the revenue stage, cost exceeds revenue."
        )
    stage = next((f"{s.name} ({s.id})" for s in result.stages if s.id == be.stage), be.stage)
    if be.already_above:
        return _("Break-even: the plan breaks even at any conversion of stage {stage}.", stage=stage)
    return _(
        "Break-even: stage {stage} must convert {rate} of the previous stage ({first} of the first stage).",
        stage=stage,
        rate=_rate(be.rate_from_previous),
        first=_rate(be.rate_from_first),
    )


def _targets_table(result: Plan) -> Table:
    table = Table(title=_("Targets"))
    for header in ("", _("Target"), _("Metric")):
        table.add_column(header)
    for header in (_("Expected"), _("Plan")):
        table.add_column(header, justify="right")
    for t in result.targets:
        expected = format_metric(t.metric, t.expected)
        if t.direction == "at_most":
            expected = _("at most {value}", value=expected)
        table.add_row(_mark(t.reachable), t.name, t.metric, expected, format_metric(t.metric, t.planned))
    return table


def _mark(reachable: bool | None) -> str:
    return "?" if reachable is None else ("✓" if reachable else "✗")


def _bands_table(bands: Simulation) -> Table:
    table = Table(title=_("Monte Carlo: {n} runs, seed {seed}", n=f"{bands.n:,}", seed=bands.seed))
    table.add_column(_("Metric"))
    for header in ("P10", "P50", "P90"):
        table.add_column(header, justify="right")
    for name, b in bands.metrics.items():
        table.add_row(
            name, format_metric(name, b.p10), format_metric(name, b.p50), format_metric(name, b.p90)
        )
    return table

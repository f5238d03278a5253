"""Referral for people: the summary, K per generation against the plan, and the top sharers."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from sopflow.analytics.referral.aggregate import ReferralResult
from sopflow.i18n import _


def _k(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    size = abs(seconds)
    if size < 60:
        return _("{n} s", n=f"{seconds:.0f}")
    if size < 3600:
        return _("{n} min", n=f"{seconds / 60:.1f}")
    if size < 86400:
        return _("{n} h", n=f"{seconds / 3600:.1f}")
    return _("{n} d", n=f"{seconds / 86400:.1f}")


def could_invite_text(result: ReferralResult) -> str:
    stage = result.spec.inviters_stage
    if stage is None:
        return _("Could invite: every person (no --playbook given).")
    return _(
        "Could invite: persons who reached the playbook's inviters stage {stage} (event {event}).",
        stage=stage.stage,
        event=stage.event,
    )


def print_referral(console: Console, result: ReferralResult) -> None:
    console.print(_summary(result))
    console.print(could_invite_text(result))
    console.print(_generations(result))
    if result.top_sharers:
        console.print(_sharers(result))


def _summary(result: ReferralResult) -> Table:
    plan = result.spec.plan
    table = Table(title=_("Referral (fission)"), show_header=False)
    table.add_column()
    table.add_column(justify="right")
    table.add_row(_("Persons"), f"{result.persons:,}")
    table.add_row(_("Inviters (of them unknown ids)"), f"{result.inviters:,} ({result.unknown_inviters:,})")
    table.add_row(_("Invitees"), f"{result.invitees:,}")
    table.add_row(_("Persons who could invite"), f"{result.could_invite:,}")
    table.add_row(_("K-factor"), _k(result.k_factor))
    if plan is not None:
        table.add_row(_("K-factor in the plan ({playbook})", playbook=plan.playbook), _k(plan.k_factor))
    table.add_row(_("Max depth (generations)"), str(result.max_depth))
    table.add_row(
        _("Median viral cycle time ({n} pairs)", n=f"{result.cycle_pairs:,}"),
        duration(result.cycle_median_seconds),
    )
    table.add_row(_("Self-invites ignored"), f"{result.self_invites:,}")
    table.add_row(_("Invitation cycles broken"), f"{result.cycles_broken:,}")
    return table


def _generations(result: ReferralResult) -> Table:
    plan = result.spec.plan is not None
    table = Table(title=_("K per generation (invitees of generation g + 1 ÷ generation g who could invite)"))
    table.add_column(_("Generation"), justify="right")
    table.add_column(_("Persons"), justify="right")
    table.add_column(_("Could invite"), justify="right")
    table.add_column(_("Invitees"), justify="right")
    table.add_column(_("K"), justify="right")
    if plan:
        table.add_column(_("Plan K"), justify="right")
    for g in result.generations:
        cells = [str(g.generation), f"{g.persons:,}", f"{g.could_invite:,}", f"{g.invitees:,}", _k(g.k)]
        table.add_row(*cells, *([_k(g.plan_k)] if plan else []))
    return table


def _sharers(result: ReferralResult) -> Table:
    table = Table(title=_("Top sharers"))
    table.add_column(_("Person"))
    table.add_column(_("Generation"), justify="right")
    table.add_column(_("Invitees"), justify="right")
    table.add_column(_("Invitees who paid"), justify="right")
    table.add_column(_("Invitees' revenue"), justify="right")
    for s in result.top_sharers:
        name = s.person if s.known else _("{id} (unknown)", id=s.person)
        table.add_row(
            name, str(s.generation), f"{s.invitees:,}", f"{s.invitees_paid:,}", f"{s.invitees_revenue:,.2f}"
        )
    return table

"""``sopflow aarrr``: the five AARRR stages from the playbook funnel's tags, overall and per channel.

``--json`` prints :meth:`AarrrResult.as_json` (shape in :mod:`sopflow.analytics.aarrr.aggregate`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from sopflow.analytics import options
from sopflow.analytics.aarrr.aggregate import AarrrResult, StageCount, compute_aarrr
from sopflow.analytics.aarrr.session import count, open_session, percent, range_text
from sopflow.errors import InvalidInput
from sopflow.i18n import _

BREAKDOWNS = ("channel",)


def aarrr_command(
    playbook: Path = typer.Option(..., "--playbook", help=_("Playbook file whose funnel tags the stages")),
    by: str | None = typer.Option(None, "--by", help=_("Break down by: channel")),
    start: str | None = options.from_option(),
    end: str | None = options.to_option(),
    tz: str = options.tz_option(),
    events: Path | None = options.events_option(),
    engine: str = options.engine_option(),
    workspace: Path | None = options.workspace_option(),
    as_json: bool = options.json_option(),
) -> None:
    if by is not None and by not in BREAKDOWNS:
        raise InvalidInput(_("--by: choose one of {choices}", choices=", ".join(BREAKDOWNS)))
    session = open_session(
        playbook=playbook, workspace=workspace, events=events, engine=engine, start=start, end=end, tz=tz
    )
    result = compute_aarrr(
        engine=session.engine,
        playbook=session.playbook,
        time_range=session.time_range,
        by_channel=by == "channel",
    )
    if as_json:
        options.echo_json(result.as_json())
        return
    _print(result)


def _print(result: AarrrResult) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(title=_("AARRR: {name}", name=result.playbook["name"]))
    table.add_column(_("Stage"))
    table.add_column(_("Funnel stages"))
    for header in (_("Persons"), _("Of acquisition"), _("Of previous stage")):
        table.add_column(header, justify="right")
    for stage in result.stages:
        table.add_row(
            stage.name,
            ", ".join(stage.funnel_stage_names) or _invite_note(stage),
            count(stage.users),
            percent(stage.rate_from_acquisition),
            percent(stage.rate_from_previous),
        )
    console.print(table)
    if result.breakdown:
        by_channel = Table(title=_("By channel (persons, share of the channel's acquisition)"))
        by_channel.add_column(_("Channel"))
        for stage in result.stages:
            by_channel.add_column(stage.name, justify="right")
        for row in result.breakdown:
            by_channel.add_row(row.name, *[_cell(s) for s in row.stages])
        console.print(by_channel)
    acquisition = result.stages[0].users
    console.print(
        _(
            "Persons who did a tagged stage's event, {range}; rates ÷ acquisition ({acquisition} persons); "
            "referral: persons who invited someone ({invitees} invitees, {unresolved} with an inviter not "
            "found); engine {engine}.",
            range=range_text(result.range),
            acquisition=count(acquisition),
            invitees=f"{result.invitees:,}",
            unresolved=f"{result.unresolved_invitees:,}",
            engine=result.engine,
        ),
        soft_wrap=True,
    )


def _invite_note(stage: StageCount) -> str:
    return _("(invitations)") if stage.stage == "referral" else _("(no stage tagged)")


def _cell(stage: StageCount) -> str:
    if stage.users is None:
        return "—"
    if stage.rate_from_acquisition is None:
        return f"{stage.users:,}"
    return f"{stage.users:,} ({percent(stage.rate_from_acquisition)})"

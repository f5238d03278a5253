"""``sopflow referral``: inviters, invitees, K-factor overall and per generation, the invitation tree."""

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


def referral_help() -> str:
    return _(
        "Referral (fission): inviters, invitees, K-factor overall and per generation, depth, viral cycle time, "
        "top sharers and the invitation tree, against the plan's K."
    )


def referral_command(
    playbook: Path | None = typer.Option(
        None, "--playbook", help=_("Playbook YAML: who could invite (its inviters stage) and the plan's K")
    ),
    tree: Path | None = typer.Option(
        None, "--tree", help=_("Write the invitation tree to FILE.csv or FILE.json")
    ),
    top: int = typer.Option(10, "--top", help=_("How many top sharers to list")),
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
    from sopflow.analytics.referral.aggregate import ReferralSpec, compute_referral
    from sopflow.analytics.referral.export import check_tree_path, write_tree
    from sopflow.analytics.referral.render import print_referral
    from sopflow.analytics.timerange import parse_range
    from sopflow.workspace import Workspace

    if tree is not None:
        check_tree_path(tree)
    span = parse_range(start, end, tz=zone(tz))
    if playbook is not None:
        from sopflow.playbook.loader import load_playbook

        spec = ReferralSpec.from_playbook(load_playbook(playbook), range=span, top=top)
    else:
        spec = ReferralSpec(range=span, top=top)
    reader = open_engine(
        engine, workspace=Workspace.resolve(workspace), events_path=resolve_events_path(events)
    )
    result = compute_referral(reader, spec)
    written = write_tree(tree, result) if tree is not None else None
    if as_json:
        echo_json(result.as_json())
        return
    console = Console(highlight=False, markup=False)
    print_referral(console, result)
    if tree is not None:
        console.print(_("Wrote {n} rows of the invitation tree to {path}", n=f"{written:,}", path=str(tree)))

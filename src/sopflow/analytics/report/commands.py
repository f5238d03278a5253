"""``sopflow report``: write the campaign report (one self-contained HTML page) for a playbook.

``--json`` prints ``{"output": PATH, "lang", "sections": {name: {"available", "problem"}}}``.
``--campaign ID`` adds the section ``campaign`` (the campaign's per-step table); the playbook is then the
campaign's frozen version unless ``--playbook`` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from sopflow.analytics import options
from sopflow.i18n import _, current_language


def report_help() -> str:
    return _(
        "Write one self-contained HTML report: funnel, AARRR, retention, referral tree, ROI by channel and "
        "targets vs actual."
    )


def report_command(
    playbook: Path | None = typer.Option(
        None, "--playbook", help=_("Playbook file: its funnel, channels and targets")
    ),
    output: Path = typer.Option(..., "--output", "-o", help=_("HTML file to write, e.g. report.html")),
    return_event: str | None = typer.Option(
        None,
        "--return-event",
        help=_("Retention: the event that counts as coming back (default: the playbook's retention stage)"),
    ),
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
        help=_("Add this campaign's per-step table: touched, reacted, converted, revenue per variant"),
    ),
) -> None:
    from sopflow.analytics.engines import open_engine
    from sopflow.analytics.report import write_report
    from sopflow.analytics.targets.campaign_steps import read_campaign_run
    from sopflow.analytics.targets.commands import require_playbook
    from sopflow.analytics.timerange import parse_range
    from sopflow.playbook.loader import load_playbook
    from sopflow.workspace import Workspace

    zone = options.parse_tz(tz)
    time_range = parse_range(start, end, tz=zone)
    run = None if campaign is None else read_campaign_run(workspace=workspace, campaign_id=campaign)
    loaded = (
        run.playbook if run is not None and playbook is None else load_playbook(require_playbook(playbook))
    )
    chosen = open_engine(
        engine,
        workspace=Workspace.resolve(workspace),
        events_path=options.resolve_events_path(events),
        tz=zone,
    )
    path, report = write_report(
        engine=chosen,
        playbook=loaded,
        time_range=time_range,
        out=output,
        return_event=return_event,
        campaign=run,
    )
    sections: dict[str, Any] = {
        key: {"available": s["available"], "problem": s["problem"]} for key, s in report["sections"].items()
    }
    if as_json:
        options.echo_json({"output": str(path), "lang": current_language(), "sections": sections})
        return
    typer.echo(_("Report written: {path}", path=path.resolve()))
    for key, section in sections.items():
        if not section["available"]:
            typer.echo(_("Not available: {section}: {reason}", section=key, reason=section["problem"]))

"""``sopflow playbook render FILE -o OUT``: the SOP document as Markdown, HTML, an Excel workbook or a calendar."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.playbook.commands import app
from sopflow.playbook.loader import load_playbook
from sopflow.playbook.render import campaign_start, output_format, timezone, write_sop
from sopflow.playbook.schedule import schedule


@app.command(
    "render",
    help=_(
        "Render a playbook as the team's SOP document (framework and plan; materials and timeline; "
        "scripts at each time node): Markdown, HTML, Excel or an ICS calendar. "
        "Example: sopflow playbook render camp.yaml -o camp.html --start 2026-12-01"
    ),
)
def render(
    file: Path = typer.Argument(..., help=_("Playbook YAML file")),
    out: Path = typer.Option(
        ..., "-o", "--output", help=_("Output file; its suffix picks the format unless --format is given")
    ),
    fmt: str | None = typer.Option(None, "--format", "-f", help=_("Output format: md, html, xlsx or ics")),
    start: str | None = typer.Option(
        None,
        "--start",
        help=_(
            "Campaign start day (D0), such as 2026-12-01: shows dates next to the D-offsets; "
            "required for ics. A time of day may follow but does not move D0."
        ),
    ),
    tz: str | None = typer.Option(
        None, "--tz", help=_("Timezone of --start (default: the playbook's meta.timezone)")
    ),
    as_json: bool = typer.Option(False, "--json", help=_("Print a machine-readable result")),
) -> None:
    chosen = output_format(fmt, out)
    if chosen == "ics" and not start:
        raise InvalidInput(
            _("a calendar needs the campaign's start date: add --start YYYY-MM-DD"), code="start_required"
        )
    zone = timezone(tz) if tz else None
    playbook = load_playbook(file)
    d0 = campaign_start(start, zone or timezone(playbook.meta.timezone)) if start else None
    written = write_sop(playbook=playbook, fmt=chosen, out=out, start=d0)
    if as_json:
        result = {
            "file": str(written),
            "format": chosen,
            "steps": len(schedule(playbook)),
            "start": d0.isoformat() if d0 else None,
            "timezone": str(d0.tzinfo) if d0 else playbook.meta.timezone,
        }
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        typer.echo(_("Wrote the SOP ({format}) to {path}", format=chosen, path=str(written)))

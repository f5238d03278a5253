"""``sopflow demo``: build a demo workspace from a built-in playbook and show what sopflow does.

The workspace gets the community fission playbook, its plan (测算) is printed, and the SOP document is
rendered to HTML (and Excel) for the team. Each later capability adds its step here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from sopflow.i18n import _
from sopflow.playbook.catalog import write_template
from sopflow.playbook.commands.plan import print_plan
from sopflow.playbook.estimate import estimate, revenue_stage
from sopflow.playbook.loader import load_playbook
from sopflow.playbook.render import write_sop

DEMO_TEMPLATE = "community_fission"


def next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


def demo_command(
    directory: Path = typer.Option(Path("demo"), "--dir", help=_("Folder for the demo workspace")),
    template: str = typer.Option(DEMO_TEMPLATE, "--template", help=_("Built-in playbook to start from")),
) -> None:
    # Wide enough for the plan's tables when the output is a pipe (Rich assumes 80 columns there).
    console = Console(highlight=False, markup=False, width=None if Console().is_terminal else 120)
    directory.mkdir(parents=True, exist_ok=True)
    playbook_file = write_template(name=template, output=directory / "playbook.yaml", force=True)
    playbook = load_playbook(playbook_file)
    console.rule(_("1. The playbook"))
    console.print(_("Playbook written from template {name}: {path}", name=template, path=playbook_file))

    console.rule(_("2. The plan (estimate before launch)"))
    print_plan(console, estimate(playbook), None, has_revenue_stage=revenue_stage(playbook) is not None)

    console.rule(_("3. The SOP document for the team"))
    zone = ZoneInfo(playbook.meta.timezone)
    start = datetime.combine(next_monday(date.today()), datetime.min.time(), tzinfo=zone)
    for fmt in ("html", "xlsx", "ics"):
        out = write_sop(playbook=playbook, fmt=fmt, out=directory / f"sop.{fmt}", start=start)
        console.print(_("SOP ({fmt}) written: {path}", fmt=fmt, path=out.resolve()))
    console.print(_("Open the HTML file in a browser: {path}", path=(directory / "sop.html").resolve()))

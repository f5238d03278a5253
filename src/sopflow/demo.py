"""``sopflow demo``: build a demo workspace from a built-in playbook and show what sopflow does.

The workspace gets the community fission playbook; its plan (测算) is printed; the SOP document is rendered
for the team (HTML, Excel, calendar); a run of the campaign that ended today is simulated into the workspace's
event store (about 50k users arriving through its channels, with fission), the store's stats are shown, and
the campaign report (one self-contained HTML page) is written beside the SOP.
Each later capability adds its step here.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from sopflow.errors import InvalidInput
from sopflow.events.commands import stats_command
from sopflow.i18n import _
from sopflow.playbook.catalog import write_template
from sopflow.playbook.commands.plan import print_plan
from sopflow.playbook.estimate import estimate, revenue_stage
from sopflow.playbook.loader import load_playbook
from sopflow.playbook.model import Playbook
from sopflow.playbook.render import write_sop
from sopflow.playbook.timenode import parse_time_node
from sopflow.simulate.commands import print_summary
from sopflow.simulate.generator import Options, Simulation
from sopflow.simulate.output import simulate_to_workspace
from sopflow.workspace import Workspace

DEMO_TEMPLATE = "community_fission"
DEMO_USERS = 50_000
DEMO_SEED = 2026


MARKER = ".sopflow-demo"


def fresh_demo_workspace(root: Path) -> Workspace:
    """An empty workspace for the demo. An existing folder is replaced only if an earlier demo made it
    (it holds the marker file), so pointing --dir at real data never deletes it."""
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).exists():
            raise InvalidInput(
                _("{path} exists and was not made by the demo; choose another --dir", path=root)
            )
        shutil.rmtree(root)
    workspace = Workspace.resolve(root).ensure()
    (root / MARKER).write_text("made by sopflow demo\n", encoding="utf-8")
    return workspace


def campaign_start(playbook_span_end_days: int, today: date) -> date:
    """D0 of a campaign whose timeline ended yesterday, so every simulated event is in the past."""
    return today - timedelta(days=playbook_span_end_days + 1)


def demo_command(
    directory: Path = typer.Option(Path("demo"), "--dir", help=_("Folder for the demo workspace")),
    template: str = typer.Option(DEMO_TEMPLATE, "--template", help=_("Built-in playbook to start from")),
    users: int = typer.Option(DEMO_USERS, "--users", help=_("Users arriving through the channels")),
    serve: bool = typer.Option(
        False, "--serve", help=_("At the end, open the console on the demo workspace (http://127.0.0.1:8765)")
    ),
    port: int = typer.Option(8765, "--port", help=_("Port of the console with --serve")),
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
    span_end_days = parse_time_node(playbook.timeline.span.end) // 86_400
    start_day = campaign_start(span_end_days, datetime.now(zone).date())
    start = datetime.combine(start_day, datetime.min.time(), tzinfo=zone)
    for fmt in ("html", "xlsx", "ics"):
        out = write_sop(playbook=playbook, fmt=fmt, out=directory / f"sop.{fmt}", start=start)
        console.print(_("SOP ({fmt}) written: {path}", fmt=fmt, path=out.resolve()))
    console.print(_("Open the HTML file in a browser: {path}", path=(directory / "sop.html").resolve()))

    console.rule(_("4. A simulated run of the campaign, into the workspace's event store"))
    workspace = fresh_demo_workspace(directory / "workspace")
    # Simulate only the timeline's span, so no event lies after today.
    span_days = (
        parse_time_node(playbook.timeline.span.end) - parse_time_node(playbook.timeline.span.start)
    ) // 86_400 + 1
    options = Options(
        users=users, days=span_days, seed=DEMO_SEED, start=start_day, chunk_users=20_000, noise=True
    )
    options.check()
    summary = simulate_to_workspace(
        simulation=Simulation(playbook=playbook, options=options), workspace=workspace
    )
    print_summary(console, summary)

    console.rule(_("5. What the event store holds"))
    stats_command(tz=playbook.meta.timezone, as_json=False, workspace=workspace.root)
    console.print(
        _("Workspace: {path} (use --workspace or SOPFLOW_HOME to point commands at it)", path=workspace.root)
    )

    console.rule(_("6. The campaign report: every number against the plan"))
    report = write_demo_report(playbook=playbook, workspace=workspace, out=directory / "report.html")
    console.print(_("Report written: {path}", path=report.resolve()))
    console.print(_("Open it in a browser (works offline): {path}", path=report.resolve()))

    from sopflow.analytics.experiments.demo import show_demo_experiment

    show_demo_experiment(console=console, playbook=playbook, workspace=workspace)

    console.rule(_("8. Running the campaign: the SOP as the team's tasks"))
    from sopflow.campaign.demo import run_demo_campaign

    campaign_id = run_demo_campaign(
        console=console, playbook=playbook, source=playbook_file, workspace=workspace
    )
    console.print(
        _(
            "Follow it: sopflow tasks --workspace {path}; sopflow campaign status {id} --workspace {path}",
            path=workspace.root,
            id=campaign_id,
        )
    )
    if serve:
        console.rule(_("9. The console"))
        serve_demo(workspace=workspace, port=port)


def serve_demo(*, workspace: Workspace, port: int) -> None:
    """The console on the demo workspace, with a first admin whose password is generated and printed once."""
    from sopflow.settings import load_settings
    from sopflow.web.commands import announce_bootstrap_admin, serve
    from sopflow.web.services import Services

    settings = load_settings(home=workspace.root, host="127.0.0.1", port=port)
    services = Services.open(settings)
    announce_bootstrap_admin(services)
    serve(settings, services)


def write_demo_report(*, playbook: Playbook, workspace: Workspace, out: Path) -> Path:
    """The report over the whole simulated run, in the playbook's time zone."""
    from sopflow.analytics.engines import open_engine
    from sopflow.analytics.report import write_report
    from sopflow.analytics.timerange import TimeRange

    zone = ZoneInfo(playbook.meta.timezone)
    engine = open_engine("duckdb", workspace=workspace, tz=zone)
    path, _data = write_report(
        engine=engine, playbook=playbook, time_range=TimeRange(None, None, zone), out=out
    )
    return path

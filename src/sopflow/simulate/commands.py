"""``sopflow simulate``: generate the events a campaign of a playbook would produce (model: generator module).

``--json`` prints ``{"playbook", "seed", "start", "days", "users": {"channel", "referred", "total"}, "events",
"by_event": {NAME: count, …} (most frequent first), "output": {"target": "parquet"|"workspace", "path",
"added" (events new to the store), "duplicates" (events skipped as already there, or sent twice by the
noise); both null for Parquet}, "seconds"}``.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.playbook.catalog import template_path
from sopflow.playbook.loader import load_playbook
from sopflow.playbook.model import Playbook
from sopflow.simulate.generator import DEFAULT_CHUNK_USERS, DEFAULT_SEED, Options, Simulation
from sopflow.simulate.output import Summary, check_parquet_path, simulate_to_parquet, simulate_to_workspace
from sopflow.simulate.scenario import DEFAULT_START, EXTRA_DAYS
from sopflow.workspace import Workspace


def simulate_help() -> str:
    return "\n\n".join(
        [
            _(
                "Generate the events a campaign of a playbook would produce: users arriving through its channels, "
                "its funnel with the expected rates and heavy-tailed delays, fission with the plan's K (inviter_id), "
                "revenue, return visits, touches of the timeline's steps and anonymous visits merged by $identify."
            ),
            _(
                "Deterministic: the same playbook, --seed, --start, --days and --users give the same events, with "
                "the same event ids (so running it twice into a workspace adds nothing). --start defaults to "
                "{start} so that runs are reproducible.",
                start=DEFAULT_START.isoformat(),
            ),
            _(
                "Realistic noise, on unless --no-noise: about 0.3% of events arrive late (out of time order) and "
                "0.2% are sent twice with the same event_id. Rows are grouped by invitation tree, in delivery "
                "order within each; the output is not sorted by ts."
            ),
            _("Example: sopflow simulate --template community_fission --users 50000 -o events.parquet"),
        ]
    )


def simulate_command(
    template: str | None = typer.Option(None, "--template", "-t", help=_("Built-in template to simulate")),
    playbook_file: Path | None = typer.Option(
        None, "--playbook", "-p", help=_("Playbook YAML file to simulate")
    ),
    users: int | None = typer.Option(
        None, "--users", "-n", help=_("Number of users arriving through the channels (invitees come on top)")
    ),
    days: int | None = typer.Option(
        None,
        "--days",
        help=_(
            "Days simulated from the timeline's start (default: the timeline's span + {extra})",
            extra=EXTRA_DAYS,
        ),
    ),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help=_("Random seed")),
    start: str = typer.Option(
        DEFAULT_START.isoformat(),
        "--start",
        help=_("Campaign start day D0, YYYY-MM-DD, in the playbook's timezone"),
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help=_("Write a Parquet file instead of the workspace's event store")
    ),
    workspace: Path | None = typer.Option(
        None, "--workspace", help=_("Workspace folder (default: $SOPFLOW_HOME, else ./sopflow-data)")
    ),
    noise: bool = typer.Option(True, "--noise/--no-noise", help=_("Add late and duplicate deliveries")),
    as_json: bool = typer.Option(False, "--json", help=_("Print a machine-readable summary")),
    chunk_users: int = typer.Option(DEFAULT_CHUNK_USERS, "--chunk-users", hidden=True),
) -> None:
    if users is None:
        raise InvalidInput(_("--users is required: how many users arrive through the channels"))
    if output is not None and workspace is not None:
        raise InvalidInput(_("give either -o FILE.parquet or --workspace DIR, not both"))
    options = Options(
        users=users, days=days, seed=seed, start=_parse_start(start), chunk_users=chunk_users, noise=noise
    )
    options.check()
    if output is not None:
        check_parquet_path(output)
    simulation = Simulation(playbook=_playbook(template, playbook_file), options=options)
    console = Console(stderr=True, highlight=False)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=as_json or not console.is_terminal,
    ) as bar:
        task = bar.add_task(_("Simulating users"), total=users)

        def advance(done: int) -> None:
            bar.advance(task, done)

        if output is not None:
            summary = simulate_to_parquet(simulation=simulation, path=output, progress=advance)
        else:
            ws = Workspace.resolve(workspace).ensure()
            summary = simulate_to_workspace(simulation=simulation, workspace=ws, progress=advance)
    if as_json:
        typer.echo(json.dumps(summary.as_json(), ensure_ascii=False, indent=2))
    else:
        print_summary(Console(highlight=False, markup=False), summary)


def _parse_start(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(_("--start must be a date YYYY-MM-DD, got {value!r}", value=text)) from None


def _playbook(template: str | None, file: Path | None) -> Playbook:
    if (template is None) == (file is None):
        raise InvalidInput(_("give exactly one of --template NAME or --playbook FILE"))
    return load_playbook(template_path(template) if template is not None else file)  # type: ignore[arg-type]


def print_summary(console: Console, summary: Summary) -> None:
    console.print(
        _(
            "{people} people ({users} from channels, {referred} referred), {events} events in {seconds:.1f} s "
            "({rate} events/s)",
            people=f"{summary.people:,}",
            users=f"{summary.users:,}",
            referred=f"{summary.referred:,}",
            events=f"{summary.events:,}",
            seconds=summary.seconds,
            rate=f"{summary.events / summary.seconds:,.0f}" if summary.seconds > 0 else "-",
        ),
        soft_wrap=True,
    )
    table = Table(_("Event"), _("Events"), title=_("Events by name"))
    table.columns[1].justify = "right"
    for name, count in sorted(summary.by_event.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(name, f"{count:,}")
    console.print(table)
    if summary.target == "parquet":
        console.print(_("Written to {path}", path=summary.path), soft_wrap=True)
    else:
        console.print(
            _(
                "Added to the event store of {path}: {added} new events, {duplicates} already there or sent "
                "twice",
                path=summary.path,
                added=f"{summary.added or 0:,}",
                duplicates=f"{summary.duplicates or 0:,}",
            ),
            soft_wrap=True,
        )

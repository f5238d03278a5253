"""``sopflow campaign start|list|show|pause|resume|cancel|status|calendar``.

``--json`` shapes (stable):

- ``start``, ``show``, ``pause``, ``resume``, ``cancel``: ``{"campaign": campaign, "tasks": [task, ...]}``
  (``tasks`` only for ``start`` and ``show``), where campaign is ``{"id", "name", "playbook_id",
  "version", "timezone", "starts_at", "status", "assignments", "notify", "max_late_seconds",
  "created_at", "created_by", "ended_at", "tasks": {state: count}}`` and a task is as ``sopflow tasks``
  prints it.
- ``list``: ``{"campaigns": [campaign, ...]}``
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from sopflow.analytics.options import json_option, workspace_option
from sopflow.campaign.launch import LaunchRequest, launch
from sopflow.campaign.lifecycle import (
    TaskFilter,
    cancel_campaign,
    describe,
    get_campaign,
    list_campaigns,
    list_tasks,
    pause_campaign,
    resume_campaign,
)
from sopflow.campaign.public import CampaignPublic, TaskPublic
from sopflow.campaign.start import DEFAULT_MAX_LATE, parse_pairs
from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.playbook.timenode import TimeSyntaxError, parse_duration
from sopflow.store.cli import actor, app_session, print_json

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

BY_HELP = _("Who does this (recorded in the history; default: $SOPFLOW_USER, else your login name)")


def _campaign_table(campaigns: list[CampaignPublic]) -> Table:
    table = Table(title=_("Campaigns"))
    for header in (_("id"), _("name"), _("playbook"), _("status"), _("starts"), _("tasks")):
        table.add_column(header)
    for c in campaigns:
        counts = ", ".join(f"{state} {n}" for state, n in c.tasks.items())
        starts = (
            f"{datetime.fromisoformat(c.starts_at).astimezone(ZoneInfo(c.timezone)):%Y-%m-%d %H:%M} {c.timezone}"
            if c.starts_at
            else "-"
        )
        table.add_row(str(c.id), c.name, f"{c.playbook_id}@{c.version}", c.status, starts, counts)
    return table


def task_table(tasks: list[TaskPublic], *, title: str) -> Table:
    table = Table(title=title)
    for header in (_("id"), _("campaign"), _("step"), _("owner"), _("due"), _("state"), _("channel")):
        table.add_column(header)
    for t in tasks:
        state = t.state + (" " + _("(overdue)") if t.overdue else "")
        table.add_row(str(t.id), str(t.campaign_id), t.name, t.owner, t.due_local, state, t.channel)
    return table


def _print_campaign(campaign: CampaignPublic, tasks: list[TaskPublic] | None, *, as_json: bool) -> None:
    if as_json:
        shape: dict[str, object] = {"campaign": campaign.as_json()}
        if tasks is not None:
            shape["tasks"] = [t.as_json() for t in tasks]
        print_json(shape)
        return
    console = Console()
    console.print(_campaign_table([campaign]))
    if tasks is not None:
        console.print(task_table(tasks, title=_("Tasks of campaign {id}", id=campaign.id)))


def _max_late(text: str) -> int:
    try:
        return parse_duration(text)
    except TimeSyntaxError as exc:
        raise InvalidInput(f"--max-late: {exc}", code="invalid_option") from None


@app.command("start", help=_("Start a campaign from a playbook version: every step becomes a task."))
def start(
    playbook: str = typer.Option(
        ..., "--playbook", help=_("Playbook ID (latest approved version) or ID@VERSION")
    ),
    start_at: str = typer.Option(
        ..., "--start", help=_("When D0 begins: 'YYYY-MM-DD HH:MM' in --tz, or 'now'")
    ),
    tz: str | None = typer.Option(None, "--tz", help=_("Campaign time zone (default: the playbook's)")),
    name: str | None = typer.Option(None, "--name", help=_("Campaign name (default: playbook id and date)")),
    assign: list[str] = typer.Option([], "--assign", help=_("Owners: ROLE=PERSON[,ROLE=PERSON…]")),
    notify: list[str] = typer.Option(
        [], "--notify", help=_("Where reminders go: ROLE=ENDPOINT[,…] (*=ENDPOINT for every role)")
    ),
    send: list[str] = typer.Option(
        [],
        "--send",
        help=_(
            "Send the steps on a channel themselves: CHANNEL=ENDPOINT[,…] (e.g. community_group=group-robot)"
        ),
    ),
    versus: list[str] = typer.Option(
        [],
        "--versus",
        help=_(
            "Run other versions side by side as an experiment, each person in one: ID@VERSION (repeatable)"
        ),
    ),
    split: str = typer.Option(
        "", "--split", help=_("Weights of --playbook and the --versus versions, e.g. 50,50 (default: equal)")
    ),
    max_late: str = typer.Option(
        "1h", "--max-late", help=_("A task later than this when a worker gets to it is missed, not sent")
    ),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    workspace: Path | None = workspace_option(),
    as_json: bool = json_option(),
) -> None:
    now = datetime.now(UTC)
    request = LaunchRequest(
        playbook=playbook,
        start=start_at,
        tz=tz,
        name=name,
        assign=parse_pairs(assign, option="--assign"),
        notify=parse_pairs(notify, option="--notify"),
        send=parse_pairs(send, option="--send", shape="CHANNEL=ENDPOINT"),
        versus=list(versus),
        split=_split(split) if split.strip() else None,
        max_late=_max_late(max_late) if max_late else DEFAULT_MAX_LATE,
    )
    with app_session(workspace) as session:
        campaigns = launch(session=session, request=request, by=actor(by), now=now)
        session.flush()
        shown = [
            (
                describe(session=session, campaign=c, now=now),
                list_tasks(session=session, where=TaskFilter(campaign_id=c.id), now=now),
            )
            for c in campaigns
        ]
        arms = campaigns[0].arms
        key = campaigns[0].experiment_key
    if as_json and versus:
        print_json(
            {
                "experiment": {"key": key, "arms": arms},
                "campaigns": [
                    {"campaign": c.as_json(), "tasks": [t.as_json() for t in t_]} for c, t_ in shown
                ],
            }
        )
        return
    for campaign, tasks in shown:
        if not as_json:
            Console().print(_("Campaign {id} started: {count} task(s).", id=campaign.id, count=len(tasks)))
        _print_campaign(campaign, tasks, as_json=as_json)


def _split(text: str) -> list[float]:
    try:
        weights = [float(part) for part in text.split(",")]
    except ValueError:
        raise InvalidInput(
            _("--split {value!r}: write one number per version, e.g. 50,50", value=text), code="invalid_split"
        ) from None
    return weights


@app.command("list", help=_("List campaigns with their status and task counts."))
def list_command(
    status: str | None = typer.Option(None, "--status", help=_("Only running|paused|cancelled|finished")),
    workspace: Path | None = workspace_option(),
    as_json: bool = json_option(),
) -> None:
    with app_session(workspace) as session:
        campaigns = list_campaigns(session=session, status=status)
    if as_json:
        print_json({"campaigns": [c.as_json() for c in campaigns]})
    elif not campaigns:
        Console().print(
            _("No campaigns yet: start one with sopflow campaign start --playbook ID --start now")
        )
    else:
        Console().print(_campaign_table(campaigns))


@app.command("show", help=_("Show a campaign and its tasks."))
def show(
    campaign_id: int = typer.Argument(..., help=_("Campaign id")),
    workspace: Path | None = workspace_option(),
    as_json: bool = json_option(),
) -> None:
    with app_session(workspace) as session:
        campaign = get_campaign(session=session, campaign_id=campaign_id)
        shown = describe(session=session, campaign=campaign)
        tasks = list_tasks(session=session, where=TaskFilter(campaign_id=campaign_id))
    _print_campaign(shown, tasks, as_json=as_json)


@app.command("pause", help=_("Pause a campaign: nothing is delivered until it is resumed."))
def pause(
    campaign_id: int = typer.Argument(..., help=_("Campaign id")),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    workspace: Path | None = workspace_option(),
    as_json: bool = json_option(),
) -> None:
    with app_session(workspace) as session:
        campaign = pause_campaign(session=session, campaign_id=campaign_id, by=actor(by))
        shown = describe(session=session, campaign=campaign)
    _print_campaign(shown, None, as_json=as_json)


@app.command("resume", help=_("Resume a paused campaign: tasks that came due meanwhile are due now."))
def resume(
    campaign_id: int = typer.Argument(..., help=_("Campaign id")),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    workspace: Path | None = workspace_option(),
    as_json: bool = json_option(),
) -> None:
    with app_session(workspace) as session:
        campaign = resume_campaign(session=session, campaign_id=campaign_id, by=actor(by))
        shown = describe(session=session, campaign=campaign)
    _print_campaign(shown, None, as_json=as_json)


@app.command("cancel", help=_("Cancel a campaign: its open tasks are skipped with the reason."))
def cancel(
    campaign_id: int = typer.Argument(..., help=_("Campaign id")),
    why: str = typer.Option("", "--why", help=_("Why it is cancelled (kept in each task's history)")),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    workspace: Path | None = workspace_option(),
    as_json: bool = json_option(),
) -> None:
    with app_session(workspace) as session:
        campaign = cancel_campaign(session=session, campaign_id=campaign_id, by=actor(by), why=why)
        shown = describe(session=session, campaign=campaign)
    _print_campaign(shown, None, as_json=as_json)


def _register_status() -> None:
    """``status`` and ``calendar`` live with the campaign status module."""
    from sopflow.campaign.status_commands import calendar_command, calendar_help, status_command, status_help

    app.command("status", help=status_help())(status_command)
    app.command("calendar", help=calendar_help())(calendar_command)


_register_status()

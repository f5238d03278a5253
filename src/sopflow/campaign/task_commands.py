"""``sopflow tasks [--mine P] [--today] [--campaign ID]`` and ``tasks show|done|skip|confirm|audience``.

``--json`` shapes (stable):

- listing: ``{"tasks": [task, ...]}``, a task being ``{"id", "campaign_id", "step", "name", "role",
  "owner", "channel", "state", "due_at", "due_local", "deadline_at", "overdue", "variant",
  "audience_size", "action", "text", "materials", "checklist", "note", "last_error", "history"}``
  (``history``: ``[{"at", "from", "to", "actor", "reason"}]``, filled by ``show``).
- ``show``, ``done``, ``skip``, ``confirm``: ``{"task": task}``
- ``audience``: ``{"task": ID, "persons": N, "output": PATH}``
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from sopflow.accounts.audit import record_audit
from sopflow.analytics.options import json_option, workspace_option
from sopflow.campaign.commands import BY_HELP, task_table
from sopflow.campaign.lifecycle import TaskFilter, list_tasks
from sopflow.campaign.public import TaskPublic
from sopflow.campaign.start import frozen_playbook
from sopflow.campaign.tasks import STATES, confirm_task, get_task, mark_done, skip_task
from sopflow.campaign.touches import variant_of
from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.store.cli import actor, app_session, print_json
from sopflow.store.runs import Campaign, PlaybookVersion, Task

app = typer.Typer(no_args_is_help=False, rich_markup_mode=None, invoke_without_command=True)


@app.callback()
def tasks_command(
    ctx: typer.Context,
    mine: str | None = typer.Option(None, "--mine", help=_("Only the tasks of this person")),
    today: bool = typer.Option(
        False, "--today", help=_("Only tasks due today (in each campaign's time zone)")
    ),
    campaign: int | None = typer.Option(None, "--campaign", help=_("Only the tasks of this campaign")),
    state: str | None = typer.Option(None, "--state", help=_("Only tasks in this state")),
    all_tasks: bool = typer.Option(False, "--all", help=_("Also finished tasks (default: open ones only)")),
    workspace: Path | None = workspace_option(),
    as_json: bool = json_option(),
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if state is not None and state not in STATES:
        raise InvalidInput(
            _("--state {value!r}: choose one of {choices}", value=state, choices=", ".join(STATES)),
            code="invalid_option",
        )
    where = TaskFilter(
        campaign_id=campaign,
        owner=mine,
        state=state,
        today=today,
        open_only=state is None and not all_tasks,
    )
    with app_session(workspace) as session:
        tasks = list_tasks(session=session, where=where)
    if as_json:
        print_json({"tasks": [t.as_json() for t in tasks]})
    elif not tasks:
        Console().print(_("No tasks match."))
    else:
        Console().print(task_table(tasks, title=_("Tasks")))


def _one(session_task: TaskPublic, *, as_json: bool, verbose: bool = False) -> None:
    if as_json:
        print_json({"task": session_task.as_json()})
        return
    console = Console()
    console.print(task_table([session_task], title=_("Task {id}", id=session_task.id)))
    if not verbose:
        return
    console.print(_("To do: {action}", action=session_task.action))
    if session_task.text:
        console.print(_("Script (ready to paste):"), style="bold")
        console.print(session_task.text, markup=False)
    for event in session_task.history:
        console.print(
            f"{event['at']}  {event['from'] or '-'} → {event['to']}  {event['actor']}  {event['reason']}",
            markup=False,
        )


def _public(workspace: Path | None, task_id: int) -> TaskPublic:
    with app_session(workspace) as session:
        task = get_task(session=session, task_id=task_id)
        found = list_tasks(session=session, where=TaskFilter(campaign_id=task.campaign_id), history=True)
    return next(t for t in found if t.id == task_id)


@app.command("show", help=_("Show one task: what to do, the script, and its history."))
def show(
    task_id: int = typer.Argument(..., help=_("Task id")),
    workspace: Path | None = workspace_option(),
    as_json: bool = json_option(),
) -> None:
    _one(_public(workspace, task_id), as_json=as_json, verbose=True)


@app.command("done", help=_("Mark a task done (the steps that follow it get their due time)."))
def done(
    task_id: int = typer.Argument(..., help=_("Task id")),
    note: str = typer.Option("", "--note", help=_("What was done, kept with the task")),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    workspace: Path | None = workspace_option(),
    as_json: bool = json_option(),
) -> None:
    with app_session(workspace) as session:
        mark_done(session=session, task_id=task_id, by=actor(by), note=note, now=datetime.now(UTC))
    _one(_public(workspace, task_id), as_json=as_json)


@app.command("skip", help=_("Skip a task, saying why."))
def skip(
    task_id: int = typer.Argument(..., help=_("Task id")),
    why: str = typer.Option(..., "--why", help=_("Why it is skipped")),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    workspace: Path | None = workspace_option(),
    as_json: bool = json_option(),
) -> None:
    with app_session(workspace) as session:
        skip_task(session=session, task_id=task_id, why=why, by=actor(by), now=datetime.now(UTC))
    _one(_public(workspace, task_id), as_json=as_json)


@app.command("confirm", help=_("Answer for an uncertain task: did the message arrive?"))
def confirm(
    task_id: int = typer.Argument(..., help=_("Task id")),
    arrived: bool = typer.Option(
        ..., "--arrived/--not-arrived", help=_("It arrived (mark sent), or it did not (send it again)")
    ),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    workspace: Path | None = workspace_option(),
    as_json: bool = json_option(),
) -> None:
    with app_session(workspace) as session:
        confirm_task(session=session, task_id=task_id, arrived=arrived, by=actor(by), now=datetime.now(UTC))
    _one(_public(workspace, task_id), as_json=as_json)


@app.command("audience", help=_("Export the people a task is for (evaluated at its due time) as CSV."))
def audience(
    task_id: int = typer.Argument(..., help=_("Task id")),
    output: Path = typer.Option(..., "-o", "--output", help=_("CSV file to write")),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    workspace: Path | None = workspace_option(),
    as_json: bool = json_option(),
) -> None:
    with app_session(workspace) as session:
        task = get_task(session=session, task_id=task_id)
        persons = list(task.audience or []) if task.audience is not None else None
        variants = _variants(session, task) if persons else {}
        if persons is not None:
            record_audit(
                session=session,
                actor=actor(by),
                action="export.audience",
                target_kind="task",
                target_id=task_id,
                details={"persons": len(persons), "output": str(output)},
            )
    if persons is None:
        raise InvalidInput(
            _(
                "the audience of task {id} is not known yet: it is evaluated when the task is due (run sopflow worker)",
                id=task_id,
            ),
            code="audience_unknown",
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["person", "variant"])
    for person in persons:
        writer.writerow([person, variants.get(str(person), "")])
    # Written whole at the end (temporary file, then renamed): a failed export leaves no half file.
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8-sig")
    tmp.replace(output)
    if as_json:
        print_json({"task": task_id, "persons": len(persons), "output": str(output)})
    else:
        Console().print(_("{count} person(s) written to {path}", count=len(persons), path=output))


def _variants(session: Session, task: Task) -> dict[str, str]:
    """Each person's script variant when the step's script is being tested (as the touches record it)."""
    campaign = session.get(Campaign, task.campaign_id)
    version = session.get(PlaybookVersion, campaign.playbook_version_id) if campaign else None
    assert version is not None
    playbook = frozen_playbook(version)
    out = {}
    for person in task.audience or []:
        variant = variant_of(playbook=playbook, task=task, person=str(person), campaign=campaign)
        if variant is not None:
            out[str(person)] = variant
    return out

"""``sopflow campaign status ID`` and ``sopflow campaign calendar ID -o team.ics``.

``--json`` shapes (stable):

- ``status``: :meth:`CampaignStatus.as_json`: ``{"campaign": {"id", "name", "playbook_id", "version",
  "status", "starts_at"}, "now", "timezone", "progress": {"steps", "due", "executed", "not_yet_due",
  "waiting"}, "execution_rate": rate, "on_time_rate": rate, "states": {state: count},
  "steps": [{"task_id", "step", "name", "position", "owner", "state", "due_at", "due_local",
  "deadline_at", "executed_at", "on_time", "execution_rate": rate}],
  "people": [{"owner", "tasks", "due", "executed", "overdue", "execution_rate", "on_time_rate"}],
  "overdue" | "next_due" | "uncertain": [{"task_id", "step", "name", "owner", "state", "due_at",
  "due_local", "deadline_at", "late_seconds", "past_deadline_seconds", "last_error"}]}``, where a rate is
  ``{"numerator", "denominator", "value" (null when the denominator is 0), "definition"}``.
- ``calendar``: ``{"output": PATH, "events": N}``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from sopflow.analytics.options import echo_json, json_option, workspace_option
from sopflow.i18n import _
from sopflow.store.cli import app_session


def status_help() -> str:
    return _(
        "Where a campaign stands: progress against the timeline, execution rate (执行率) per step and per "
        "person, on-time rate, overdue and uncertain tasks, what is due next."
    )


def calendar_help() -> str:
    return _("Write the campaign's tasks as an iCalendar file (.ics) for the team's calendars.")


def status_command(
    campaign_id: int = typer.Argument(..., help=_("Campaign id (see `sopflow campaign list`)")),
    as_json: bool = json_option(),
    workspace: Path | None = workspace_option(),
) -> None:
    from sopflow.campaign.status import campaign_status
    from sopflow.campaign.status_view import print_status

    with app_session(workspace) as session:
        status = campaign_status(session=session, campaign_id=campaign_id, now=datetime.now(UTC))
    if as_json:
        echo_json(status.as_json())
        return
    print_status(status)


def calendar_command(
    campaign_id: int = typer.Argument(..., help=_("Campaign id (see `sopflow campaign list`)")),
    output: Path = typer.Option(..., "--output", "-o", help=_("The .ics file to write, e.g. team.ics")),
    as_json: bool = json_option(),
    workspace: Path | None = workspace_option(),
) -> None:
    from sopflow.campaign.calendar import campaign_calendar
    from sopflow.playbook.render.output import write_atomic

    with app_session(workspace) as session:
        data = campaign_calendar(session=session, campaign_id=campaign_id)
    path = write_atomic(output, data)
    events = data.count(b"BEGIN:VEVENT")
    if as_json:
        echo_json({"output": str(path), "events": events})
        return
    typer.echo(_("Calendar written: {path} ({count} task(s))", path=path.resolve(), count=events))

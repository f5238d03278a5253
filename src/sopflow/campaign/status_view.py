"""``sopflow campaign status`` for people: the numbers of :mod:`sopflow.campaign.status` as Rich tables.

Every rate is written with what it divides (``75.0% (3/4)``), and the heading says the moment it is
counted at and in which time zone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from sopflow.campaign.status import CampaignStatus, Rate, TaskLine
from sopflow.i18n import N_, _

STATE_LABELS = {
    "pending": N_("not yet due"),
    "due": N_("due, not done"),
    "sending": N_("being sent"),
    "sent": N_("sent"),
    "done": N_("done"),
    "skipped": N_("skipped"),
    "failed": N_("failed"),
    "missed": N_("missed (too late)"),
    "uncertain": N_("uncertain"),
}
CAMPAIGN_LABELS = {
    "running": N_("running"),
    "paused": N_("paused"),
    "cancelled": N_("cancelled"),
    "finished": N_("finished"),
}
STATE_STYLES = {"sent": "green", "done": "green", "failed": "red", "missed": "red", "uncertain": "yellow"}


def rate_text(rate: Rate) -> str:
    if rate.value is None:
        return f"— ({rate.numerator}/{rate.denominator})"
    return f"{rate.value:.1%} ({rate.numerator}/{rate.denominator})"


def duration_text(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    days, rest = divmod(max(0, seconds), 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("{days}d {hours}h", days=days, hours=hours)
    if hours:
        return _("{hours}h {minutes}m", hours=hours, minutes=minutes)
    return _("{minutes}m", minutes=minutes)


def state_text(state: str) -> Text:
    return Text(_(STATE_LABELS.get(state, state)), style=STATE_STYLES.get(state, ""))


def status_renderable(status: CampaignStatus) -> RenderableType:
    zone = ZoneInfo(status.timezone)
    campaign = status.campaign
    at = datetime.fromisoformat(status.now).astimezone(zone)
    progress = status.progress
    parts: list[RenderableType] = [
        Text(
            _(
                "Campaign {id} · {name} ({playbook}@{version}, {state}) — as of {at} {tz}",
                id=campaign["id"],
                name=campaign["name"],
                playbook=campaign["playbook_id"],
                version=campaign["version"],
                state=_(CAMPAIGN_LABELS.get(campaign["status"], campaign["status"])),
                at=f"{at:%Y-%m-%d %H:%M}",
                tz=status.timezone,
            ),
            style="bold",
        ),
        Text(
            _(
                "Progress: {due} of {steps} steps due so far, {executed} of them executed; {ahead} still "
                "ahead, {waiting} waiting for the step they follow.",
                due=progress.due,
                steps=progress.steps,
                executed=progress.executed,
                ahead=progress.not_yet_due,
                waiting=progress.waiting,
            )
        ),
        Text(
            _("Execution rate (executed ÷ due): {rate}", rate=rate_text(status.execution_rate)), style="bold"
        ),
        Text(
            _(
                "On-time rate (executed by the deadline ÷ executed): {rate}",
                rate=rate_text(status.on_time_rate),
            )
        ),
        Text(
            _(
                "Tasks by state: {counts}",
                counts=", ".join(f"{_(STATE_LABELS[s])} {n}" for s, n in status.states.items()),
            )
        ),
        _steps_table(status),
        _people_table(status),
    ]
    if status.overdue:
        parts.append(_lines_table(_("Overdue"), status.overdue, late=True))
    else:
        parts.append(Text(_("Nothing is overdue.")))
    if status.uncertain:
        parts.append(
            _lines_table(_("Uncertain: a person must confirm whether these arrived"), status.uncertain)
        )
    if status.next_due:
        parts.append(_lines_table(_("Next due"), status.next_due))
    return Group(*parts)


def print_status(status: CampaignStatus, console: Console | None = None) -> None:
    (console or Console(highlight=False)).print(status_renderable(status))


def _steps_table(status: CampaignStatus) -> Table:
    table = Table(title=_("Per step"), box=box.SIMPLE_HEAD, title_justify="left")
    for header in (_("Task"), _("Step"), _("Owner"), _("Due at"), _("Task state")):
        table.add_column(header)
    table.add_column(_("Executed"), justify="right")
    table.add_column(_("On time"))
    for step in status.steps:
        on_time = "—" if step.on_time is None else (_("on time") if step.on_time else _("late"))
        table.add_row(
            str(step.task_id),
            step.name,
            step.owner,
            step.due_local,
            state_text(step.state),
            rate_text(step.execution_rate),
            on_time,
        )
    return table


def _people_table(status: CampaignStatus) -> Table:
    table = Table(title=_("Per person"), box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column(_("Owner"))
    for header in (_("Tasks"), _("Due so far"), _("Execution rate"), _("On-time rate"), _("Overdue")):
        table.add_column(header, justify="right")
    for person in status.people:
        table.add_row(
            person.owner,
            str(person.tasks),
            str(person.due),
            rate_text(person.execution_rate),
            rate_text(person.on_time_rate),
            str(person.overdue),
        )
    return table


def _lines_table(title: str, lines: list[TaskLine], *, late: bool = False) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for header in (_("Task"), _("Step"), _("Owner"), _("Due at"), _("Task state")):
        table.add_column(header)
    if late:
        table.add_column(_("Late by"), justify="right")
        table.add_column(_("Past deadline by"), justify="right")
    for line in lines:
        row: list[str | Text] = [
            str(line.task_id),
            line.name,
            line.owner,
            line.due_local,
            state_text(line.state),
        ]
        if late:
            row += [duration_text(line.late_seconds), duration_text(line.past_deadline_seconds)]
        table.add_row(*row)
    return table

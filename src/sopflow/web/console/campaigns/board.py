"""A campaign's tasks two ways: a board with a column per owner (cards by state: what needs a person first),
and a calendar of weeks in the campaign's time zone (see :mod:`sopflow.campaign.agenda`)."""

from __future__ import annotations

from datetime import date, timedelta

from nicegui import ui

from sopflow.campaign.agenda import AgendaTask, CampaignAgenda, board_columns
from sopflow.i18n import N_, _
from sopflow.web.console.campaigns.common import STATE_COLORS, state_label
from sopflow.web.console.campaigns.tasks import CardTask, TaskDialogs, task_card
from sopflow.web.console.context import PageContext
from sopflow.web.console.widgets import empty

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
MAX_WEEKS = 12  # a longer campaign is shown as its first twelve weeks, and says so


def card_of(task: AgendaTask, *, campaign_id: int, day: str | None) -> CardTask:
    when = f"{day} {task.start_local}" if day else _("waiting for the step it follows")
    return CardTask(
        task_id=task.task_id,
        campaign_id=campaign_id,
        name=task.name,
        owner=task.owner,
        state=task.state,
        when=when,
        channel=task.channel,
        overdue=task.overdue,
        note=task.note,
        audience_size=task.audience_size,
    )


def _days(agenda: CampaignAgenda) -> dict[int, str]:
    return {t.task_id: d.date for d in agenda.days for t in d.tasks}


def task_board(ctx: PageContext, agenda: CampaignAgenda, dialogs: TaskDialogs) -> None:
    columns = board_columns(agenda)
    if not columns:
        empty(_("this campaign has no tasks"))
        return
    days = _days(agenda)
    with ui.row().classes("w-full no-wrap items-start gap-3").style("overflow-x: auto"):
        for owner, tasks in columns.items():
            with (
                ui.column()
                .classes("gap-2 q-pa-sm bg-grey-2 rounded-borders")
                .style("min-width: 280px; width: 300px")
            ):
                with ui.row().classes("w-full items-center").props(f'data-testid="board-column-{owner}"'):
                    ui.label(owner).classes("text-subtitle2")
                    ui.space()
                    ui.label(_("{count} task(s)", count=len(tasks))).classes("text-caption text-grey-7")
                for task in tasks:
                    task_card(
                        ctx,
                        card_of(task, campaign_id=agenda.campaign_id, day=days.get(task.task_id)),
                        dialogs,
                    )


def task_calendar(agenda: CampaignAgenda) -> None:
    """Weeks from Monday to Sunday, from the first task's day to the last's, each task at its local time."""
    if not agenda.days:
        empty(_("no task has a due time yet"))
    else:
        ui.label(_("Times in {tz}", tz=agenda.timezone)).classes("text-caption text-grey-7")
        by_day = {d.date: d.tasks for d in agenda.days}
        first = date.fromisoformat(agenda.days[0].date)
        last = date.fromisoformat(agenda.days[-1].date)
        monday = first - timedelta(days=first.weekday())
        weeks = min(MAX_WEEKS, (last - monday).days // 7 + 1)
        with ui.grid(columns=7).classes("w-full gap-1").props('data-testid="campaign-calendar"'):
            for name in WEEKDAYS:
                ui.label(_(name)).classes("text-caption text-weight-bold text-center")
            for offset in range(weeks * 7):
                day = monday + timedelta(days=offset)
                _day_cell(day, by_day.get(day.isoformat(), []), in_range=first <= day <= last)
        if (last - monday).days // 7 + 1 > MAX_WEEKS:
            ui.label(_("Only the first {n} weeks are shown.", n=MAX_WEEKS)).classes(
                "text-caption text-grey-7"
            )
    if agenda.unscheduled:
        ui.label(_("Waiting for the step they follow (no due time yet)")).classes("text-subtitle2 q-mt-md")
        for task in agenda.unscheduled:
            ui.label(f"#{task.task_id} {task.name} · {task.owner} · {state_label(task.state)}").classes(
                "text-body2"
            )


def _day_cell(day: date, tasks: list[AgendaTask], *, in_range: bool) -> None:
    shade = "bg-white" if in_range else "bg-grey-2"
    with (
        ui.column()
        .classes(f"{shade} q-pa-xs gap-1 rounded-borders")
        .style("min-height: 90px; border: 1px solid #e0e0e0")
    ):
        ui.label(f"{day:%m-%d}").classes("text-caption text-grey-7")
        for task in tasks:
            color = STATE_COLORS.get(task.state, "grey-6")
            chip = ui.label(f"{task.start_local} {task.name} · {task.owner}")
            chip.classes(f"text-caption text-white bg-{color} q-px-xs rounded-borders ellipsis w-full")
            chip.props(f'data-testid="calendar-task-{task.task_id}"')
            chip.tooltip(f"#{task.task_id} · {state_label(task.state)} · {task.channel}")

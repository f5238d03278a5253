"""``/campaigns/tasks``: today's tasks for me (or for any staff member, or everyone), each due today in its
campaign's time zone, with the same done / skip / confirm actions as the board."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from sqlalchemy import select

from sopflow.campaign.lifecycle import TaskFilter, list_tasks
from sopflow.i18n import _
from sopflow.store.runs import Staff
from sopflow.web.console.campaigns.tasks import CardTask, TaskDialogs, task_card
from sopflow.web.console.context import PageContext, open_page
from sopflow.web.console.layout import frame
from sopflow.web.console.widgets import empty

EVERYONE = ""


@ui.page("/campaigns/tasks")
def todays_tasks_page(request: Request) -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    with frame(ctx, _("Today's tasks")):
        TodayView(ctx).build()
    return None


class TodayView:
    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx
        with ctx.session() as session:
            self.staff = list(session.scalars(select(Staff.name).order_by(Staff.name)))
        # A login that is also a staff member's name sees that person's tasks first.
        self.owner = ctx.user_name if ctx.user_name in self.staff else EVERYONE
        self.dialogs = TaskDialogs(ctx, lambda: self.tasks.refresh())

    def build(self) -> None:
        ui.link(_("← all campaigns"), "/campaigns").classes("text-caption")
        options = {EVERYONE: _("everyone"), **{name: name for name in self.staff}}
        pick = ui.select(options, value=self.owner, label=_("Whose tasks")).classes("w-64")
        pick.props('data-testid="today-owner"')

        def chosen(value: object) -> None:
            self.owner = str(value) if value in options else EVERYONE
            self.tasks.refresh()

        pick.on_value_change(lambda e: chosen(e.value))
        self.tasks()

    @ui.refreshable_method
    def tasks(self) -> None:
        now = datetime.now(UTC)
        where = TaskFilter(owner=self.owner or None, today=True)
        with self.ctx.session() as session:
            found = list_tasks(session=session, where=where, now=now)
        ui.label(
            _(
                "{count} task(s) due today, each in its campaign's time zone (as of {at} UTC)",
                count=len(found),
                at=f"{now:%H:%M}",
            )
        ).classes("text-caption text-grey-7")
        if not found:
            empty(_("nothing due today"))
            return
        with ui.column().classes("w-full gap-2").style("max-width: 720px").props('data-testid="today-list"'):
            for task in found:
                card = CardTask(
                    task_id=task.id,
                    campaign_id=task.campaign_id,
                    name=task.name,
                    owner=task.owner,
                    state=task.state,
                    when=task.due_local,
                    channel=task.channel,
                    overdue=task.overdue,
                    note=task.note,
                    audience_size=task.audience_size,
                )
                task_card(self.ctx, card, self.dialogs, show_owner=True)

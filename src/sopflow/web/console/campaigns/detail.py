"""``/campaigns/{id}``: one campaign — its execution rate and progress, pause/resume/cancel, the board of
tasks by person, the calendar, per step and per person what ``sopflow campaign status`` shows, and the
per-step touches and conversions (counted on demand, off the event loop: it reads every event)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import run, ui

from sopflow.campaign.agenda import campaign_agenda
from sopflow.campaign.followup import campaign_steps_report
from sopflow.campaign.lifecycle import cancel_campaign, pause_campaign, resume_campaign
from sopflow.campaign.status import CampaignStatus, campaign_status
from sopflow.errors import NotFound
from sopflow.i18n import _

# The fixed paths under /campaigns/ must be registered before /campaigns/{campaign_id}, or "tasks" and
# "new" would be taken for an id: importing their modules here registers them first, whatever the order.
from sopflow.web.console.campaigns import listing, start_form, today  # noqa: F401
from sopflow.web.console.campaigns.board import task_board, task_calendar
from sopflow.web.console.campaigns.common import (
    CAMPAIGN_COLORS,
    campaign_label,
    rate_text,
    rate_value,
    state_label,
)
from sopflow.web.console.campaigns.report import report_button
from sopflow.web.console.campaigns.tasks import TaskDialogs, bounded_text
from sopflow.web.console.campaigns.touches import steps_numbers
from sopflow.web.console.context import PageContext, open_page
from sopflow.web.console.layout import frame
from sopflow.web.console.widgets import data_table, empty, figure

MAX_ID = 2**63


@ui.page("/campaigns/{campaign_id}")
def campaign_page(request: Request, campaign_id: int) -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    try:
        if not 0 < campaign_id < MAX_ID:  # the database's integers end there; nothing beyond can exist
            raise NotFound(_("no campaign with id {id}", id=campaign_id), code="unknown_campaign")
        with ctx.session() as session:
            title = campaign_status(session=session, campaign_id=campaign_id, now=datetime.now(UTC)).campaign[
                "name"
            ]
    except NotFound as exc:
        with frame(ctx, _("Campaigns")):
            empty(exc.message)
        return None
    with frame(ctx, title):
        CampaignView(ctx, campaign_id).build()
    return None


class CampaignView:
    def __init__(self, ctx: PageContext, campaign_id: int) -> None:
        self.ctx = ctx
        self.campaign_id = campaign_id
        self.tab = "board"
        self.dialogs = TaskDialogs(ctx, self.refresh)
        self.cancel_dialog = ui.dialog()

    def build(self) -> None:
        ui.link(_("← all campaigns"), "/campaigns").classes("text-caption")
        self.content()

    def refresh(self) -> None:
        self.content.refresh()

    @ui.refreshable_method
    def content(self) -> None:
        now = datetime.now(UTC)
        with self.ctx.session() as session:
            status = campaign_status(session=session, campaign_id=self.campaign_id, now=now)
            agenda = campaign_agenda(session=session, campaign_id=self.campaign_id, now=now)
        self.header(status)
        self.figures(status)
        with ui.tabs().props("dense align=left no-caps") as tabs:
            ui.tab("board", _("Board")).props('data-testid="tab-board"')
            ui.tab("calendar", _("Calendar")).props('data-testid="tab-calendar"')
            ui.tab("steps", _("Per step")).props('data-testid="tab-steps"')
            ui.tab("people", _("Per person")).props('data-testid="tab-people"')
            ui.tab("touches", _("Touches and conversions")).props('data-testid="tab-touches"')
        tabs.on_value_change(lambda e: setattr(self, "tab", e.value))
        with ui.tab_panels(tabs, value=self.tab).classes("w-full bg-transparent"):
            with ui.tab_panel("board"):
                task_board(self.ctx, agenda, self.dialogs)
            with ui.tab_panel("calendar"):
                task_calendar(agenda)
            with ui.tab_panel("steps"):
                self.steps(status)
            with ui.tab_panel("people"):
                self.people(status)
            with ui.tab_panel("touches"):
                self.touches()

    def header(self, status: CampaignStatus) -> None:
        campaign = status.campaign
        zone = ZoneInfo(status.timezone)
        start = (
            datetime.fromisoformat(campaign["starts_at"]).astimezone(zone) if campaign["starts_at"] else None
        )
        with ui.row().classes("w-full items-center gap-3"):
            ui.badge(
                campaign_label(campaign["status"]), color=CAMPAIGN_COLORS.get(campaign["status"], "grey-6")
            ).props('data-testid="campaign-status"')
            ui.label(f"{campaign['playbook_id']}@{campaign['version']}").classes("text-body2")
            if start is not None:
                ui.label(_("starts {at} ({tz})", at=f"{start:%Y-%m-%d %H:%M}", tz=status.timezone)).classes(
                    "text-body2 text-grey-8"
                )
            ui.space()
            report_button(self.ctx, self.campaign_id)
            ui.link(_("Calendar file (.ics)"), f"/api/v1/campaigns/{self.campaign_id}/calendar.ics").classes(
                "text-caption"
            )
            if self.ctx.can("campaign.pause"):
                if campaign["status"] == "running":
                    ui.button(
                        _("Pause"), icon="pause", on_click=self.ctx.act("campaign.pause", self.pause)
                    ).props('outline data-testid="campaign-pause"')
                if campaign["status"] == "paused":
                    ui.button(
                        _("Resume"), icon="play_arrow", on_click=self.ctx.act("campaign.pause", self.resume)
                    ).props('outline data-testid="campaign-resume"')
                if campaign["status"] in ("running", "paused"):
                    ui.button(_("Cancel campaign"), icon="stop", on_click=self.ask_cancel).props(
                        'outline color=negative data-testid="campaign-cancel"'
                    )

    def figures(self, status: CampaignStatus) -> None:
        at = datetime.fromisoformat(status.now).astimezone(ZoneInfo(status.timezone))
        moment = _("as of {at} {tz}", at=f"{at:%Y-%m-%d %H:%M}", tz=status.timezone)
        rate = status.execution_rate
        on_time = status.on_time_rate
        progress = status.progress
        with ui.row().classes("gap-3 q-my-sm"):
            figure(
                _("Execution rate"),
                rate_value(rate),
                note=_(
                    "executed ÷ due: {n}/{d}, {moment}", n=rate.numerator, d=rate.denominator, moment=moment
                ),
                testid="execution-rate",
            )
            figure(
                _("On-time rate"),
                rate_value(on_time),
                note=_("by the deadline ÷ executed: {n}/{d}", n=on_time.numerator, d=on_time.denominator),
            )
            figure(
                _("Due so far"),
                f"{progress.due} / {progress.steps}",
                note=_(
                    "{ahead} ahead, {waiting} waiting", ahead=progress.not_yet_due, waiting=progress.waiting
                ),
            )
            figure(_("Overdue"), str(len(status.overdue)), note=moment, testid="overdue-count")

    def steps(self, status: CampaignStatus) -> None:
        rows = [
            {
                "task_id": s.task_id,
                "name": s.name,
                "owner": s.owner,
                "due_local": s.due_local,
                "state": state_label(s.state),
                "executed": rate_text(s.execution_rate),
                "on_time": "—" if s.on_time is None else (_("on time") if s.on_time else _("late")),
            }
            for s in status.steps
        ]
        data_table(
            self.ctx,
            rows=rows,
            columns=[
                ("task_id", _("Task")),
                ("name", _("Step")),
                ("owner", _("Owner")),
                ("due_local", _("Due at")),
                ("state", _("Task state")),
                ("executed", _("Executed")),
                ("on_time", _("On time")),
            ],
            export=f"campaign-{self.campaign_id}-steps",
            row_key="task_id",
        )

    def people(self, status: CampaignStatus) -> None:
        rows = [
            {
                "owner": p.owner,
                "tasks": p.tasks,
                "due": p.due,
                "execution_rate": rate_text(p.execution_rate),
                "on_time_rate": rate_text(p.on_time_rate),
                "overdue": p.overdue,
            }
            for p in status.people
        ]
        data_table(
            self.ctx,
            rows=rows,
            columns=[
                ("owner", _("Owner")),
                ("tasks", _("Tasks")),
                ("due", _("Due so far")),
                ("execution_rate", _("Execution rate")),
                ("on_time_rate", _("On-time rate")),
                ("overdue", _("Overdue")),
            ],
            export=f"campaign-{self.campaign_id}-people",
        )

    def touches(self) -> None:
        holder: ui.column | None = None

        async def count() -> None:
            workspace = self.ctx.services.settings.workspace

            def compute() -> dict[str, Any]:
                with self.ctx.session() as session:
                    return campaign_steps_report(
                        session=session, workspace=workspace, campaign_id=self.campaign_id
                    )

            report = await run.io_bound(compute)
            if report is None or holder is None:  # the server is shutting down
                return
            holder.clear()
            with holder:
                steps_numbers(self.ctx, report)

        ui.button(
            _("Count touches and conversions"), icon="calculate", on_click=self.ctx.act("read", count)
        ).props('outline no-caps data-testid="count-touches"')
        holder = ui.column().classes("w-full")
        with holder:
            ui.label(_("Reads every event of the workspace; it may take a moment.")).classes(
                "text-caption text-grey-7"
            )

    def pause(self) -> None:
        with self.ctx.session() as session:
            pause_campaign(session=session, campaign_id=self.campaign_id, by=self.ctx.user_name)
        ui.notify(_("Campaign paused"), type="positive")
        self.refresh()

    def resume(self) -> None:
        with self.ctx.session() as session:
            resume_campaign(session=session, campaign_id=self.campaign_id, by=self.ctx.user_name)
        ui.notify(_("Campaign resumed"), type="positive")
        self.refresh()

    def ask_cancel(self) -> None:
        self.cancel_dialog.clear()
        with self.cancel_dialog, ui.card().style("min-width: 420px"):
            ui.label(_("Cancel the campaign? Its open tasks end skipped.")).classes("text-subtitle1")
            why = ui.textarea(_("Why (kept in the tasks' history)")).classes("w-full")
            why.props('maxlength=2000 autogrow data-testid="cancel-why"')

            def cancel() -> None:
                text = bounded_text(why.value, _("Reason"))
                with self.ctx.session() as session:
                    cancel_campaign(
                        session=session, campaign_id=self.campaign_id, by=self.ctx.user_name, why=text
                    )
                self.cancel_dialog.close()
                ui.notify(_("Campaign cancelled"), type="positive")
                self.refresh()

            with ui.row():
                ui.button(_("Cancel campaign"), on_click=self.ctx.act("campaign.pause", cancel)).props(
                    'color=negative data-testid="cancel-confirm"'
                )
                ui.button(_("Keep it running"), on_click=self.cancel_dialog.close).props("flat")
        self.cancel_dialog.open()

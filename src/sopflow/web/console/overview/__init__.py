"""``/``: the overview — running campaigns, today's tasks, each campaign's stages and targets against the
plan, and the alerts (overdue tasks, targets behind).

The page answers from the app database alone (indexed reads); each campaign's numbers from the event store
are computed after the page is shown, off the event loop (:mod:`.measures`), and filled in when ready.
"""

from __future__ import annotations

from dataclasses import asdict
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import run, ui

from sopflow.campaign.overview import CampaignOverview, campaign_overview
from sopflow.campaign.tasks import EXECUTED
from sopflow.i18n import _, set_language
from sopflow.web.console.context import PageContext, open_page
from sopflow.web.console.layout import frame
from sopflow.web.console.overview.cards import alerts_card, campaign_card, fill_measures
from sopflow.web.console.overview.measures import measure_campaign
from sopflow.web.console.widgets import data_table, empty, figure, percent
from sopflow.workspace_timezone import workspace_timezone


@ui.page("/")
def overview_page(request: Request) -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    with ctx.session() as session:
        zone = ZoneInfo(workspace_timezone(session=session, default=ctx.services.settings.timezone))
        overview = campaign_overview(session=session, zone=zone)
    campaigns = overview.running
    with frame(ctx, _("Overview")):
        _figures(overview)
        behind = alerts_card(overview)
        if not campaigns:
            empty(_("no campaign is running; start one from an approved playbook version"))
        slots = {}
        with ui.row().classes("w-full q-gutter-md items-stretch"):
            for campaign in campaigns:
                slots[campaign.id] = campaign_card(campaign)
        _today_tasks(ctx, [asdict(task) for task in overview.today])

    async def load() -> None:
        set_language(ctx.lang)
        for campaign in campaigns:
            try:
                measures = await run.io_bound(measure_campaign, ctx.services, campaign.id)
            except Exception as exc:  # one campaign's failure is shown on its card, the others still load
                fill_measures(slots[campaign.id], None, behind, error=str(exc))
                continue
            fill_measures(slots[campaign.id], measures, behind)

    if campaigns:
        ui.timer(0.05, load, once=True)
    return None


def _figures(overview: CampaignOverview) -> None:
    rates = [c.execution_rate for c in overview.running]
    due = sum(r.denominator for r in rates)
    executed = sum(r.numerator for r in rates)
    done_today = sum(1 for t in overview.today if t.state in EXECUTED)
    with ui.row().classes("q-gutter-md q-mb-md"):
        figure(_("Running campaigns"), str(len(overview.running)), testid="overview-campaigns")
        figure(
            _("Today's tasks"),
            f"{done_today} / {len(overview.today)}",
            note=_("carried out / due on {day} ({tz}), every owner", day=overview.day, tz=overview.timezone),
            testid="overview-today",
        )
        figure(
            _("Execution rate"),
            percent(executed / due if due else None),
            note=_("{executed} executed of {due} due, running campaigns", executed=executed, due=due),
        )
        figure(
            _("Overdue tasks"),
            str(len(overview.overdue)),
            note=_("open past their deadline"),
            testid="overview-overdue",
        )


def _today_tasks(ctx: PageContext, today: list[dict[str, object]]) -> None:
    ui.label(_("Today's tasks")).classes("text-h6 q-mt-lg")
    if not today:
        empty(_("nothing is due today"))
        return
    data_table(
        ctx,
        rows=today,
        columns=[
            ("due_local", _("Due")),
            ("campaign", _("Campaign")),
            ("name", _("Step")),
            ("owner", _("Owner")),
            ("state", _("Task state")),
        ],
        row_key="task_id",
    )

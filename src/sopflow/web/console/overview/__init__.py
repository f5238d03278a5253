"""``/``: the overview — running campaigns, today's tasks, each campaign's stages and targets against the
plan, and the alerts (overdue tasks, targets behind).

The page answers from the app database alone (indexed reads); each campaign's numbers from the event store
are computed after the page is shown, off the event loop (:mod:`.measures`), and filled in when ready.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import run, ui

from sopflow.campaign.lifecycle import TaskFilter, list_campaigns, list_tasks
from sopflow.campaign.public import CampaignPublic
from sopflow.campaign.status import CampaignStatus, campaign_status
from sopflow.i18n import _, set_language
from sopflow.web.console.context import PageContext, open_page
from sopflow.web.console.layout import frame
from sopflow.web.console.overview.cards import alerts_card, campaign_card, fill_measures
from sopflow.web.console.overview.measures import measure_campaign
from sopflow.web.console.widgets import data_table, empty, figure, percent

ACTIVE = ("running", "paused")


@ui.page("/")
def overview_page(request: Request) -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    now = datetime.now(UTC)
    with ctx.session() as session:
        campaigns = [c for c in list_campaigns(session=session, now=now) if c.status in ACTIVE]
        statuses = {c.id: campaign_status(session=session, campaign_id=c.id, now=now) for c in campaigns}
        today = [t.as_json() for t in list_tasks(session=session, where=TaskFilter(today=True), now=now)]
    names = {c.id: c.name for c in campaigns}
    for task in today:
        task["campaign"] = names.get(int(task["campaign_id"]), task["campaign_id"])
    with frame(ctx, _("Overview")):
        _figures(campaigns, statuses, today)
        behind = alerts_card(ctx, campaigns, statuses)
        if not campaigns:
            empty(_("no campaign is running; start one from an approved playbook version"))
        slots = {}
        with ui.row().classes("w-full q-gutter-md items-stretch"):
            for campaign in campaigns:
                slots[campaign.id] = campaign_card(campaign, statuses[campaign.id])
        _today_tasks(ctx, today)

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


def _figures(
    campaigns: list[CampaignPublic], statuses: dict[int, CampaignStatus], today: list[dict[str, object]]
) -> None:
    due = sum(s.execution_rate.denominator for s in statuses.values())
    executed = sum(s.execution_rate.numerator for s in statuses.values())
    overdue = sum(len(s.overdue) for s in statuses.values())
    done_today = sum(1 for t in today if t["state"] in ("done", "sent"))
    with ui.row().classes("q-gutter-md q-mb-md"):
        figure(_("Running campaigns"), str(len(campaigns)), testid="overview-campaigns")
        figure(
            _("Today's tasks"),
            f"{done_today} / {len(today)}",
            note=_("carried out / due today, every owner"),
            testid="overview-today",
        )
        figure(
            _("Execution rate"),
            percent(executed / due if due else None),
            note=_("{executed} executed of {due} due, running campaigns", executed=executed, due=due),
        )
        figure(
            _("Overdue tasks"), str(overdue), note=_("open past their deadline"), testid="overview-overdue"
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
            ("channel", _("Channel")),
            ("state", _("State")),
        ],
        row_key="id",
    )

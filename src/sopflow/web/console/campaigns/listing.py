"""``/campaigns``: every campaign with its state, playbook version, start and execution rate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from sqlalchemy import select

from sopflow.campaign.overview import execution_rates
from sopflow.campaign.status import EXECUTION_RATE, Rate
from sopflow.i18n import _
from sopflow.store.runs import Campaign
from sopflow.web.console.campaigns.common import campaign_label, rate_text
from sopflow.web.console.context import PageContext, open_page
from sopflow.web.console.layout import frame
from sopflow.web.console.widgets import data_table, empty


def campaign_rows(ctx: PageContext, now: datetime) -> list[dict[str, Any]]:
    with ctx.session() as session:
        campaigns = list(session.scalars(select(Campaign).order_by(Campaign.id.desc())))
        rates = execution_rates(session, [c.id for c in campaigns], now)
    rows = []
    for c in campaigns:
        start = c.starts_at.astimezone(ZoneInfo(c.timezone)) if c.starts_at is not None else None
        rows.append(
            {
                "id": c.id,
                "name": c.name + (f" · {c.arm}" if c.arm else ""),
                "status": campaign_label(c.status),
                "playbook": f"{c.playbook_id}@{c.version}",
                "start": f"{start:%Y-%m-%d %H:%M} {c.timezone}" if start is not None else "—",
                "execution_rate": rate_text(Rate.of(*rates.get(c.id, (0, 0)), EXECUTION_RATE)),
                "created_by": c.created_by,
            }
        )
    return rows


@ui.page("/campaigns")
def campaigns_page(request: Request) -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    now = datetime.now(UTC)
    with frame(ctx, _("Campaigns")):
        with ui.row().classes("items-center gap-2"):
            if ctx.can("campaign.start"):
                ui.button(
                    _("Start a campaign"),
                    icon="play_arrow",
                    on_click=lambda: ui.navigate.to("/campaigns/new"),
                ).props('color=primary data-testid="start-campaign"')
            ui.button(
                _("Today's tasks"), icon="today", on_click=lambda: ui.navigate.to("/campaigns/tasks")
            ).props('flat data-testid="todays-tasks"')
        rows = campaign_rows(ctx, now)
        if not rows:
            empty(_("no campaign yet"))
            return None
        ui.label(
            _(
                "Execution rate = executed ÷ due tasks, as of {at} UTC. Click a row to open the campaign.",
                at=f"{now:%Y-%m-%d %H:%M}",
            )
        ).classes("text-caption text-grey-7")
        table = data_table(
            ctx,
            rows=rows,
            columns=[
                ("id", _("ID")),
                ("name", _("Name")),
                ("status", _("Status")),
                ("playbook", _("Playbook version")),
                ("start", _("Start")),
                ("execution_rate", _("Execution rate")),
                ("created_by", _("Started by")),
            ],
            row_key="id",
        )
        table.props('data-testid="campaign-list"')
        table.on("rowClick", lambda e: ui.navigate.to(f"/campaigns/{int(e.args[1]['id'])}"))
        table.classes("cursor-pointer")
    return None

"""The console's Analytics section: the funnel builder with its drop-off download, the retention heatmap,
referral with its tree and K-factor, and ROI, targets and AARRR against the plan.

The page itself answers from the store's event names alone; every question runs when asked, off the event
loop (:mod:`.common`), on the server's cached engine (:mod:`sopflow.web.analytics.engines`), and gives the
``--json`` numbers of the CLI, each shown with its denominator and time range. Every table has CSV and
Excel downloads (masked for viewers and audited by :func:`~sopflow.web.console.widgets.export_rows`).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from sopflow.i18n import _
from sopflow.web.analytics import answers
from sopflow.web.console.analytics.cohorts import referral_tab, retention_tab
from sopflow.web.console.analytics.common import off_loop
from sopflow.web.console.analytics.funnel import funnel_tab
from sopflow.web.console.analytics.plan import plan_tab
from sopflow.web.console.context import open_page
from sopflow.web.console.layout import frame
from sopflow.web.console.widgets import empty


@ui.page("/analytics")
async def analytics_page(request: Request) -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    names = await off_loop(ctx, answers.event_names, workspace=ctx.services.settings.workspace)
    with frame(ctx, _("Analytics")):
        if not names["events"]:
            empty(_("no events yet: import or send events first (Events section)"))
            return None
        with ui.tabs().classes("w-full") as tabs:
            funnel = ui.tab(_("Funnel")).props('data-testid="tab-funnel"')
            retention = ui.tab(_("Retention")).props('data-testid="tab-retention"')
            referral = ui.tab(_("Referral")).props('data-testid="tab-referral"')
            plan = ui.tab(_("ROI and targets")).props('data-testid="tab-plan"')
        with ui.tab_panels(tabs, value=funnel).classes("w-full bg-transparent"):
            with ui.tab_panel(funnel):
                funnel_tab(ctx, names)
            with ui.tab_panel(retention):
                retention_tab(ctx, names)
            with ui.tab_panel(referral):
                referral_tab(ctx)
            with ui.tab_panel(plan):
                plan_tab(ctx)
    return None

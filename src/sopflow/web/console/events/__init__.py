"""The console's Events section: import files with column mapping, the live stream, API keys."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from sopflow.i18n import _
from sopflow.web.console.context import open_page
from sopflow.web.console.events.keys_panel import keys_panel
from sopflow.web.console.events.live_panel import live_panel
from sopflow.web.console.events.upload_panel import upload_panel
from sopflow.web.console.layout import frame


@ui.page("/events")
def events_page(request: Request) -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    with frame(ctx, _("Event data")):
        with ui.tabs().classes("w-full") as tabs:
            upload_tab = ui.tab(_("Import a file")).props('data-testid="tab-import"')
            live_tab = ui.tab(_("Live stream")).props('data-testid="tab-live"')
            keys_tab = ui.tab(_("API keys")).props('data-testid="tab-keys"')
        with ui.tab_panels(tabs, value=upload_tab, animated=False).classes("w-full"):
            with ui.tab_panel(upload_tab):
                upload_panel(ctx)
            with ui.tab_panel(live_tab):
                live_panel(ctx)
            with ui.tab_panel(keys_tab):
                keys_panel(ctx)
    return None

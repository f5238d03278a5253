"""The console's Overview section."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from sopflow.i18n import _
from sopflow.web.console.context import open_page
from sopflow.web.console.layout import frame
from sopflow.web.console.widgets import empty


@ui.page("/")
def overview_page(request: Request) -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    with frame(ctx, _("Overview")):
        empty(_("coming soon"))
    return None

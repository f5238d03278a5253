"""The console's Settings section: team members and roles, delivery endpoints, the workspace timezone."""

from __future__ import annotations

import zoneinfo

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from sopflow.i18n import _
from sopflow.web.console.context import PageContext, open_page
from sopflow.web.console.layout import frame
from sopflow.web.console.settings.endpoints_panel import endpoints_panel
from sopflow.web.console.settings.members_panel import members_panel
from sopflow.workspace_timezone import set_workspace_timezone, workspace_timezone


def timezone_panel(ctx: PageContext) -> None:
    default = ctx.services.settings.timezone
    with ctx.session() as session:
        current = workspace_timezone(session=session, default=default)
    ui.label(
        _(
            "Times in imported files without a timezone are read in this one; campaigns keep their own. "
            "Installation default: {default}.",
            default=default,
        )
    ).classes("text-grey-7")
    if not ctx.can("settings.manage"):
        ui.label(current).classes("text-h6").props('data-testid="timezone-current"')
        return
    zones = sorted(zoneinfo.available_timezones())
    with ui.row().classes("items-center gap-2"):
        chosen = (
            ui.select(zones, value=current, with_input=True, label=_("Timezone"))
            .props('dense outlined data-testid="timezone-select"')
            .classes("w-64")
        )

        def save() -> None:
            with ctx.session() as session:
                before, after = set_workspace_timezone(
                    session=session, timezone=str(chosen.value or ""), default=default, actor=ctx.user_name
                )
            ui.notify(_("timezone: {before} → {after}", before=before, after=after), type="positive")

        ui.button(_("Save"), on_click=ctx.act("settings.manage", save)).props('data-testid="timezone-save"')


@ui.page("/settings")
def settings_page(request: Request) -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    with frame(ctx, _("Settings")):
        with ui.tabs().classes("w-full") as tabs:
            members_tab = ui.tab(_("Team members")).props('data-testid="tab-members"')
            endpoints_tab = ui.tab(_("Delivery endpoints")).props('data-testid="tab-endpoints"')
            timezone_tab = ui.tab(_("Workspace timezone")).props('data-testid="tab-timezone"')
        with ui.tab_panels(tabs, value=members_tab, animated=False).classes("w-full"):
            with ui.tab_panel(members_tab):
                members_panel(ctx)
            with ui.tab_panel(endpoints_tab):
                endpoints_panel(ctx)
            with ui.tab_panel(timezone_tab):
                timezone_panel(ctx)
    return None

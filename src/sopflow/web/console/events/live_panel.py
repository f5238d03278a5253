"""The Events page's live stream: the newest incoming events, refreshed every 1.5 s, with a pause button.

For debugging tracking: send an event from the app or mini program and watch it arrive. Each refresh reads
only the log written since the last one (:func:`sopflow.web.background.live.recent_events`), off the event
loop. The session is checked again on every refresh; when it ends, the stream stops.
"""

from __future__ import annotations

from typing import Any

from nicegui import run, ui

from sopflow.errors import SopflowError
from sopflow.i18n import _
from sopflow.web.background.live import recent_events
from sopflow.web.console.context import PageContext, notify_error

REFRESH_SECONDS = 1.5
KEEP_ROWS = 200
COLUMNS = ("ts", "event", "user_id", "channel", "campaign", "step", "revenue", "properties")


def live_panel(ctx: PageContext) -> None:
    state: dict[str, Any] = {"cursor": None, "paused": False, "busy": False}
    rows: list[dict[str, Any]] = []
    labels = {
        "ts": _("Time (UTC)"),
        "event": _("Event"),
        "user_id": _("User"),
        "channel": _("Channel"),
        "campaign": _("Campaign"),
        "step": _("Step"),
        "revenue": _("Revenue"),
        "properties": _("Properties"),
    }
    with ui.row().classes("items-center gap-2"):
        pause = ui.button(_("Pause"), icon="pause").props('outline data-testid="live-pause"')
        status = ui.label(_("waiting for events…")).classes("text-grey-7").props('data-testid="live-status"')
    ui.label(
        _(
            "Events sent to the ingest API, latest first (up to {n}); imported files are not shown.",
            n=KEEP_ROWS,
        )
    ).classes("text-caption text-grey-6")
    table = ui.table(
        columns=[{"name": c, "label": labels[c], "field": c, "align": "left"} for c in COLUMNS],
        rows=[],
        row_key="event_id",
        pagination=25,
    ).classes("w-full")
    table.props('flat bordered dense data-testid="live-table"')

    def toggle() -> None:
        state["paused"] = not state["paused"]
        pause.set_text(_("Resume") if state["paused"] else _("Pause"))
        pause.props(f"icon={'play_arrow' if state['paused'] else 'pause'}")
        status.set_text(_("paused") if state["paused"] else _("live"))

    pause.on_click(toggle)

    async def refresh() -> None:
        if state["paused"] or state["busy"]:
            return
        state["busy"] = True
        try:
            ctx.check("read")
            live = await run.io_bound(
                recent_events, ctx.services.store, after=state["cursor"], limit=KEEP_ROWS
            )
        except SopflowError as exc:
            timer.cancel()
            notify_error(exc)
            status.set_text(_("stopped"))
            return
        finally:
            state["busy"] = False
        if live is None:  # the server is shutting down
            return
        state["cursor"] = live.cursor
        if live.events:
            fresh = [{**row, "user_id": ctx.mask(row["user_id"])} for row in live.events]
            rows[:0] = fresh
            del rows[KEEP_ROWS:]
            table.rows = rows
            table.update()
        status.set_text(_("live: {n} events shown", n=len(rows)))

    timer = ui.timer(REFRESH_SECONDS, refresh)

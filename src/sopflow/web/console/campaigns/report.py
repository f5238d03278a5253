"""The campaign report button: the report is made by a background job, its progress shown until it is
ready, then the browser downloads the page (``GET /api/v1/jobs/{id}/file``, with the session cookie)."""

from __future__ import annotations

from nicegui import ui

from sopflow.i18n import _, set_language
from sopflow.web.background.jobs import job_runner
from sopflow.web.background.reports import submit_campaign_report
from sopflow.web.console.context import PageContext

POLL_SECONDS = 0.5


def report_button(ctx: PageContext, campaign_id: int) -> None:
    with ui.column().classes("gap-1"):
        button = ui.button(_("Report"), icon="summarize").props('outline data-testid="campaign-report"')
        bar = ui.linear_progress(value=0, show_value=False).props("rounded").classes("w-40")
        note = ui.label("").classes("text-caption text-grey-7").props('data-testid="campaign-report-note"')
        bar.set_visibility(False)

    def start() -> None:
        job = submit_campaign_report(services=ctx.services, campaign_id=campaign_id, owner=ctx.user_name)
        button.disable()
        bar.set_visibility(True)

        def poll() -> None:
            set_language(ctx.lang)
            current = job_runner().get(job.id)
            bar.value = current.fraction
            note.text = current.message
            if not current.finished:
                return
            timer.cancel()
            button.enable()
            bar.set_visibility(False)
            if current.state == "done":
                note.text = _("the report is ready")
                ui.download(f"/api/v1/jobs/{job.id}/file")
            else:
                ui.notify(current.message, type="negative")

        timer = ui.timer(POLL_SECONDS, poll)

    button.on_click(ctx.act("read", start))

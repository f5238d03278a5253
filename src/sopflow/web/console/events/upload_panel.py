"""The Events page's import panel: upload a CSV/Excel file, map its columns, import it as a background job
with a progress bar, then download the rejected rows.

The file is staged and previewed off the event loop (:func:`nicegui.run.io_bound`); the import runs in the
job runner, and a timer reads its progress, so other users' pages never wait on it.
"""

from __future__ import annotations

import io
from typing import Any

from nicegui import events, run, ui

from sopflow.accounts.audit import record_audit
from sopflow.events.headers import DROP
from sopflow.i18n import _
from sopflow.web.background.jobs import Job, job_runner
from sopflow.web.background.uploads import (
    MAX_UPLOAD_BYTES,
    PROPERTY,
    Upload,
    get_upload,
    preview_upload,
    rejects_csv,
    stage_upload,
    start_import,
)
from sopflow.web.console.context import PageContext
from sopflow.web.console.widgets import empty, figure
from sopflow.workspace_timezone import workspace_timezone

POLL_SECONDS = 0.5


def mapping_options(fields: list[str]) -> dict[str, str]:
    options = {PROPERTY: _("(keep as a property)"), DROP: _("(drop this column)")}
    options.update({field: field for field in fields})
    return options


class UploadPanel:
    """One upload at a time per page: preview → mapping → job → result."""

    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx
        self.upload: Upload | None = None
        self.mapping: dict[str, str] = {}
        self.job_id: str | None = None
        self.timer: ui.timer | None = None
        with ui.column().classes("w-full gap-2"):
            ui.label(
                _(
                    "Upload a CSV or Excel (.xlsx) file with one event per row. Times without a timezone are "
                    "read in the workspace timezone (Settings)."
                )
            ).classes("text-grey-7")
            ui.upload(
                label=_("Choose a CSV or Excel file"),
                auto_upload=True,
                max_file_size=MAX_UPLOAD_BYTES,
                # NiceGUI passes the event only to handlers that take an argument, so the lambda takes it.
                on_upload=lambda e: ctx.act("events.import", lambda: self.received(e))(),
                on_rejected=lambda: ui.notify(
                    _("the file is larger than {mib} MiB", mib=MAX_UPLOAD_BYTES >> 20), type="warning"
                ),
            ).props('accept=".csv,.txt,.tsv,.xlsx,.xlsm" data-testid="event-upload"').classes("w-96")
            self.preview_box = ui.column().classes("w-full gap-2")
            self.job_box = ui.column().classes("w-full gap-2")

    async def received(self, event: events.UploadEventArguments) -> None:
        data = await event.file.read()
        workspace = self.ctx.services.settings.workspace
        staged = await run.io_bound(
            stage_upload,
            workspace=workspace,
            owner=self.ctx.user_name,
            filename=event.file.name,
            data=io.BytesIO(data),
        )
        if staged is None:  # the server is shutting down
            return
        preview = await run.io_bound(preview_upload, staged)
        if preview is None:
            return
        self.upload = staged
        self.mapping = dict(preview["mapping"])
        self.show_preview(preview)
        event.sender.run_method("reset")

    def show_preview(self, preview: dict[str, Any]) -> None:
        self.preview_box.clear()
        self.job_box.clear()
        options = mapping_options(preview["fields"])
        with self.preview_box:
            ui.label(
                _(
                    "{file}: {n} columns. Choose the event field each column feeds; event, user_id and ts "
                    "are required.",
                    file=preview["filename"],
                    n=len(preview["columns"]),
                )
            ).props('data-testid="upload-summary"')
            with ui.grid(columns=3).classes("items-center gap-x-4 gap-y-1"):
                ui.label(_("Column")).classes("text-weight-bold")
                ui.label(_("First values")).classes("text-weight-bold")
                ui.label(_("Field")).classes("text-weight-bold")
                for index, column in enumerate(preview["columns"]):
                    ui.label(column)
                    values = [row.get(column, "") for row in preview["rows"][:3]]
                    ui.label(" · ".join(v for v in values if v)[:80]).classes("text-grey-7")
                    ui.select(
                        options,
                        value=self.mapping.get(column, PROPERTY),
                        on_change=lambda e, column=column: self.mapping.__setitem__(column, e.value),
                    ).props(f'dense outlined data-testid="map-{index}"').classes("w-56")
            ui.button(_("Import"), icon="upload", on_click=self.ctx.act("events.import", self.start)).props(
                'data-testid="import-start"'
            )

    async def start(self) -> None:
        if self.upload is None:
            return
        ctx = self.ctx
        with ctx.session() as session:
            timezone = workspace_timezone(session=session, default=ctx.services.settings.timezone)
        upload = get_upload(
            workspace=ctx.services.settings.workspace,
            upload_id=self.upload.id,
            user=ctx.user_name,
            role=ctx.role,
        )
        # start_import reads the header again (an .xlsx opens its workbook): off the event loop.
        job = await run.io_bound(
            start_import,
            runner=job_runner(),
            store=ctx.services.store,
            upload=upload,
            owner=ctx.user_name,
            mapping=self.mapping,
            timezone=timezone,
        )
        if job is None:  # the server is shutting down
            return
        self.job_id = job.id
        self.job_box.clear()
        with self.job_box:
            self.state_label = ui.label(_("queued")).props('data-testid="import-state"')
            self.bar = ui.linear_progress(value=0, show_value=False).props(
                'animation-speed=200 data-testid="import-progress"'
            )
            self.result_box = ui.row().classes("gap-2")
        if self.timer is not None:
            self.timer.cancel()
        self.timer = ui.timer(POLL_SECONDS, self.poll)

    def poll(self) -> None:
        if self.job_id is None:
            return
        job = job_runner().get(self.job_id)
        self.bar.set_value(job.fraction)
        if not job.finished:
            self.state_label.set_text(
                _("importing: {percent}% read", percent=int(job.fraction * 100))
                if job.state == "running"
                else _("queued")
            )
            return
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.show_result(job)

    def show_result(self, job: Job) -> None:
        if job.state == "failed":
            self.state_label.set_text(_("failed: {message}", message=job.message))
            self.state_label.classes("text-negative")
            return
        result = job.result or {}
        self.state_label.set_text(_("done"))
        with self.result_box:
            figure(
                _("Imported"),
                str(result.get("imported", 0)),
                note=_(
                    "of {rows} rows in {file}; {duplicates} already stored",
                    rows=result.get("rows", 0),
                    file=result.get("filename", ""),
                    duplicates=result.get("duplicates", 0),
                ),
                testid="import-imported",
            )
            figure(
                _("Rejected"),
                str(result.get("rejected", 0)),
                note=_("rows with a problem; see the rejects file"),
                testid="import-rejected",
            )
            if result.get("rejected"):
                ui.button(
                    _("Download rejects (CSV)"),
                    icon="download",
                    on_click=self.ctx.act("events.import", self.download_rejects),
                ).props('data-testid="rejects-download"').classes("self-center")

    def download_rejects(self) -> None:
        if self.upload is None:
            return
        ctx = self.ctx
        upload = get_upload(
            workspace=ctx.services.settings.workspace,
            upload_id=self.upload.id,
            user=ctx.user_name,
            role=ctx.role,
        )
        data = rejects_csv(upload)
        with ctx.session() as session:
            record_audit(
                session=session,
                actor=ctx.user_name,
                action="export",
                target_kind="list",
                target_id="import-rejects",
                details={"file": upload.filename, "upload": upload.id},
            )
        ui.download(data, f"rejects-{upload.filename}.csv")


def upload_panel(ctx: PageContext) -> None:
    if not ctx.can("events.import"):
        empty(_("importing events is for operators and admins"))
        return
    UploadPanel(ctx)

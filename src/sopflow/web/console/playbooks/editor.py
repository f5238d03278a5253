"""The playbook editor: YAML in CodeMirror with live validation, the form, the timeline, the estimate, publishing.

Validation runs as the user types, debounced: a change marks the text dirty, and a short timer validates it
once typing has paused for :data:`DEBOUNCE_S` (off the event loop, so other users are not held up). The
problems are the CLI's ``file:line:col: message`` lines; each one is listed with its line (a click scrolls
the editor there), its line is tinted in the editor and carries the message as a tooltip.

The timeline and the estimate show the last text that validated, and say so when the current text does not.
"""

from __future__ import annotations

import time
from typing import Any

from nicegui import run, ui

from sopflow.errors import SopflowError
from sopflow.i18n import _, set_language
from sopflow.playbook.model import Playbook
from sopflow.playbook.versions import MAX_NOTE_CHARS, PublishResult, publish_text
from sopflow.web.api.playbook_views import (
    EDITOR_SOURCE,
    banded_estimate,
    schedule_json,
    validation,
)
from sopflow.web.console.context import PageContext
from sopflow.web.console.playbooks.charts import estimate_view, gantt
from sopflow.web.console.playbooks.form import PlaybookForm

DEBOUNCE_S = 0.6
TICK_S = 0.25
ERROR_LINE = "sopflow-error-line"
CSS = f""".{ERROR_LINE} {{ background-color: #fde2e2 !important; }}
.sopflow-editor .cm-editor {{ height: 100%; }}"""


def _analyse(
    text: str, lang: str
) -> tuple[Playbook | None, dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """Validation, and for a valid text its schedule and estimate (run in a worker thread, which does not
    inherit the page's language: messages are translated when they are made)."""
    set_language(lang)
    playbook, view = validation(text, source=EDITOR_SOURCE)
    if playbook is None:
        return None, view, None, None
    return playbook, view, schedule_json(playbook), banded_estimate(playbook)


class Editor:
    """One editor on one page: the text, its last validation, and the panels that show them."""

    def __init__(self, ctx: PageContext, text: str) -> None:
        self.ctx = ctx
        self.writable = ctx.can("playbook.write")
        self.dirty = True
        self.changed_at = 0.0
        self.busy = False
        self.view: dict[str, Any] = {"valid": False, "problems": [], "playbook": None}
        self.timeline: dict[str, Any] | None = None
        self.plan: dict[str, Any] | None = None
        self.stale = False  # the timeline and estimate are of an older, valid text
        self.edited = False  # the user changed the text: leaving the page asks first
        ui.add_css(CSS)
        with ui.row().classes("w-full no-wrap items-start gap-4"):
            with ui.column().classes("col-8"):
                self.code = ui.codemirror(text, language="YAML", indent="  ", on_change=self._changed)
                self.code.classes("w-full sopflow-editor").style("height: 560px")
                self.code.props('data-testid="yaml-editor"')
                if not self.writable:
                    self.code.disable()
            with ui.column().classes("col-4"):
                ui.label(_("Problems")).classes("text-subtitle1")
                self.problems_box = ui.column().classes("w-full gap-1").props('data-testid="problems"')
        self.tabs_box = ui.column().classes("w-full")
        with self.tabs_box:
            with ui.tabs(on_change=self._tab_changed).classes("w-full") as tabs:
                self.form_tab = ui.tab(_("Form")).props('data-testid="tab-form"')
                self.timeline_tab = ui.tab(_("Timeline")).props('data-testid="tab-timeline"')
                self.estimate_tab = ui.tab(_("Estimate (测算)")).props('data-testid="tab-estimate"')
            with ui.tab_panels(tabs, value=self.timeline_tab).classes("w-full"):
                with ui.tab_panel(self.form_tab):
                    self.form_box = ui.column().classes("w-full")
                with ui.tab_panel(self.timeline_tab):
                    self.timeline_box = ui.column().classes("w-full")
                with ui.tab_panel(self.estimate_tab):
                    self.estimate_box = ui.column().classes("w-full")
        if self.writable:
            with ui.row().classes("w-full items-center q-mt-md"):
                self.note = ui.input(_("What changed in this version"), validation=None).classes("grow")
                self.note.props(f'maxlength={MAX_NOTE_CHARS} data-testid="publish-note"')
                ui.button(
                    _("Publish"), icon="publish", on_click=ctx.act("playbook.write", self._publish)
                ).props('data-testid="publish"')
        self._show_form()
        ui.timer(TICK_S, self._tick)
        # A draft lives only in this page: the browser asks before leaving it once it was edited.
        ui.add_body_html(
            "<script>window.addEventListener('beforeunload', (e) => {"
            " if (window.sopflowDraftEdited) { e.preventDefault(); e.returnValue = ''; } });</script>"
        )

    # typing and validating ----------------------------------------------------------------------------
    def _changed(self, _event: Any = None) -> None:
        self.dirty = True
        self.changed_at = time.monotonic()
        if not self.edited and self.writable:
            self.edited = True
            ui.run_javascript("window.sopflowDraftEdited = true;")

    async def _tick(self) -> None:
        if self.busy or not self.dirty or time.monotonic() - self.changed_at < DEBOUNCE_S:
            return
        self.busy, self.dirty = True, False
        try:
            analysed = await run.io_bound(_analyse, self.code.value or "", self.ctx.lang)
        finally:
            self.busy = False
        if analysed is None:  # the server is shutting down
            return
        playbook, view, timeline, plan = analysed
        self.view = view
        if playbook is not None:
            self.timeline, self.plan, self.stale = timeline, plan, False
        else:
            self.stale = self.timeline is not None
        self._show_problems()
        self._show_timeline()
        self._show_estimate()

    def _show_problems(self) -> None:
        problems = self.view["problems"]
        self.code.decorations = [{"kind": "line", "line": p["line"], "class": ERROR_LINE} for p in problems]
        self.code.line_tooltips = {p["line"]: p["message"] for p in problems}
        self.problems_box.clear()
        with self.problems_box:
            if self.view["valid"]:
                meta = self.view["playbook"]
                ui.label(
                    _(
                        "valid: {name} ({id} v{version})",
                        name=meta["name"],
                        id=meta["id"],
                        version=meta["version"],
                    )
                ).classes("text-positive").props('data-testid="problems-ok"')
                return
            ui.label(_("{count} problem(s) found", count=len(problems))).classes("text-negative")
            for problem in problems:
                item = ui.item(on_click=lambda line=problem["line"]: self.code.reveal_line(line))
                item.props(f'clickable dense data-testid="problem" data-line="{problem["line"]}"')
                with item, ui.item_section():
                    ui.item_label(_("line {line}, column {col}", line=problem["line"], col=problem["col"]))
                    ui.item_label(problem["text"]).props("caption").classes("text-negative")

    def _stale_note(self) -> None:
        if self.stale:
            ui.label(_("the YAML has problems: this shows the last version of it that was valid")).classes(
                "text-warning"
            )

    def _show_timeline(self) -> None:
        self.timeline_box.clear()
        with self.timeline_box:
            self._stale_note()
            if self.timeline is None:
                ui.label(_("the timeline shows once the YAML is valid")).classes("text-grey-7")
            else:
                gantt(self.timeline)

    def _show_estimate(self) -> None:
        self.estimate_box.clear()
        with self.estimate_box:
            self._stale_note()
            if self.plan is None:
                ui.label(_("the estimate shows once the YAML is valid")).classes("text-grey-7")
            else:
                estimate_view(self.plan)

    # the form ------------------------------------------------------------------------------------------
    def _tab_changed(self, event: Any) -> None:
        if event.value == self.form_tab or event.value == self.form_tab.props.get("name"):
            self._show_form()

    def _show_form(self) -> None:
        self.form_box.clear()
        with self.form_box:
            try:
                form = PlaybookForm(
                    self.ctx, self.code.value or "", readonly=not self.writable, apply=self._set
                )
            except SopflowError as exc:  # the text does not parse as YAML: say so instead of a form
                ui.label(exc.message).classes("text-warning").props('data-testid="form-unavailable"')
                return
            form.build()

    def _set(self, text: str) -> None:
        self.code.value = text
        self._changed()
        self.changed_at = 0.0  # validate at once: the user finished this edit
        self._show_form()

    # publishing ----------------------------------------------------------------------------------------
    async def _publish(self) -> None:
        # Validating a large playbook takes a few tenths of a second: off the event loop, like validation.
        result = await run.io_bound(
            _store, self.ctx, self.code.value or "", self.note.value or "", self.ctx.lang
        )
        if result is None:  # the server is shutting down
            return
        version = result.version
        if result.created:
            ui.notify(_("published {ref}", ref=version.ref), type="positive")
        else:
            ui.notify(_("this text is already published as {ref}", ref=version.ref))
        self.edited = False
        ui.run_javascript("window.sopflowDraftEdited = false;")  # published: nothing is lost by leaving
        ui.navigate.to(f"/playbooks/{version.playbook_id}")


def _store(ctx: PageContext, text: str, note: str, lang: str) -> PublishResult:
    """Publish ``text`` as the logged-in user, in one transaction (run in a worker thread)."""
    set_language(lang)
    with ctx.session() as session:
        return publish_text(session=session, text=text, source=EDITOR_SOURCE, note=note, by=ctx.user_name)

"""The console's Playbooks section.

- ``/playbooks``: the published playbooks with their versions and approval state, the workspace's approval
  setting (admins change it), and the built-in templates to start from;
- ``/playbooks/new?template=NAME``: the editor on a template's text (:mod:`.editor`);
- ``/playbooks/{id}``: versions, approval, diffs, a version's timeline and estimate (:mod:`.detail`);
- ``/playbooks/{id}/edit?version=N``: the editor on a published version's text.

Viewers see all of it read-only; every write goes through ``ctx.act`` with its action.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from sopflow.errors import SopflowError
from sopflow.i18n import _
from sopflow.playbook.catalog import list_templates, template_text
from sopflow.playbook.versions import (
    approval_required,
    list_playbooks,
    list_versions,
    parse_version_number,
    set_approval_required,
    version_row,
)
from sopflow.web.console.context import PageContext, open_page
from sopflow.web.console.layout import frame
from sopflow.web.console.playbooks.editor import Editor
from sopflow.web.console.widgets import empty

__all__ = ["detail", "edit_page", "new_page", "playbooks_page"]


@ui.page("/playbooks")
def playbooks_page(request: Request) -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    with frame(ctx, _("Playbooks")):
        _approval_setting(ctx)
        _playbook_list(ctx)
        _templates(ctx)
    return None


def _approval_setting(ctx: PageContext) -> None:
    with ctx.session() as session:
        required = approval_required(session=session)
    if not ctx.can("settings.manage"):
        text = (
            _("Campaigns start only from approved versions")
            if required
            else _("Campaigns may start from any published version (approval is off)")
        )
        ui.label(text).classes("text-body2 text-grey-8").props('data-testid="approval-setting"')
        return

    switch = ui.switch(_("Campaigns start only from approved versions"), value=required)
    switch.props('data-testid="approval-switch"')

    def change() -> None:
        # ctx.act calls handlers without the event: the switch holds the new value.
        value = bool(switch.value)
        with ctx.session() as session:
            set_approval_required(session=session, required=value, by=ctx.user_name)
        ui.notify(_("approval is now required") if value else _("approval is now off"), type="positive")

    switch.on_value_change(ctx.act("settings.manage", change))


def _playbook_list(ctx: PageContext) -> None:
    with ctx.session() as session:
        summaries = [p.as_json() for p in list_playbooks(session=session)]
    ui.label(_("Published playbooks")).classes("text-h6 q-mt-md")
    if not summaries:
        empty(_("no playbook is published yet: start from a template below"))
        return
    with ui.list().props("bordered separator").classes("w-full bg-white"):
        for summary in summaries:
            approved = summary["latest_approved"]
            state = (
                _("approved up to version {version}", version=approved)
                if approved
                else _("no version approved")
            )
            pid = summary["playbook_id"]
            with ui.item(on_click=lambda pid=pid: ui.navigate.to(f"/playbooks/{pid}")).props(
                f'clickable data-testid="playbook-{pid}"'
            ):
                with ui.item_section():
                    ui.item_label(f"{summary['name']} ({pid})")
                    ui.item_label(
                        _(
                            "{versions} version(s), newest {latest}",
                            versions=summary["versions"],
                            latest=summary["latest"],
                        )
                    ).props("caption")
                with ui.item_section().props("side"):
                    ui.badge(state, color="positive" if approved == summary["latest"] else "grey-7")


def _templates(ctx: PageContext) -> None:
    ui.label(_("New from a template")).classes("text-h6 q-mt-md")
    label = _("Use this template") if ctx.can("playbook.write") else _("View")
    with ui.row().classes("w-full gap-3"):
        for template in list_templates():
            with ui.card().classes("q-pa-md").style("width: 320px"):
                ui.label(template.title).classes("text-subtitle1")
                ui.label(template.summary).classes("text-body2 text-grey-8")
                if template.tags:
                    with ui.row().classes("gap-1"):
                        for tag in template.tags[:5]:
                            ui.badge(tag, color="grey-5")
                ui.button(
                    label,
                    on_click=lambda name=template.name: ui.navigate.to(f"/playbooks/new?template={name}"),
                ).props(f'flat no-caps data-testid="template-{template.name}"')


@ui.page("/playbooks/new")
async def new_page(request: Request, template: str = "") -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    with frame(ctx, _("New playbook")):
        try:
            text = template_text(template)
        except SopflowError as exc:  # an unknown template name in the address
            empty(exc.message)
            ui.link(_("Back to the playbooks"), "/playbooks")
            return None
        ui.label(
            _("From the template {name}: change it, then publish it as a new version.", name=template)
        ).classes("text-grey-8")
        Editor(ctx, text)
    return None


@ui.page("/playbooks/{playbook_id}/edit")
async def edit_page(request: Request, playbook_id: str, version: str = "") -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    with frame(ctx, _("Edit {id}", id=playbook_id)):
        try:
            with ctx.session() as session:
                versions = list_versions(session=session, playbook_id=playbook_id)
                number = parse_version_number(version, what="version") if version else versions[-1].version
                row = version_row(session=session, playbook_id=playbook_id, version=number)
                text, ref = row.content, f"{row.playbook_id}@{row.version}"
        except SopflowError as exc:
            empty(exc.message)
            return None
        ui.label(_("Editing a copy of {ref}: publishing stores a new version.", ref=ref)).classes(
            "text-grey-8"
        )
        Editor(ctx, text)
    return None


# Registered after ``/playbooks/new``: NiceGUI matches pages in the order they are declared, and
# ``/playbooks/{playbook_id}`` would otherwise take the word "new" for a playbook id.
from sopflow.web.console.playbooks import detail  # noqa: E402

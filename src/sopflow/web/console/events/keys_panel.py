"""The Events page's API keys: every user sees names and prefixes; admins create (the key is shown once, in a
dialog) and revoke. Both are recorded in the audit log, as the CLI and the API do."""

from __future__ import annotations

from nicegui import ui

from sopflow.accounts.audit import record_audit
from sopflow.i18n import _
from sopflow.store.api_keys import create_api_key, list_api_keys, revoke_api_key
from sopflow.web.console.context import PageContext
from sopflow.web.console.widgets import empty


def keys_panel(ctx: PageContext) -> None:
    manage = ctx.can("keys.manage")

    @ui.refreshable
    def key_list() -> None:
        with ctx.session() as session:
            keys = list_api_keys(session=session)
        if not keys:
            empty(_("no API keys yet"))
            return
        with ui.column().classes("w-full gap-1"):
            for key in keys:
                with ui.row().classes("items-center gap-4").props(f'data-testid="key-{key.id}"'):
                    ui.label(key.name).classes("text-weight-medium w-48")
                    ui.label(f"{key.prefix}…").classes("text-mono text-grey-8 w-40")
                    ui.label(key.created_at.strftime("%Y-%m-%d %H:%M UTC")).classes("text-grey-7 w-40")
                    if key.active:
                        ui.badge(_("active"), color="positive")
                        if manage:
                            ui.button(
                                _("Revoke"),
                                on_click=ctx.act("keys.manage", lambda key_id=key.id: revoke(key_id)),
                            ).props(f'flat dense color=negative data-testid="key-revoke-{key.id}"')
                    else:
                        ui.badge(_("revoked"), color="grey")

    def create(name: str) -> None:
        with ctx.session() as session:
            created = create_api_key(session=session, name=name)
            record_audit(
                session=session,
                actor=ctx.user_name,
                action="key.create",
                target_kind="api_key",
                target_id=created.record.id,
                details={"name": created.record.name, "prefix": created.record.prefix},
            )
        key_list.refresh()
        name_input.set_value("")
        with ui.dialog() as dialog, ui.card():
            ui.label(_("The new key (shown only now; store it in your app's settings):"))
            ui.label(created.key).classes("text-mono bg-grey-2 q-pa-sm").props('data-testid="key-secret"')
            ui.button(_("Close"), on_click=dialog.close).props('data-testid="key-dialog-close"')
        dialog.open()

    def revoke(key_id: int) -> None:
        with ctx.session() as session:
            key = revoke_api_key(session=session, ref=str(key_id))
            record_audit(
                session=session,
                actor=ctx.user_name,
                action="key.revoke",
                target_kind="api_key",
                target_id=key.id,
                details={"name": key.name, "prefix": key.prefix},
            )
        ui.notify(_("key {name} revoked", name=key.name), type="positive")
        key_list.refresh()

    ui.label(_("Apps and servers send events to /api/v1/events with one of these keys.")).classes(
        "text-grey-7"
    )
    if manage:
        with ui.row().classes("items-center gap-2"):
            name_input = ui.input(_("Key name (what it is for)")).props(
                'dense outlined data-testid="key-name"'
            )
            ui.button(
                _("Create key"),
                icon="key",
                on_click=ctx.act("keys.manage", lambda: create(name_input.value or "")),
            ).props('data-testid="key-create"')
    key_list()

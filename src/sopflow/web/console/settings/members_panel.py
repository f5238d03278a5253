"""Settings → team members and roles: everyone sees the team; admins add members (with a generated password,
shown once), change roles, disable and enable accounts, and reset passwords. The library functions of
``sopflow users`` do the work and write the audit log; the last active admin cannot be demoted or disabled."""

from __future__ import annotations

from nicegui import ui

from sopflow.accounts.roles import ROLES
from sopflow.accounts.users import (
    WithPassword,
    change_role,
    create_user,
    disable_user,
    enable_user,
    list_users,
    reset_password,
)
from sopflow.i18n import _
from sopflow.web.console.context import PageContext
from sopflow.web.console.layout import ROLE_NAMES


def role_options() -> dict[str, str]:
    return {role: _(ROLE_NAMES[role]) for role in ROLES}


def show_password(result: WithPassword) -> None:
    """The generated password, once: the admin hands it over; it is never shown again."""
    with ui.dialog() as dialog, ui.card():
        ui.label(_("Password of {name} (shown only now; ask them to change it):", name=result.user.name))
        ui.label(result.password).classes("text-mono bg-grey-2 q-pa-sm").props(
            'data-testid="member-password"'
        )
        ui.button(_("Close"), on_click=dialog.close).props('data-testid="member-dialog-close"')
    dialog.open()


def members_panel(ctx: PageContext) -> None:
    manage = ctx.can("users.manage")
    roles = role_options()

    @ui.refreshable
    def member_list() -> None:
        with ctx.session() as session:
            users = list_users(session=session)
        with ui.grid(columns=5 if manage else 4).classes("items-center gap-x-4 gap-y-1"):
            for title in (_("Login name"), _("Name"), _("Role"), _("Status")):
                ui.label(title).classes("text-weight-bold")
            if manage:
                ui.label("")
            for user in users:
                ui.label(user.name).props(f'data-testid="member-{user.name}"')
                ui.label(user.display_name or "—")
                if manage and user.name != ctx.user_name:
                    ui.select(
                        roles,
                        value=user.role,
                        # NiceGUI passes the event only to handlers that take an argument: this lambda does.
                        on_change=lambda e, name=user.name: ctx.act(
                            "users.manage", lambda: set_role(name, str(e.value))
                        )(),
                    ).props(f'dense outlined data-testid="member-role-{user.name}"').classes("w-36")
                else:
                    ui.label(_(ROLE_NAMES.get(user.role, user.role)))
                ui.label(_("active") if user.active else _("disabled"))
                if manage:
                    with ui.row().classes("gap-1"):
                        if user.name != ctx.user_name:
                            if user.active:
                                ui.button(
                                    _("Disable"),
                                    on_click=ctx.act("users.manage", lambda name=user.name: disable(name)),
                                ).props(f'flat dense color=negative data-testid="member-disable-{user.name}"')
                            else:
                                ui.button(
                                    _("Enable"),
                                    on_click=ctx.act("users.manage", lambda name=user.name: enable(name)),
                                ).props(f'flat dense data-testid="member-enable-{user.name}"')
                        ui.button(
                            _("Reset password"),
                            on_click=ctx.act("users.manage", lambda name=user.name: reset(name)),
                        ).props(f'flat dense data-testid="member-reset-{user.name}"')

    def add() -> None:
        with ctx.session() as session:
            result = create_user(
                session=session,
                name=str(name_input.value or ""),
                role=str(role_input.value or "viewer"),
                display_name=str(display_input.value or ""),
                actor=ctx.user_name,
            )
        name_input.set_value("")
        display_input.set_value("")
        member_list.refresh()
        show_password(result)

    def set_role(name: str, role: str) -> None:
        with ctx.session() as session:
            change_role(session=session, name=name, role=role, actor=ctx.user_name)
        ui.notify(_("{name} is now {role}", name=name, role=roles.get(role, role)), type="positive")
        member_list.refresh()

    def disable(name: str) -> None:
        with ctx.session() as session:
            disable_user(session=session, name=name, actor=ctx.user_name)
        member_list.refresh()

    def enable(name: str) -> None:
        with ctx.session() as session:
            enable_user(session=session, name=name, actor=ctx.user_name)
        member_list.refresh()

    def reset(name: str) -> None:
        with ctx.session() as session:
            result = reset_password(session=session, name=name, actor=ctx.user_name)
        show_password(result)

    if manage:
        with ui.row().classes("items-center gap-2"):
            name_input = ui.input(_("Login name")).props('dense outlined data-testid="member-name"')
            display_input = ui.input(_("Name shown")).props('dense outlined data-testid="member-display"')
            role_input = (
                ui.select(roles, value="operator", label=_("Role"))
                .props('dense outlined data-testid="member-new-role"')
                .classes("w-36")
            )
            ui.button(_("Add member"), icon="person_add", on_click=ctx.act("users.manage", add)).props(
                'data-testid="member-add"'
            )
    member_list()

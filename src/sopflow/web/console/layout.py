"""The frame of every console page: the header with the sections, the language switch and the user menu."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from sopflow.i18n import N_, _
from sopflow.web.console.context import LANGUAGE_COOKIE, PageContext

# (path, label, the action needed to see the link; "read" for everyone)
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("/", N_("Overview"), "read"),
    ("/playbooks", N_("Playbooks"), "read"),
    ("/campaigns", N_("Campaigns"), "read"),
    ("/analytics", N_("Analytics"), "read"),
    ("/events", N_("Event data"), "read"),
    ("/settings", N_("Settings"), "read"),
    ("/audit", N_("Audit log"), "audit.read"),
)
LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}
ROLE_NAMES = {"admin": N_("admin"), "operator": N_("operator"), "viewer": N_("viewer")}


def _active(ctx: PageContext, path: str) -> bool:
    return ctx.path == path if path == "/" else ctx.path.startswith(path)


@contextmanager
def frame(ctx: PageContext, title: str) -> Iterator[None]:
    """The page's header and a content column; what the block builds goes inside it."""
    ui.page_title(f"{title} · sopflow")
    quasar_language(ctx.lang)
    ui.query("body").classes("bg-grey-1")
    with ui.header().classes("items-center bg-white text-grey-9 shadow-1 q-px-md").style("height: 56px"):
        ui.label("sopflow").classes("text-h6 text-primary q-mr-lg").props('data-testid="brand"')
        for path, label, action in SECTIONS:
            if ctx.can(action):
                link = ui.link(_(label), path).classes("q-mx-sm text-body1 no-underline")
                link.classes("text-primary text-weight-bold" if _active(ctx, path) else "text-grey-8")
        ui.space()
        language_switch(ctx.lang)
        user_button = ui.button(icon="account_circle").props(
            'flat round color=grey-8 data-testid="user-menu"'
        )
        with user_button, ui.menu():
            ui.menu_item(f"{ctx.user_name} · {_(ROLE_NAMES.get(ctx.role, ctx.role))}").props("disable")
            ui.menu_item(_("Log out"), on_click=lambda: logout(ctx)).props('data-testid="logout"')
    with ui.column().classes("w-full q-pa-md").style("max-width: 1400px; margin: 0 auto"):
        ui.label(title).classes("text-h5 q-mb-sm")
        yield


QUASAR_LANGUAGES = {"zh_CN": "zh-CN", "en": "en-US"}


def quasar_language(lang: str) -> None:
    """Quasar's own texts (table pagination, date pickers) in the viewer's language. The language is an
    attribute of the route's page object, shared by every request: this client gets its own copy."""
    client = ui.context.client
    page = copy.copy(client.page)
    page.language = QUASAR_LANGUAGES.get(lang, "zh-CN")  # type: ignore[assignment]
    client.page = page


def language_switch(current: str) -> None:
    """Two buttons; the choice is a cookie read by every page, so it holds across pages and reloads."""
    with ui.button_group().props("flat"):
        for lang, name in LANGUAGE_NAMES.items():
            button = ui.button(name, on_click=lambda lang=lang: switch_language(lang))
            button.props(f'flat dense no-caps data-testid="lang-{lang}"')
            button.props("color=primary" if lang == current else "color=grey-7")


def switch_language(lang: str) -> None:
    ui.run_javascript(
        f"document.cookie = '{LANGUAGE_COOKIE}={lang}; path=/; max-age=31536000; samesite=strict';"
        " location.reload();"
    )


async def logout(ctx: PageContext) -> None:
    # The session cookie is HttpOnly: the browser ends it through the API, with the session's CSRF token.
    token = json.dumps(ctx.auth.csrf_token)
    await ui.run_javascript(
        "await fetch('/api/v1/auth/logout', {method: 'POST', credentials: 'same-origin',"
        f" headers: {{'X-CSRF-Token': {token}}}}}); location.href = '/login';"
    )

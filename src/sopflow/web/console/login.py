"""``/login``: the console's login form. The browser posts to ``/api/v1/auth/login`` itself, so the session
cookie (HttpOnly) is set by the API's answer and never passes through page code."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from nicegui import ui

from sopflow.i18n import _, set_language
from sopflow.web.console.context import page_language
from sopflow.web.console.layout import language_switch, quasar_language

_LOGIN_JS = """
const response = await fetch('/api/v1/auth/login', {
  method: 'POST', credentials: 'same-origin',
  headers: {'Content-Type': 'application/json', 'Accept-Language': %(lang)s},
  body: JSON.stringify({name: %(name)s, password: %(password)s}),
});
let body = {};
try { body = await response.json(); } catch (e) {}
return {status: response.status, body: body};
"""


def _safe_next(target: str | None) -> str:
    # Only a path on this site: an open redirect would make the login page a phishing tool.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@ui.page("/login")
def login_page(request: Request) -> None:
    lang = page_language(request)
    set_language(lang)
    target = _safe_next(request.query_params.get("next"))
    ui.page_title(_("Log in") + " · sopflow")
    quasar_language(lang)
    ui.query("body").classes("bg-grey-2")
    with ui.card().classes("absolute-center q-pa-lg").style("width: 380px"):
        with ui.row().classes("w-full items-center"):
            ui.label("sopflow").classes("text-h5 text-primary")
            ui.space()
            language_switch(lang)
        ui.label(_("Campaign SOPs, run and measured")).classes("text-grey-7 q-mb-md")
        name = ui.input(_("Login name")).classes("w-full").props('data-testid="login-name" autofocus')
        password = ui.input(_("Password"), password=True, password_toggle_button=True).classes("w-full")
        password.props('data-testid="login-password"')
        notice = ui.label("").classes("text-negative").props('data-testid="login-error"')

        async def submit() -> None:
            set_language(lang)
            if not name.value or not password.value:
                notice.text = _("enter your login name and password")
                return
            script = _LOGIN_JS % {
                "lang": json.dumps(lang.replace("_", "-")),
                "name": json.dumps(name.value),
                "password": json.dumps(password.value),
            }
            answer: Any = await ui.run_javascript(script, timeout=15)
            if isinstance(answer, dict) and answer.get("status") == 200:
                ui.navigate.to(target)
                return
            error = answer.get("body", {}).get("error", {}) if isinstance(answer, dict) else {}
            notice.text = str(error.get("message") or _("login failed; try again"))
            password.value = ""

        password.on("keydown.enter", submit)
        ui.button(_("Log in"), on_click=submit).classes("w-full q-mt-md").props('data-testid="login-submit"')

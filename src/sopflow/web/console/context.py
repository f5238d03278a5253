"""What every console page knows about its viewer: the app's services, the verified session, the language.

A page opens with :func:`open_page`: no valid session sends the browser to the login page. Page actions run
over NiceGUI's websocket, not as HTTP requests, so each one goes through :meth:`PageContext.act`, which checks
the session again and the role on the server (:func:`sopflow.accounts.roles.can`) before it runs, sets the
viewer's language, and turns a :class:`SopflowError` into a readable notice. Anything else is logged and
shown as a short apology: no stack trace reaches the page.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from nicegui.helpers import expects_arguments
from sqlalchemy.orm import Session

from sopflow.accounts.roles import can, mask_contact
from sopflow.accounts.sessions import DEFAULT_POLICY, Authenticated, SessionPolicy, verify_session
from sopflow.errors import Forbidden, SopflowError
from sopflow.i18n import DEFAULT_LANGUAGE, _, normalize_language, set_language
from sopflow.web.auth import SESSION_COOKIE
from sopflow.web.services import Services

LANGUAGE_COOKIE = "sopflow_lang"
LOG = logging.getLogger("sopflow.console")


class Host:
    """The FastAPI app the console is mounted on (pages see NiceGUI's own app in ``request.app``)."""

    services: Services | None = None
    policy: SessionPolicy = DEFAULT_POLICY

    @classmethod
    def require(cls) -> Services:
        if cls.services is None:
            raise RuntimeError("the console is not mounted on a running app")
        return cls.services


def page_language(request: Request) -> str:
    """The language chosen with the console's switch (a cookie), else Chinese: the console's default."""
    return normalize_language(request.cookies.get(LANGUAGE_COOKIE)) or DEFAULT_LANGUAGE


@dataclass
class PageContext:
    services: Services
    auth: Authenticated
    token: str
    lang: str
    path: str

    @property
    def role(self) -> str:
        return self.auth.user.role

    @property
    def user_name(self) -> str:
        return self.auth.user.name

    def can(self, action: str) -> bool:
        return can(self.role, action)

    def mask(self, value: str | None) -> str | None:
        """A phone number or WeChat id as this viewer may see it: masked for viewers."""
        return mask_contact(value) if self.role == "viewer" else value

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction on the app database, committed when the block ends."""
        with self.services.database.session() as session:
            yield session

    def check(self, action: str) -> Authenticated:
        """The session verified again and ``action`` allowed for its user's role (as of now), else an error."""
        set_language(self.lang)
        with self.session() as session:
            auth = verify_session(session=session, token=self.token, policy=Host.policy)
        if not can(auth.user.role, action):
            raise Forbidden(
                _(
                    "your role {role} may not do this ({action}); ask an admin",
                    role=auth.user.role,
                    action=action,
                ),
                code="forbidden",
            )
        self.auth = auth
        return auth

    def act(self, action: str, handler: Callable[..., Any]) -> Callable[..., Awaitable[None]]:
        """``handler`` as an event handler that first checks the session and the role ``action``. A handler
        that takes an argument gets NiceGUI's event (NiceGUI passes it only to handlers that declare one)."""

        async def call(*args: Any) -> None:
            try:
                self.check(action)
                result = handler(*args)
                if inspect.isawaitable(result):
                    await result
            except SopflowError as exc:
                notify_error(exc)
            except Exception:
                LOG.exception("console action %s failed", action)
                ui.notify(_("something went wrong on the server; it is logged. Try again."), type="negative")

        if expects_arguments(handler):

            async def with_event(event: Any) -> None:
                await call(event)

            return with_event

        async def without_event() -> None:
            await call()

        return without_event


def notify_error(exc: SopflowError) -> None:
    ui.notify(exc.message, type="negative", multi_line=True, close_button=True)


def open_page(request: Request) -> PageContext | RedirectResponse:
    """The viewer's context, or the redirect to the login page the page function returns instead."""
    lang = page_language(request)
    set_language(lang)
    services = Host.require()
    token = request.cookies.get(SESSION_COOKIE)
    try:
        with services.database.session() as session:
            auth = verify_session(session=session, token=token, policy=Host.policy)
    except SopflowError:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    assert token is not None
    return PageContext(services=services, auth=auth, token=token, lang=lang, path=request.url.path)

"""The console: NiceGUI pages on the same FastAPI app as the ingest and REST APIs.

:func:`mount_console` registers the pages and mounts NiceGUI at ``/``; the API routes are declared first, so
they win over the pages. NiceGUI keeps one app per process, so the console mounts once per process (the
server's); tests of the REST API build apps without it.
"""

from __future__ import annotations

import secrets

from fastapi import FastAPI

from sopflow.accounts.sessions import SessionPolicy
from sopflow.web.console.context import Host

_mounted: list[FastAPI] = []


def mount_console(app: FastAPI, *, policy: SessionPolicy | None = None) -> None:
    from nicegui import ui

    from sopflow.web.console import pages  # noqa: F401  (registers every @ui.page)

    if _mounted:
        raise RuntimeError("the console is already mounted in this process")
    _mounted.append(app)

    @app.on_event("startup")
    def _bind() -> None:  # the services exist once the app's lifespan has opened them
        Host.services = app.state.services

    if policy is not None:
        Host.policy = policy
    ui.run_with(
        app,
        title="sopflow",
        language="zh-CN",
        favicon="📋",
        # Nothing is kept in NiceGUI's signed storage across restarts; the secret only has to be unguessable.
        storage_secret=secrets.token_urlsafe(32),
        show_welcome_message=False,
    )

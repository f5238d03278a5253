"""The FastAPI application: ingest API today, the console later (mounted on the same app).

``create_app(settings)`` builds it; the event store and app database open when the app starts (lifespan)
unless ready ``Services`` are handed in (``sopflow serve`` opens them first, to fail with a clean message).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sopflow import __version__
from sopflow.i18n import current_language
from sopflow.settings import Settings, load_settings
from sopflow.web.api import (
    analytics,
    auth,
    campaigns,
    endpoints,
    event_uploads,
    jobs,
    keys,
    native,
    playbooks,
    posthog,
    staff,
    tasks,
)
from sopflow.web.api import settings as settings_api
from sopflow.web.errors import POSTHOG_PATHS, install_error_handlers
from sopflow.web.fastpath import Endpoint, IngestFastPath
from sopflow.web.middleware import IngestCorsMiddleware, LanguageMiddleware
from sopflow.web.services import Services
from sopflow.wecom import callback as wecom_callback

INGEST_PATHS = frozenset({"/api/v1/events", *POSTHOG_PATHS})
INGEST_ENDPOINTS: dict[str, Endpoint] = {
    "/api/v1/events": native.ingest_native,
    **{path: posthog.capture_events for path in POSTHOG_PATHS},
}


class SopflowApp(FastAPI):
    """FastAPI with the ingest fast path outermost (see :mod:`sopflow.web.fastpath`)."""

    default_language: str = "zh_CN"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Ingest requests go straight to the middleware stack (the fast path first): FastAPI's own __call__
        # asks OpenTelemetry (off unless configured) whether to trace, three environment look-ups a request.
        stack = self.middleware_stack
        if scope["type"] == "http" and scope["path"] in INGEST_ENDPOINTS and stack and not self.root_path:
            scope["app"] = self
            await stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        return IngestFastPath(
            super().build_middleware_stack(),
            owner=self,
            endpoints=INGEST_ENDPOINTS,
            default_language=self.default_language,
        )


def create_app(
    settings: Settings | None = None, *, services: Services | None = None, console: bool = False
) -> FastAPI:
    """The app; ``console=True`` mounts the console's pages at ``/`` too (once per process, see
    :mod:`sopflow.web.console`)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services if services is not None else Services.open(settings)
        if console:
            from sopflow.web.console.context import Host

            Host.services = app.state.services
        try:
            yield
        finally:
            if owned:
                app.state.services.close()

    app = SopflowApp(
        title="sopflow",
        version=__version__,
        summary="Campaign SOPs, run and measured: the event ingest API and the console's REST API.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.default_language = current_language()
    install_error_handlers(app)
    app.add_middleware(IngestCorsMiddleware, paths=INGEST_PATHS)
    app.add_middleware(LanguageMiddleware, default=app.default_language)
    app.include_router(native.router)
    app.include_router(posthog.router)
    app.include_router(wecom_callback.router)
    app.include_router(auth.router)
    app.include_router(playbooks.router)
    app.include_router(staff.router)
    app.include_router(campaigns.router)
    app.include_router(tasks.router)
    for console_api in (analytics, event_uploads, keys, endpoints, settings_api, jobs):
        app.include_router(console_api.router)
    app.add_api_route("/api/docs", _docs_moved, include_in_schema=False)
    if console:
        from sopflow.web.console import mount_console

        mount_console(app)
    return app


def _docs_moved() -> RedirectResponse:
    return RedirectResponse("/docs", status_code=308)


def app_from_environment() -> FastAPI:
    """App factory for uvicorn worker processes (``sopflow serve --workers N``): settings from the environment."""
    return create_app(load_settings())

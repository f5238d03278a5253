"""Two small ASGI middlewares: the language of each response, and CORS for the ingest endpoints only.

Browsers (H5 pages, posthog-js) post events from other origins, so ingest paths answer CORS like PostHog's
capture service: any origin, credentials allowed, requested headers mirrored. The console that will live on
the same app gets no such openness, hence a middleware scoped to paths instead of a global CORS setting.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sopflow.i18n import normalize_language, set_language


class LanguageMiddleware:
    """Answer in the language of ``Accept-Language`` when sopflow speaks it, else in the server's language."""

    def __init__(self, app: ASGIApp, *, default: str) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            set_language(request_language(Headers(scope=scope).get("accept-language", ""), self.default))
        await self.app(scope, receive, send)


def request_language(accept_language: str, default: str) -> str:
    """The first language of an ``Accept-Language`` header that sopflow speaks, else ``default``."""
    wanted = next(
        (
            lang
            for part in accept_language.split(",")
            if (lang := normalize_language(part.split(";")[0].strip()))
        ),
        None,
    )
    return wanted or default


def cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    """What an ingest response adds for a browser's request from ``origin`` (the response has no Vary yet)."""
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-credentials", b"true"),
        (b"vary", b"Origin"),
    ]


class IngestCorsMiddleware:
    def __init__(self, app: ASGIApp, *, paths: frozenset[str]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        origin = request_headers.get("origin")
        if scope["method"] == "OPTIONS":
            await self._preflight(request_headers, origin, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and origin:
                headers = MutableHeaders(scope=message)
                headers["Access-Control-Allow-Origin"] = origin
                headers["Access-Control-Allow-Credentials"] = "true"
                headers.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, request_headers: Headers, origin: str | None, send: Send) -> None:
        body = json.dumps({"status": 1}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if origin:
            asked = request_headers.get("access-control-request-headers", "")
            headers += [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-credentials", b"true"),
                (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                (b"access-control-allow-headers", asked.encode("latin-1") or b"*"),
                (b"access-control-max-age", b"86400"),
                (b"vary", b"Origin"),
            ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

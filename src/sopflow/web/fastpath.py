"""The ingest endpoints served without the framework's per-request machinery.

Why: FastAPI's routing, dependency solving and the six middleware layers cost about 3 million CPU
instructions per request — more than parsing and checking the 100 events a typical request carries. So a
``POST`` to an ingest path is answered here, outermost, by the same endpoint function the FastAPI route
calls (:data:`Endpoint`, given an :class:`IngestRequest`), with what the skipped layers would have added:
the response language (:func:`~sopflow.web.middleware.request_language`), CORS headers for browsers, and
errors in the path's JSON shape (:mod:`sopflow.web.errors`). Everything else — preflights, other methods,
the API docs, a server still starting — goes through FastAPI as before; the FastAPI routes stay the
documented and reference implementation of the same endpoints.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sopflow.errors import SopflowError
from sopflow.i18n import _, set_language
from sopflow.web.body import read_limited
from sopflow.web.errors import error_parts, sopflow_error_parts
from sopflow.web.middleware import cors_headers, request_language

if TYPE_CHECKING:
    from fastapi import FastAPI

    from sopflow.web.services import Services

log = logging.getLogger("sopflow.web")


@dataclass
class IngestRequest:
    """What an ingest endpoint needs of a request; ``read_body(limit)`` reads the body within ``limit``."""

    path: str
    headers: Mapping[str, str]  # names in lower case
    query: Mapping[str, str]
    read_body: Callable[[int], Awaitable[bytes]]

    @classmethod
    def from_request(cls, request: Request) -> IngestRequest:
        async def read_body(limit: int) -> bytes:
            return await read_limited(
                request.headers.get("content-length", ""), request.stream(), limit=limit
            )

        return cls(request.url.path, request.headers, dict(request.query_params), read_body)

    @classmethod
    def from_scope(cls, scope: Scope, receive: Receive) -> IngestRequest:
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))  # first one wins
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))

        async def read_body(limit: int) -> bytes:
            return await read_limited(headers.get("content-length", ""), _stream(receive), limit=limit)

        return cls(scope["path"], headers, query, read_body)


Endpoint = Callable[["Services", IngestRequest], Awaitable[dict[str, Any]]]


async def _stream(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        if message["type"] == "http.request":
            body = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                return


def render_json(content: Any) -> bytes:
    """The body :class:`starlette.responses.JSONResponse` renders for ``content``."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()


class IngestFastPath:
    """ASGI wrapper around the whole app: ingest ``POST`` requests go straight to their endpoint."""

    def __init__(
        self, app: ASGIApp, *, owner: FastAPI, endpoints: Mapping[str, Endpoint], default_language: str
    ) -> None:
        self.app = app
        self.owner = owner
        self.endpoints = endpoints
        self.default_language = default_language

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            endpoint = self.endpoints.get(scope["path"])
            services = getattr(self.owner.state, "services", None)
            if endpoint is not None and services is not None:
                await self._serve(endpoint, services, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(
        self, endpoint: Endpoint, services: Services, scope: Scope, receive: Receive, send: Send
    ) -> None:
        request = IngestRequest.from_scope(scope, receive)
        set_language(request_language(request.headers.get("accept-language", ""), self.default_language))
        headers: list[tuple[bytes, bytes]] = []
        try:
            status, content = 200, await endpoint(services, request)
        except ClientDisconnect:
            return  # nobody to answer
        except SopflowError as exc:
            status, content, extra = sopflow_error_parts(exc, path=request.path)
            headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (extra or {}).items()]
        except Exception as exc:
            log.exception("unexpected error on POST %s", request.path, exc_info=exc)
            status, content = (
                500,
                error_parts(request.path, 500, "internal_error", _("internal error; please retry later")),
            )
        body = render_json(content)
        headers.append((b"content-length", str(len(body)).encode("latin-1")))
        headers.append((b"content-type", b"application/json"))
        origin = request.headers.get("origin")
        if origin:
            headers += cors_headers(origin)
        start: Message = {"type": "http.response.start", "status": status, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})

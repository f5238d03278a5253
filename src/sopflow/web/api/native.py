"""``POST /api/v1/events``: sopflow's own ingest endpoint.

Body: a JSON array of canonical events, or ``{"batch": [...]}`` (a single event object is accepted too),
optionally gzip-compressed (``Content-Encoding: gzip``). Each event uses the canonical column names
(``event``, ``user_id``, ``ts``, ``event_id``, ``channel``, ``campaign``, ``step``, ``variant``,
``inviter_id``, ``revenue``, ``currency``, ``properties``); other keys go into ``properties``. Naive ``ts``
values are read in the server's timezone (setting ``timezone``).

Auth: ``Authorization: Bearer <key>`` with a key from ``sopflow keys create``.

Answer: ``200 {"accepted": n, "duplicates": m}`` once every event is on disk (``duplicates``: events whose
``event_id`` was already stored, ignored). Errors: ``{"error": {"code", "message", "field"?}}`` with 400
(unreadable body), 401 (missing/unknown key), 413 (too large), 415 (unknown encoding), 422 (invalid event);
nothing of a rejected request is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sopflow.i18n import _
from sopflow.store.api_keys import ApiKeyPublic
from sopflow.web.body import decode_content, parse_json
from sopflow.web.errors import ApiError
from sopflow.web.fastpath import IngestRequest
from sopflow.web.ingest import INLINE_MAX_BYTES, cpu_work, too_many_events
from sopflow.web.services import Services

router = APIRouter(tags=["ingest"])

_ERROR = {"description": 'Error: {"error": {"code", "message", "field"?}}'}
_BODY_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "array", "items": {"type": "object"}},
                        {
                            "type": "object",
                            "properties": {"batch": {"type": "array", "items": {"type": "object"}}},
                        },
                    ],
                }
            }
        },
    }
}


class IngestAccepted(BaseModel):
    accepted: int = Field(description="Events newly stored")
    duplicates: int = Field(description="Events whose event_id was already stored (ignored)")


def bearer_key(headers: Mapping[str, str]) -> str | None:
    scheme, _sep, value = headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def check_key(key: str | None, found: ApiKeyPublic | None) -> None:
    challenge = {"WWW-Authenticate": "Bearer"}
    if key is None:
        raise ApiError(
            _("missing API key: send the header Authorization: Bearer <key>"),
            code="missing_api_key",
            status=401,
            headers=challenge,
        )
    if found is None:
        raise ApiError(
            _("unknown or revoked API key; create one with `sopflow keys create NAME`"),
            code="invalid_api_key",
            status=401,
            headers=challenge,
        )


def authenticate(services: Services, key: str | None) -> None:
    check_key(key, services.keys.verify(key) if key else None)


def native_events(payload: Any, *, limit: int) -> list[dict[str, Any]]:
    if isinstance(payload, dict):
        payload = payload.get("batch", [payload])
    if not isinstance(payload, list):
        raise ApiError(
            _('expected a JSON array of events or {"batch": [...]}'), code="invalid_body", status=400
        )
    if not payload:
        raise ApiError(_("the request holds no event"), code="empty_batch", status=400)
    if len(payload) > limit:
        raise too_many_events(len(payload), limit)
    for index, event in enumerate(payload):
        if not isinstance(event, dict):
            raise ApiError(
                _("event {index}: expected a JSON object", index=index),
                code="invalid_input",
                status=422,
                field=f"batch[{index}]",
            )
    return payload


def _prepare(services: Services, body: bytes, content_encoding: str) -> pa.Table:
    """Decode, parse and check a request body: the canonical table of its events (CPU work, no I/O)."""
    settings = services.settings
    data = decode_content(body, content_encoding=content_encoding, limit=settings.max_decompressed_bytes)
    events = native_events(parse_json(data), limit=settings.max_batch_events)
    return services.ingestor.normalize(events)


async def ingest_native(services: Services, request: IngestRequest) -> dict[str, Any]:
    """``POST /api/v1/events`` (see the module docs): the answer once every event is durable."""
    key = bearer_key(request.headers)
    # Checked before the body is read: an unauthenticated client should not get to upload megabytes.
    # A key verified recently is answered from memory; only a miss goes to the database (off the loop).
    known, found = services.keys.cached(key) if key else (True, None)
    if known:
        check_key(key, found)
    else:
        await run_in_threadpool(authenticate, services, key)
    body = await request.read_body(services.settings.max_body_bytes)
    encoding = request.headers.get("content-encoding", "")
    inline = len(body) <= INLINE_MAX_BYTES and encoding.strip().lower() in ("", "identity")
    table = await cpu_work(inline, _prepare, services, body, encoding)
    result = await services.ingestor.append(table)
    return {"accepted": result.accepted, "duplicates": result.duplicates}


@router.post(
    "/api/v1/events",
    summary="Ingest a batch of events",
    response_model=IngestAccepted,
    responses={400: _ERROR, 401: _ERROR, 413: _ERROR, 415: _ERROR, 422: _ERROR},
    openapi_extra=_BODY_SCHEMA,
)
async def post_events(request: Request) -> JSONResponse:
    # Served by sopflow.web.fastpath on a running server; this route documents it and serves the rest.
    services: Services = request.app.state.services
    return JSONResponse(await ingest_native(services, IngestRequest.from_request(request)))

"""PostHog-compatible capture: ``POST /batch/``, ``/capture/``, ``/e/``, ``/i/v0/e/`` (with or without the slash).

Point a PostHog SDK's ``host`` at sopflow and use a sopflow API key as the project API key. Success is
``200 {"status": 1}``; errors use PostHog's shape ``{"type", "code", "detail", "attr"}`` and statuses: 400 for
an unreadable or invalid payload (nothing stored), 401 for a missing, unknown or revoked key or inconsistent
keys in one batch, 413 for a body over ``max_body_bytes``. Decoding and mapping: :mod:`sopflow.web.posthog`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sopflow.i18n import _
from sopflow.store.api_keys import ApiKeyPublic
from sopflow.web.body import GZIP_MAGIC
from sopflow.web.errors import POSTHOG_PATHS, ApiError
from sopflow.web.fastpath import IngestRequest
from sopflow.web.ingest import INLINE_MAX_BYTES, cpu_work, too_many_events
from sopflow.web.posthog import CaptureRequest, canonical_batch, decode_capture
from sopflow.web.services import Services

router = APIRouter(tags=["PostHog-compatible capture"])
INLINE_MAX_EVENTS = 2_000  # a form body (base64) may hold more events than its size suggests
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": f'Error in PostHog\'s shape: {{"type", "code", "detail", "attr"}} ({why})'}
    for status, why in (
        (400, "unreadable body or invalid event"),
        (401, "missing or unknown api_key"),
        (413, "body too large"),
        (415, "unknown compression"),
    )
}


def _check_token(token: str | None, found: ApiKeyPublic | None) -> None:
    if not token:
        raise ApiError(_("event submitted without an api_key"), code="missing_api_key", status=401)
    if found is None:
        raise ApiError(
            _("Project API key invalid. Create one with `sopflow keys create NAME`."),
            code="invalid_api_key",
            status=401,
        )


def _canonical_table(services: Services, request: CaptureRequest, now: datetime) -> pa.Table:
    """The PostHog events mapped and checked (CPU work, no I/O); invalid events are 400s, as PostHog answers."""
    settings = services.settings
    if len(request.events) > settings.max_batch_events:
        raise too_many_events(len(request.events), settings.max_batch_events)
    try:
        raws = canonical_batch(request.events, now=now, sent_at=request.sent_at)
    except OverflowError:
        # The clock correction (sent_at) or an offset moved a time past year 1 or 9999: bad input, not a 500.
        raise ApiError(
            _("an event's time is out of range (years 1 to 9999) once corrected by sent_at or offset"),
            code="invalid_timestamp",
            status=400,
            field="batch",
        ) from None
    try:
        return services.ingestor.normalize(raws)
    except ApiError as exc:
        if exc.http_status == 422:
            exc.http_status = 400  # PostHog answers every invalid event with 400
        raise


async def capture_events(services: Services, request: IngestRequest) -> dict[str, Any]:
    """A PostHog capture request (see the module docs): ``{"status": 1}`` once every event is durable."""
    now = datetime.now(UTC)
    settings = services.settings
    body = await request.read_body(settings.max_body_bytes)
    # Bodies small as sent are decoded here; gzip may hide a large body, so gzip and large go to a thread.
    inline = len(body) <= INLINE_MAX_BYTES and not body.startswith(GZIP_MAGIC)
    inline = inline and "compression" not in request.query
    captured = await cpu_work(
        inline,
        decode_capture,
        body,
        content_type=request.headers.get("content-type", ""),
        query=request.query,
        limit=settings.max_decompressed_bytes,
    )
    token = captured.token
    known, found = services.keys.cached(token) if token else (True, None)
    if token and not known:
        found = await run_in_threadpool(services.keys.verify, token)
    _check_token(token, found)
    inline = inline and len(captured.events) <= INLINE_MAX_EVENTS
    table = await cpu_work(inline, _canonical_table, services, captured, now)
    # The request waits for its commit holding only what it stores, as the native endpoint does: eight
    # requests keeping their parsed JSON alive through the fdatasync made the garbage collector promote and
    # rescan those objects over and over (8 clients, 120,000 events: about 260 collections, 1 µs per event).
    del body, captured
    await services.ingestor.append(table)
    return {"status": 1}


async def capture(request: Request) -> JSONResponse:
    # Served by sopflow.web.fastpath on a running server; this route documents it and serves the rest.
    services: Services = request.app.state.services
    return JSONResponse(await capture_events(services, IngestRequest.from_request(request)))


for _path in sorted(POSTHOG_PATHS):
    router.add_api_route(
        _path,
        capture,
        methods=["POST"],
        include_in_schema=_path.endswith("/"),
        summary="PostHog-compatible capture",
        response_model=None,
        responses=_ERRORS,
    )

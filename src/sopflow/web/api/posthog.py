"""PostHog-compatible capture: ``POST /batch/``, ``/capture/``, ``/e/``, ``/i/v0/e/`` (with or without the slash).

Point a PostHog SDK's ``host`` at sopflow and use a sopflow API key as the project API key. Success is
``200 {"status": 1}``; errors use PostHog's shape ``{"type", "code", "detail", "attr"}`` and statuses: 400 for
an unreadable or invalid payload (nothing stored), 401 for a missing, unknown or revoked key or inconsistent
keys in one batch, 413 for a body over ``max_body_bytes``. Decoding and mapping: :mod:`sopflow.web.posthog`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sopflow.i18n import _
from sopflow.web.body import read_body
from sopflow.web.errors import POSTHOG_PATHS, ApiError
from sopflow.web.ingest import too_many_events
from sopflow.web.posthog import decode_capture, to_canonical
from sopflow.web.services import Services

router = APIRouter(tags=["PostHog-compatible capture"])


def _capture(
    services: Services, body: bytes, content_type: str, query: dict[str, str], now: datetime
) -> None:
    settings = services.settings
    request = decode_capture(
        body, content_type=content_type, query=query, limit=settings.max_decompressed_bytes
    )
    if not request.token:
        raise ApiError(_("event submitted without an api_key"), code="missing_api_key", status=401)
    if services.keys.verify(request.token) is None:
        raise ApiError(
            _("Project API key invalid. Create one with `sopflow keys create NAME`."),
            code="invalid_api_key",
            status=401,
        )
    if len(request.events) > settings.max_batch_events:
        raise too_many_events(len(request.events), settings.max_batch_events)
    raws = [
        to_canonical(event, now=now, sent_at=request.sent_at, index=index)
        for index, event in enumerate(request.events)
    ]
    try:
        services.ingestor.ingest(raws)
    except ApiError as exc:
        if exc.http_status == 422:
            exc.http_status = 400  # PostHog answers every invalid event with 400
        raise


async def capture(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    now = datetime.now(UTC)
    body = await read_body(request, limit=services.settings.max_body_bytes)
    await run_in_threadpool(
        _capture, services, body, request.headers.get("content-type", ""), dict(request.query_params), now
    )
    return JSONResponse({"status": 1})


for _path in sorted(POSTHOG_PATHS):
    router.add_api_route(
        _path,
        capture,
        methods=["POST"],
        include_in_schema=_path.endswith("/"),
        summary="PostHog-compatible capture",
        response_model=None,
    )

"""``GET`` and ``POST /wecom/callback``: WeCom's callback URL on ``sopflow serve``.

``GET ?msg_signature&timestamp&nonce&echostr`` is WeCom's URL check: the answer is ``echostr`` decrypted.
``POST`` (same query, body ``<xml><ToUserName/><AgentID/><Encrypt/></xml>``) carries one event: it is
verified, decrypted, checked to be addressed to the configured corp id, mapped to canonical events
(:mod:`sopflow.wecom.mapping`) and appended through the ingest path of ``POST /api/v1/events``
(:class:`sopflow.web.ingest.Ingestor`): the empty ``200`` WeCom waits for is sent only once the events are on
disk, and their ``event_id`` comes from the message, so WeCom's retries (it tries again three times when no
answer comes within 5 s) store nothing twice. A bad signature, another corp id or a malformed body is
answered 4xx with one warning line in the server log, and nothing is written.
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from sopflow.errors import SopflowError
from sopflow.i18n import _
from sopflow.web.services import Services
from sopflow.wecom.config import WecomConfig, require_wecom, state_channels
from sopflow.wecom.crypto import CallbackRefused
from sopflow.wecom.mapping import callback_key, map_callback
from sopflow.wecom.xmlsafe import parse_callback_xml

log = logging.getLogger("sopflow.wecom")
router = APIRouter(tags=["wecom"])
MAX_CALLBACK_BYTES = 256 * 1024  # WeCom's event messages are a few hundred bytes
_ERROR = {"description": 'Error: {"error": {"code", "message"}}'}


def _load(services: Services) -> tuple[WecomConfig, dict[str, str]]:
    with services.database.session() as session:
        return require_wecom(session=session), state_channels(session=session)


async def _read_body(request: Request) -> bytes:
    """The body, refused as soon as it passes :data:`MAX_CALLBACK_BYTES` (never held whole in memory)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_CALLBACK_BYTES:
            raise CallbackRefused(
                _("the callback body is larger than {n} bytes", n=MAX_CALLBACK_BYTES),
                reason="too_large",
                status=413,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _refused(request: Request, exc: SopflowError) -> SopflowError:
    reason = getattr(exc, "reason", exc.code)
    client = request.client.host if request.client else "?"
    log.warning("WeCom callback refused (%s) from %s: %s", reason, client, exc.message)
    return exc


@router.get(
    "/wecom/callback",
    summary="WeCom callback URL check",
    response_class=PlainTextResponse,
    responses={400: _ERROR, 403: _ERROR, 404: _ERROR},
)
async def verify_url(
    request: Request,
    msg_signature: str = Query("", description="WeCom's signature"),
    timestamp: str = Query(""),
    nonce: str = Query(""),
    echostr: str = Query("", description="Encrypted echo string"),
) -> PlainTextResponse:
    services: Services = request.app.state.services
    try:
        config, _states = await run_in_threadpool(_load, services)
        # A '+' of the base64 that reached us unescaped reads as a space after URL decoding.
        plain = config.crypto().open(msg_signature, timestamp, nonce, echostr.replace(" ", "+"))
    except SopflowError as exc:
        raise _refused(request, exc) from None
    return PlainTextResponse(plain.decode("utf-8", errors="replace"))


@router.post(
    "/wecom/callback",
    summary="Receive a WeCom callback event",
    response_class=PlainTextResponse,
    responses={400: _ERROR, 403: _ERROR, 404: _ERROR, 413: _ERROR, 422: _ERROR},
)
async def receive(
    request: Request,
    msg_signature: str = Query("", description="WeCom's signature"),
    timestamp: str = Query(""),
    nonce: str = Query(""),
) -> PlainTextResponse:
    services: Services = request.app.state.services
    try:
        body = await _read_body(request)
        encrypted = parse_callback_xml(body).get("Encrypt")
        if not encrypted:
            raise CallbackRefused(
                _("the callback body has no Encrypt element"), reason="malformed_xml", status=400
            )
        config, states = await run_in_threadpool(_load, services)
        message = config.crypto().open(msg_signature, timestamp, nonce, encrypted)
        xml = parse_callback_xml(message)
        addressed = xml.get("ToUserName")
        if addressed and addressed != config.corp_id:
            raise CallbackRefused(
                _("the callback is addressed to another corp id than the configured one"),
                reason="wrong_corp_id",
            )
        mapped = map_callback(
            xml,
            corp_id=config.corp_id,
            states=states,
            key=callback_key(config.corp_id, message),
            received_at=time.time(),
        )
        table = services.ingestor.normalize(mapped.events)
    except SopflowError as exc:
        raise _refused(request, exc) from None
    for state in mapped.unknown_states:
        log.warning(
            "WeCom callback: state %r is mapped to no channel (stored without one); "
            "map it with `sopflow wecom states --set %s=CHANNEL`",
            state,
            state,
        )
    result = await services.ingestor.append(table)
    log.info(
        "WeCom callback %s: %d stored, %d duplicate(s)",
        mapped.events[0]["event"] if mapped.events else "-",
        result.accepted,
        result.duplicates,
    )
    return PlainTextResponse("")

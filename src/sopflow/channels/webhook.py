"""Generic webhook: a signed JSON POST to the team's own system, with a delivery id to deduplicate by.

The request (stable; ``docs/channels.md`` shows how to verify it)::

    POST <url>
    Content-Type: application/json
    X-Sopflow-Delivery: <delivery id, the same on every retry of one task>
    X-Sopflow-Timestamp: <Unix time in seconds when this attempt was signed>
    X-Sopflow-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body bytes)>

    {"delivery_id", "title", "text", "markdown", "format", "link", "attachments": [{"name", "kind", "uri"}],
     "mentions", "recipient", "metadata": {"campaign", "step", "task", …}}

The receiver recomputes the HMAC over the exact bytes it read, compares in constant time, rejects a
timestamp more than 5 minutes from its clock (replays), and treats a delivery id it has seen as done
(answering 2xx again). Since every attempt carries the same id, a request whose outcome is unknown may be
sent again (``idempotent = True``). Answers: 2xx (and 409, "already have it") accepted; 408, 425, 429, 5xx
and network failures retryable (``Retry-After`` honoured); other 4xx final, with the receiver's text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from sopflow.channels.base import DeliveryError, DeliveryResult, Message, RateLimit
from sopflow.channels.http import SignedHttpAdapter, scrub, send_request, short
from sopflow.i18n import _

RECEIVER = "webhook"
DELIVERY_HEADER = "X-Sopflow-Delivery"
TIMESTAMP_HEADER = "X-Sopflow-Timestamp"
SIGNATURE_HEADER = "X-Sopflow-Signature"
TOLERANCE_SECONDS = 300
RETRYABLE_STATUS = frozenset({408, 425})


def sign_webhook(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Sopflow-Signature`` value for ``body`` signed at ``timestamp``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> str | None:
    """None when the request is authentic and fresh, else the reason it is not (for the 401 answer).

    ``headers`` is looked up case-insensitively by the standard names.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    timestamp = lower.get(TIMESTAMP_HEADER.lower(), "")
    signature = lower.get(SIGNATURE_HEADER.lower(), "")
    if not timestamp or not signature:
        return "missing signature headers"
    try:
        when = int(timestamp)
    except ValueError:
        return "malformed timestamp"
    if abs((time.time() if now is None else now) - when) > tolerance:
        return "timestamp outside the tolerance"
    if not hmac.compare_digest(sign_webhook(secret, when, body), signature):
        return "signature mismatch"
    return None


def payload(message: Message, delivery_id: str) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "title": message.title,
        "text": message.text,
        "markdown": message.markdown,
        "format": message.format,
        "link": message.link,
        "attachments": [{"name": a.name, "kind": a.kind, "uri": a.uri} for a in message.attachments],
        "mentions": list(message.mentions),
        "recipient": message.recipient,
        "metadata": dict(message.metadata),
    }


class WebhookAdapter(SignedHttpAdapter):
    kind: ClassVar[str] = "webhook"
    idempotent: ClassVar[bool] = True
    rate_limit: ClassVar[RateLimit | None] = None

    def request(self, message: Message) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one attempt (signed now)."""
        delivery_id = message.delivery_id or uuid.uuid4().hex
        body = json.dumps(payload(message, delivery_id), ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8"
        )
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            DELIVERY_HEADER: delivery_id,
            TIMESTAMP_HEADER: str(timestamp),
        }
        if self.config.secret:
            headers[SIGNATURE_HEADER] = sign_webhook(self.config.secret, timestamp, body)
        return body, headers

    def send(self, message: Message) -> DeliveryResult:
        body, headers = self.request(message)
        hidden = [self.config.secret]
        response = send_request(
            self._client,
            "POST",
            self.config.url,
            receiver=RECEIVER,
            secrets=hidden,
            content=body,
            headers=headers,
        )
        reply = scrub(short(response.text), hidden)
        if response.is_success or response.status_code == 409:
            return DeliveryResult(response=short(f"HTTP {response.status_code} {reply}"))
        message_text = _(
            "{receiver} answered HTTP {status}: {reply}",
            receiver=RECEIVER,
            status=response.status_code,
            reply=reply,
        )
        raise DeliveryError(message_text, retryable=response.status_code in RETRYABLE_STATUS)

"""The small interface every delivery channel adapter implements.

The worker (:mod:`sopflow.campaign.worker`) builds a :class:`Message` for a task, picks the adapter of the
task's endpoint through :func:`sopflow.channels.registry.make_adapter`, and calls :meth:`Adapter.send`
once per attempt. An adapter speaks one receiver's real protocol (body, signing, error codes); it does not
retry by itself: it raises :class:`DeliveryError` saying whether a retry may help, and the worker backs off.
Rate limits are declared (:attr:`Adapter.rate_limit`) so the worker can queue inside them across processes,
and adapters also turn a receiver's own "too many requests" answer into a retryable error with a delay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

MessageFormat = Literal["text", "markdown", "news", "image", "file", "card"]


@dataclass(frozen=True)
class Attachment:
    """A material sent with a message: an image, file or link, as the playbook names it."""

    name: str
    kind: str  # the material kind: poster, image, link, file, video, mini_program, qrcode, document
    uri: str = ""


@dataclass(frozen=True)
class Message:
    """What one delivery carries. ``text`` always holds a plain-text rendering, so every adapter can fall
    back to it; ``markdown`` is the same content for receivers that render Markdown."""

    title: str
    text: str
    markdown: str = ""
    format: MessageFormat = "text"
    link: str = ""
    attachments: tuple[Attachment, ...] = ()
    mentions: tuple[str, ...] = ()  # receiver-specific ids to @ (WeCom userid, mobile, Feishu open_id)
    recipient: str = ""  # for person-addressed kinds: an email address, a WeCom userid
    delivery_id: str = ""  # stable across retries of the same task; the webhook sends it for dedupe
    metadata: Mapping[str, str] = field(default_factory=dict)  # campaign, step, task ids for webhooks


@dataclass(frozen=True)
class EndpointConfig:
    """An endpoint as stored (``sopflow endpoints add``); ``secret`` must never be printed or logged."""

    name: str
    kind: str
    url: str
    secret: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` messages per ``seconds`` to one endpoint (e.g. WeCom robots: 20 per 60 s)."""

    count: int
    seconds: float


@dataclass(frozen=True)
class DeliveryResult:
    """A receiver's acceptance: its answer, shortened, for the delivery log."""

    response: str = ""


class DeliveryError(Exception):
    """The receiver refused or could not be reached. ``retryable``: a later attempt may succeed (network
    errors, 5xx, rate limits, the receiver's "busy" codes); ``retry_after``: seconds the receiver asked to
    wait, if it said. ``message`` is the receiver's error text (never containing the endpoint's secret).
    ``outcome_unknown``: the request left and no answer came back (a read timeout, a dropped connection), so
    the message may have arrived; a receiver that cannot deduplicate must not simply get it again."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown


class Adapter(Protocol):
    kind: ClassVar[str]
    # True when the receiver deduplicates by Message.delivery_id, so a request whose outcome is unknown may
    # be sent again with the same id; False: the worker marks it uncertain for a person to confirm.
    idempotent: ClassVar[bool]
    rate_limit: ClassVar[RateLimit | None]

    def send(self, message: Message) -> DeliveryResult:
        """Deliver once; raise :class:`DeliveryError` on refusal. Must finish within ``timeout`` seconds."""
        ...

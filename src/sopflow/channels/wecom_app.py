"""WeCom app messages (应用消息) to staff: a task's reminder goes to its owner's ``wecom_userid``.

Endpoint: ``--url`` is WeCom's API base with the corp id and app id as query values, ``--secret`` the app's
secret (``sopflow endpoints add staff --kind wecom_app --secret SECRET --url
"https://qyapi.weixin.qq.com/cgi-bin?corpid=ww…&agentid=1000002"``); ``corp_id``/``agent_id`` options, where
given, win over the query. The message goes to :attr:`Message.recipient` through ``message/send``
(:class:`sopflow.wecom.client.WecomClient`, which caches the access token and refreshes it on 40014/42001):

- ``markdown`` → a markdown message (≤ 2048 bytes);
- ``card``/``news`` with a link → a ``textcard`` (title ≤ 128 bytes, description ≤ 512 bytes), else text;
- anything else → a text message (≤ 2048 bytes): the rendered script, with its link and materials' links,
  ready for the staff member to forward or copy.

WeCom's busy and frequency codes (-1, 45009, 45011, 45033, 45047), network errors and 5xx are retryable;
every other errcode, an unknown recipient (``invaliduser``) or a message over WeCom's size limits is final.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from sopflow.channels.base import DeliveryError, DeliveryResult, EndpointConfig, Message, RateLimit
from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.wecom.client import WecomApiError, WecomClient
from sopflow.wecom.config import DEFAULT_API_BASE

TEXT_BYTES = 2048
MARKDOWN_BYTES = 2048
CARD_TITLE_BYTES = 128
CARD_DESCRIPTION_BYTES = 512


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _fits(text: str, limit: int, what: str) -> str:
    if not text.strip():
        raise DeliveryError(_("the message is empty"), retryable=False)
    if _size(text) > limit:
        raise DeliveryError(
            _(
                "the {what} is {size} bytes; a WeCom app message accepts at most {limit}",
                what=what,
                size=_size(text),
                limit=limit,
            ),
            retryable=False,
        )
    return text


def endpoint_parts(config: EndpointConfig) -> tuple[str, str, int]:
    """(API base, corp id, agent id) of an endpoint; :class:`DeliveryError` (final) when one is missing."""
    parts = urlsplit(config.url or DEFAULT_API_BASE)
    query = dict(parse_qsl(parts.query))
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")).rstrip("/") or DEFAULT_API_BASE
    corp_id = config.options.get("corp_id") or query.get("corpid", "")
    agent = config.options.get("agent_id") or query.get("agentid", "")
    if not corp_id or not agent.isdigit() or not config.secret:
        raise DeliveryError(
            _(
                "endpoint {name}: a wecom_app endpoint needs corpid=… and agentid=… in its URL and the app "
                "secret in --secret",
                name=config.name,
            ),
            retryable=False,
        )
    return base, corp_id, int(agent)


EXAMPLE_URL = "https://qyapi.weixin.qq.com/cgi-bin?corpid=CORPID&agentid=AGENTID"


def check_wecom_app_endpoint(url: str, secret: str | None, options: Mapping[str, str]) -> None:
    """The checks of ``sopflow endpoints add --kind wecom_app``: :class:`InvalidInput` naming the field."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            _("--url: an http(s) URL is needed, e.g. {example}", example=EXAMPLE_URL), code="invalid_endpoint"
        )
    try:
        endpoint_parts(EndpointConfig(name="", kind="wecom_app", url=url, secret=secret, options=options))
    except DeliveryError:
        raise InvalidInput(
            _(
                "--url/--secret: a wecom_app endpoint needs corpid=… and agentid=… (a number) in its URL and "
                "the app secret in --secret, e.g. {example}",
                example=EXAMPLE_URL,
            ),
            code="invalid_endpoint",
        ) from None


class WecomAppAdapter:
    kind: ClassVar[str] = "wecom_app"
    # message/send has no delivery id to dedupe by (its duplicate check compares content only).
    idempotent: ClassVar[bool] = False
    # WeCom drops app messages past 30 a minute to one member; staying under it per endpoint is the safe side.
    rate_limit: ClassVar[RateLimit | None] = RateLimit(count=30, seconds=60)

    def __init__(
        self, config: EndpointConfig, *, timeout: float = 10, client: WecomClient | None = None
    ) -> None:
        self.config = config
        self._timeout = timeout
        self._client = client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def payload(self, message: Message) -> tuple[str, dict[str, Any]]:
        """(msgtype, its content object) for ``message``."""
        if message.format == "markdown":
            content = message.markdown or message.text
            if message.link:
                content += f"\n[{message.title or message.link}]({message.link})"
            return "markdown", {"content": _fits(content, MARKDOWN_BYTES, "markdown")}
        if message.format in ("card", "news") and message.link:
            title = message.title or message.text.split("\n", 1)[0]
            if _size(title) <= CARD_TITLE_BYTES and 0 < _size(message.text) <= CARD_DESCRIPTION_BYTES:
                return "textcard", {
                    "title": title,
                    "description": message.text,
                    "url": message.link,
                    "btntxt": _("Details"),
                }
        lines = [message.text]
        if message.link:
            lines.append(message.link)
        lines += [
            f"{a.name}: {a.uri}" for a in message.attachments if a.uri.startswith(("http://", "https://"))
        ]
        return "text", {"content": _fits("\n".join(lines), TEXT_BYTES, "text")}

    def send(self, message: Message) -> DeliveryResult:
        recipient = message.recipient.strip()
        if not recipient:
            raise DeliveryError(
                _("the task's owner has no WeCom userid (set wecom_userid for the staff member)"),
                retryable=False,
            )
        msgtype, content = self.payload(message)
        base, corp_id, agent_id = endpoint_parts(self.config)
        if self._client is None:
            assert self.config.secret is not None  # endpoint_parts checked it
            self._client = WecomClient(
                corp_id=corp_id, secret=self.config.secret, api_base=base, timeout=self._timeout
            )
        try:
            reply = self._client.send_message(
                agent_id=agent_id, touser=recipient, msgtype=msgtype, content=content
            )
        except WecomApiError as exc:
            raise DeliveryError(exc.message, retryable=exc.retryable, retry_after=exc.retry_after) from None
        msgid = str(reply.get("msgid", ""))
        return DeliveryResult(response=f"errcode 0: ok; msgid {msgid}" if msgid else "errcode 0: ok")

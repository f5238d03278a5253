"""Feishu / Lark custom bot (自定义机器人): ``POST …/open-apis/bot/v2/hook/TOKEN`` with a JSON body.

Message types: ``text`` (``{"msg_type": "text", "content": {"text": …}}``, ``<at user_id="…"></at>`` to
mention), ``post`` (rich text: ``content.post.zh_cn`` with a title and lines of ``text``/``a``/``at`` tags)
and ``interactive`` (a message card under ``card``). A bot with 签名校验 on needs ``timestamp`` (Unix
seconds, within an hour of Feishu's clock) and ``sign`` in the body: base64 of HMAC-SHA256 keyed by
``timestamp + "\\n" + secret`` over an empty message (Feishu's recipe signs nothing; the key is the data).
The bot answers ``{"code": 0, "msg": "success"}`` (older: ``StatusCode``); 100 requests a minute and 5 a
second per bot, code 11232 past that. A request body may not exceed 20 KB.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any, ClassVar

from sopflow.channels.base import DeliveryError, DeliveryResult, Message, RateLimit
from sopflow.channels.http import (
    SignedHttpAdapter,
    reply_json,
    scrub,
    send_request,
    short,
    url_secrets,
)
from sopflow.i18n import _

RECEIVER = "Feishu bot"
BODY_BYTES = 20 * 1024
# 11232 frequency limited; 9499 "Bad Request" is a malformed body; 19021 a bad signature or a clock more than
# an hour off; 19022 IP not allowed; 19024 keyword missing; 19001 an invalid hook token.
RETRYABLE = {11232: 1.0}


def feishu_sign(timestamp: int, secret: str) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def _post_lines(message: Message) -> list[list[dict[str, str]]]:
    lines: list[list[dict[str, str]]] = [
        [{"tag": "text", "text": line}] for line in message.text.splitlines() if line
    ]
    if message.link:
        lines.append([{"tag": "a", "text": message.title or message.link, "href": message.link}])
    for attachment in message.attachments:
        if attachment.uri.startswith(("http://", "https://")):
            lines.append([{"tag": "a", "text": attachment.name, "href": attachment.uri}])
        else:
            lines.append([{"tag": "text", "text": f"[{attachment.name}]"}])
    if message.mentions:
        lines.append([{"tag": "at", "user_id": user} for user in message.mentions])
    return lines


def _card(message: Message) -> dict[str, Any]:
    elements: list[dict[str, Any]] = [
        {"tag": "div", "text": {"tag": "lark_md", "content": message.markdown or message.text}}
    ]
    if message.link:
        elements.append(
            {
                "tag": "action",
                "actions": [
                    {
                        "tag": "button",
                        "text": {"tag": "plain_text", "content": message.title or message.link},
                        "url": message.link,
                        "type": "primary",
                    }
                ],
            }
        )
    return {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": message.title or "sopflow"}, "template": "blue"},
        "elements": elements,
    }


class FeishuBotAdapter(SignedHttpAdapter):
    kind: ClassVar[str] = "feishu_bot"
    idempotent: ClassVar[bool] = False
    # Feishu allows 100 a minute and 5 a second; one sliding window of 5 per 3 s keeps inside both.
    rate_limit: ClassVar[RateLimit | None] = RateLimit(count=5, seconds=3)

    def body(self, message: Message) -> dict[str, Any]:
        fmt = message.format
        body: dict[str, Any]
        if fmt in ("markdown", "card"):
            body = {"msg_type": "interactive", "card": _card(message)}
        elif fmt in ("news", "image", "file") or message.attachments:
            # A custom bot cannot upload images or files (that needs an app's token): links in rich text.
            body = {
                "msg_type": "post",
                "content": {"post": {"zh_cn": {"title": message.title, "content": _post_lines(message)}}},
            }
        else:
            mentions = "".join(f'<at user_id="{user}"></at>' for user in message.mentions)
            text = message.text + (f"\n{message.link}" if message.link else "")
            body = {"msg_type": "text", "content": {"text": f"{mentions}{text}" if mentions else text}}
        if self.config.secret:
            timestamp = int(self._clock())
            body = {"timestamp": str(timestamp), "sign": feishu_sign(timestamp, self.config.secret), **body}
        return body

    def send(self, message: Message) -> DeliveryResult:
        body = self.body(message)
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if len(payload) > BODY_BYTES:
            raise DeliveryError(
                _(
                    "the message is {size} bytes; a Feishu bot accepts at most {limit}",
                    size=len(payload),
                    limit=BODY_BYTES,
                ),
                retryable=False,
            )
        hidden = [self.config.secret, *url_secrets(self.config.url)]
        response = send_request(
            self._client,
            "POST",
            self.config.url,
            receiver=RECEIVER,
            secrets=hidden,
            content=payload,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        reply = reply_json(response, receiver=RECEIVER, secrets=hidden)
        code = reply.get("code", reply.get("StatusCode", 0))
        text = str(reply.get("msg", reply.get("StatusMessage", "")))
        if code == 0 and response.is_success:
            return DeliveryResult(response=short(f"code 0: {text or 'success'}"))
        message_text = _(
            "{receiver} refused: code {code}: {errmsg}",
            receiver=RECEIVER,
            code=code,
            errmsg=scrub(short(text), hidden),
        )
        if code in RETRYABLE:
            raise DeliveryError(message_text, retryable=True, retry_after=RETRYABLE[code])
        raise DeliveryError(message_text, retryable=False)

"""DingTalk (钉钉) custom robot: ``POST …/robot/send?access_token=TOKEN[&timestamp=T&sign=S]``.

Message types: ``text`` (``text.content``), ``markdown`` (``markdown.title`` shown in the chat list and
``markdown.text``) and ``actionCard`` (title, Markdown text, one button ``singleTitle``/``singleURL``); any
of them may carry ``at`` (``atMobiles``, ``atUserIds``, ``isAtAll``; a text names ``@mobile`` in its content
for the mention to show). A robot with 加签 on needs ``timestamp`` (milliseconds, within an hour of
DingTalk's clock) and ``sign`` in the query: URL-encoded base64 of HMAC-SHA256 keyed by the secret over
``timestamp + "\\n" + secret``. It answers ``{"errcode": 0, "errmsg": "ok"}``; 20 messages a minute per
robot, past that it refuses (410100 / 130101) and throttles the robot for 10 minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, ClassVar
from urllib.parse import urlencode

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

RECEIVER = "DingTalk robot"
# -1 system busy; 410100 and 130101 sending too fast (the robot is then throttled for 10 minutes). Final:
# 310000 (signature, keyword or IP whitelist check failed), 300001 (no such token), 400013/400102 (group
# dissolved / robot stopped), 40035 (a required parameter is missing).
RETRYABLE = {-1: 5.0, 410100: 600.0, 130101: 600.0}


def dingtalk_sign(timestamp_ms: int, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _mobile(value: str) -> bool:
    return value.isdigit() and len(value) == 11


class DingtalkRobotAdapter(SignedHttpAdapter):
    kind: ClassVar[str] = "dingtalk_robot"
    idempotent: ClassVar[bool] = False
    rate_limit: ClassVar[RateLimit | None] = RateLimit(count=20, seconds=60)

    def signed_url(self) -> str:
        if not self.config.secret:
            return self.config.url
        timestamp = int(self._clock() * 1000)
        query = urlencode({"timestamp": timestamp, "sign": dingtalk_sign(timestamp, self.config.secret)})
        return f"{self.config.url}{'&' if '?' in self.config.url else '?'}{query}"

    def body(self, message: Message) -> dict[str, Any]:
        at: dict[str, Any] = {
            "atMobiles": [m for m in message.mentions if _mobile(m)],
            "atUserIds": [m for m in message.mentions if not _mobile(m) and m != "@all"],
            "isAtAll": "@all" in message.mentions,
        }
        shown_mobiles = "".join(f"@{m} " for m in at["atMobiles"])
        fmt = message.format
        title = message.title or message.text.split("\n", 1)[0][:64]
        markdown = message.markdown or message.text
        if fmt in ("card", "news") and message.link:
            card = {
                "title": title,
                "text": markdown,
                "singleTitle": message.title or message.link,
                "singleURL": message.link,
            }
            return {"msgtype": "actionCard", "actionCard": card, "at": at}
        if fmt != "text":
            links = [
                f"[{a.name}]({a.uri})"
                for a in message.attachments
                if a.uri.startswith(("http://", "https://"))
            ]
            if message.link:
                links.append(f"[{message.title or message.link}]({message.link})")
            text = "\n\n".join([markdown, *links, shown_mobiles.strip()]).strip()
            return {"msgtype": "markdown", "markdown": {"title": title, "text": text}, "at": at}
        content = message.text + (f"\n{message.link}" if message.link else "")
        if shown_mobiles:
            content = f"{content}\n{shown_mobiles.strip()}"
        return {"msgtype": "text", "text": {"content": content}, "at": at}

    def send(self, message: Message) -> DeliveryResult:
        if not (message.text or message.markdown).strip():
            raise DeliveryError(_("the message is empty"), retryable=False)
        hidden = [self.config.secret, *url_secrets(self.config.url)]
        response = send_request(
            self._client,
            "POST",
            self.signed_url(),
            receiver=RECEIVER,
            secrets=hidden,
            json_body=self.body(message),
        )
        reply = reply_json(response, receiver=RECEIVER, secrets=hidden)
        code = reply.get("errcode", 0)
        text = str(reply.get("errmsg", ""))
        if code == 0 and response.is_success:
            return DeliveryResult(response=short(f"errcode 0: {text or 'ok'}"))
        message_text = _(
            "{receiver} refused: errcode {code}: {errmsg}",
            receiver=RECEIVER,
            code=code,
            errmsg=scrub(short(text), hidden),
        )
        if code in RETRYABLE:
            raise DeliveryError(message_text, retryable=True, retry_after=RETRYABLE[code])
        raise DeliveryError(message_text, retryable=False)

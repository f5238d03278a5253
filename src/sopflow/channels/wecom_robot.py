"""WeCom (企业微信) group robot webhook: ``POST …/cgi-bin/webhook/send?key=KEY`` with a JSON body.

Message types (WeCom's 群机器人配置说明): ``text`` (content ≤ 2048 bytes, ``mentioned_list`` of userids or
``@all``, ``mentioned_mobile_list``), ``markdown`` (content ≤ 4096 bytes), ``news`` (1–8 articles of title,
description, url, picurl), ``image`` (the bytes in base64 plus their md5; JPG/PNG ≤ 2 MB) and ``file`` (a
``media_id`` got first from ``…/webhook/upload_media?key=KEY&type=file``, a multipart ``media`` part, 5 B to
20 MB). The robot answers ``{"errcode": 0, "errmsg": "ok"}``; each robot accepts 20 messages a minute and
answers errcode 45009 past that. The robot has no signing: the key in the URL is the credential.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from sopflow.channels.base import DeliveryError, DeliveryResult, EndpointConfig, Message, RateLimit
from sopflow.channels.http import make_client, reply_json, scrub, send_request, short, url_secrets
from sopflow.channels.materials import first_attachment, read_material
from sopflow.i18n import _

RECEIVER = "WeCom robot"
TEXT_BYTES = 2048
MARKDOWN_BYTES = 4096
IMAGE_BYTES = 2 * 1024 * 1024
FILE_BYTES = 20 * 1024 * 1024
MIN_FILE_BYTES = 5

# errcodes worth another attempt: -1 system busy, 45009 over the per-robot frequency, 45033 too many
# concurrent calls. Every other code (93000 invalid webhook url, 40008 invalid message type, 44004 empty
# content, 40058 invalid parameter…) will fail the same way again.
RETRYABLE = {-1: 5.0, 45009: 60.0, 45033: 5.0}


def _mobile(value: str) -> bool:
    return value.isdigit() and len(value) == 11


def _fits(text: str, limit: int, what: str) -> str:
    size = len(text.encode("utf-8"))
    if size > limit:
        raise DeliveryError(
            _(
                "the {what} is {size} bytes; a WeCom robot accepts at most {limit}",
                what=what,
                size=size,
                limit=limit,
            ),
            retryable=False,
        )
    if not text.strip():
        raise DeliveryError(_("the message is empty"), retryable=False)
    return text


def _image_format(data: bytes) -> bool:
    return data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff")


class WecomRobotAdapter:
    kind: ClassVar[str] = "wecom_robot"
    idempotent: ClassVar[bool] = False
    rate_limit: ClassVar[RateLimit | None] = RateLimit(count=20, seconds=60)

    def __init__(
        self, config: EndpointConfig, *, timeout: float = 10, client: httpx.Client | None = None
    ) -> None:
        self.config = config
        self._client = client or make_client(timeout)

    def close(self) -> None:
        self._client.close()

    def body(self, message: Message) -> dict[str, Any]:
        """The JSON body for ``message`` (the ``file`` type is sent by :meth:`send`, after the upload)."""
        fmt = message.format
        if fmt == "markdown" or fmt == "card":
            content = message.markdown or message.text
            if message.link:
                content += f"\n[{message.title or message.link}]({message.link})"
            return {
                "msgtype": "markdown",
                "markdown": {"content": _fits(content, MARKDOWN_BYTES, "markdown")},
            }
        if fmt == "news" and message.link:
            image = first_attachment(message, images=True)
            article = {
                "title": message.title or message.text[:64],
                "description": message.text,
                "url": message.link,
            }
            if image is not None and image.uri.startswith(("http://", "https://")):
                article["picurl"] = image.uri
            return {"msgtype": "news", "news": {"articles": [article]}}
        if fmt == "image":
            attachment = first_attachment(message, images=True)
            if attachment is not None:
                data = read_material(attachment, max_bytes=IMAGE_BYTES, receiver=RECEIVER)
                if not _image_format(data):
                    raise DeliveryError(
                        _(
                            "material {name!r}: a WeCom robot sends JPG or PNG images only",
                            name=attachment.name,
                        ),
                        retryable=False,
                    )
                return {
                    "msgtype": "image",
                    "image": {
                        "base64": base64.b64encode(data).decode("ascii"),
                        "md5": hashlib.md5(data).hexdigest(),
                    },
                }
        text = message.text if not message.link else f"{message.text}\n{message.link}"
        body: dict[str, Any] = {"content": _fits(text, TEXT_BYTES, "text")}
        users = [m for m in message.mentions if not _mobile(m)]
        mobiles = [m for m in message.mentions if _mobile(m)]
        if users:
            body["mentioned_list"] = users
        if mobiles:
            body["mentioned_mobile_list"] = mobiles
        return {"msgtype": "text", "text": body}

    def send(self, message: Message) -> DeliveryResult:
        if message.format == "file" and first_attachment(message, images=False) is not None:
            media_id = self.upload_media(message)
            return self._post({"msgtype": "file", "file": {"media_id": media_id}})
        return self._post(self.body(message))

    def upload_media(self, message: Message) -> str:
        attachment = first_attachment(message, images=False)
        assert attachment is not None
        data = read_material(attachment, max_bytes=FILE_BYTES, receiver=RECEIVER)
        if len(data) < MIN_FILE_BYTES:
            raise DeliveryError(
                _("material {name!r}: a WeCom robot file needs at least 5 bytes", name=attachment.name),
                retryable=False,
            )
        parts = urlsplit(self.config.url)
        path = parts.path.rsplit("/", 1)[0] + "/upload_media"
        url = urlunsplit((parts.scheme, parts.netloc, path, f"{parts.query}&type=file", ""))
        filename = (
            attachment.name if "." in attachment.name else (attachment.uri.rsplit("/", 1)[-1] or "file")
        )
        response = send_request(
            self._client,
            "POST",
            url,
            receiver=RECEIVER,
            files={"media": (filename, data, "application/octet-stream")},
        )
        reply = self._check(response)
        media_id = reply.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise DeliveryError(
                _(
                    "{receiver} gave no media_id for the upload: {reply}",
                    receiver=RECEIVER,
                    reply=short(response.text),
                ),
                retryable=False,
            )
        return media_id

    def _post(self, body: dict[str, Any]) -> DeliveryResult:
        response = send_request(self._client, "POST", self.config.url, receiver=RECEIVER, json_body=body)
        reply = self._check(response)
        return DeliveryResult(
            response=short(f"errcode {reply.get('errcode', 0)}: {reply.get('errmsg', 'ok')}")
        )

    def _check(self, response: httpx.Response) -> dict[str, Any]:
        reply = reply_json(response, receiver=RECEIVER)
        code = reply.get("errcode", 0)
        if code == 0 and response.is_success:
            return reply
        message = _(
            "{receiver} refused: errcode {code}: {errmsg}",
            receiver=RECEIVER,
            code=code,
            errmsg=scrub(short(str(reply.get("errmsg", ""))), url_secrets(self.config.url)),
        )
        if code in RETRYABLE:
            raise DeliveryError(message, retryable=True, retry_after=RETRYABLE[code])
        raise DeliveryError(message, retryable=False)

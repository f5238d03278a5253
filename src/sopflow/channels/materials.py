"""Materials (素材) that travel as bytes: a local image or file named by a message's attachment."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from sopflow.channels.base import Attachment, DeliveryError, Message
from sopflow.i18n import _

IMAGE_KINDS = frozenset({"image", "poster", "qrcode"})


def local_path(uri: str) -> Path | None:
    """The file a material's ``uri`` names: a plain path or a ``file://`` URI; None for http(s) links."""
    if uri.startswith("file://"):
        return Path(unquote(urlsplit(uri).path))
    if "://" in uri or not uri:
        return None
    return Path(uri).expanduser()


def first_attachment(message: Message, *, images: bool) -> Attachment | None:
    for attachment in message.attachments:
        if not images or attachment.kind in IMAGE_KINDS:
            return attachment
    return None


def read_material(attachment: Attachment, *, max_bytes: int, receiver: str) -> bytes:
    """The material's bytes; a missing file or one over the receiver's size limit is a final error."""
    path = local_path(attachment.uri)
    if path is None:
        raise DeliveryError(
            _(
                "material {name!r}: {receiver} needs a local file, not {uri!r}",
                name=attachment.name,
                receiver=receiver,
                uri=attachment.uri,
            ),
            retryable=False,
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DeliveryError(
            _(
                "material {name!r}: cannot read {path}: {reason}",
                name=attachment.name,
                path=path,
                reason=exc.strerror,
            ),
            retryable=False,
        ) from None
    if len(data) > max_bytes:
        raise DeliveryError(
            _(
                "material {name!r} is {size} bytes; {receiver} accepts at most {limit}",
                name=attachment.name,
                size=len(data),
                receiver=receiver,
                limit=max_bytes,
            ),
            retryable=False,
        )
    return data

"""Tables of the WeCom integration: its settings (one row) and the channel QR codes' states.

The settings hold secrets (the callback token, the EncodingAESKey, the app secret); they are read by the
server and the CLI and never printed (:mod:`sopflow.wecom.config` masks them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sopflow.store.models import Base, UtcDateTime


class WecomSettings(Base):
    """The WeCom app sopflow speaks for: callback credentials and the server API's secret (``id`` is 1)."""

    __tablename__ = "wecom_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    corp_id: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(64))
    aes_key: Mapped[str] = mapped_column(String(43))
    secret: Mapped[str] = mapped_column(Text)
    agent_id: Mapped[int | None] = mapped_column(Integer, default=None)
    api_base: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WecomState(Base):
    """A contact way's ``state`` and the sopflow channel it stands for; ``config_id``/``qr_code`` when sopflow
    created the QR code itself (``sopflow wecom qrcode create``)."""

    __tablename__ = "wecom_states"

    state: Mapped[str] = mapped_column(String(30), primary_key=True)
    channel: Mapped[str] = mapped_column(String(200))
    config_id: Mapped[str | None] = mapped_column(String(64), default=None)
    qr_code: Mapped[str | None] = mapped_column(Text, default=None)
    staff: Mapped[Any] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

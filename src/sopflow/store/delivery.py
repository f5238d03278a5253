"""Tables of delivery: endpoints (robots, email, webhooks), the delivery log, and per-recipient touches.

An endpoint's ``secret`` is stored here so the worker can sign requests; it is never printed or logged
(the public shape of an endpoint only says whether it has one). ``deliveries`` holds one row per attempt:
``sending`` is written (and committed) before the request leaves, so a worker that dies mid-request leaves
evidence that the request may have reached the receiver. ``recipient_touches`` counts how often one
person was touched, across every running campaign, for the frequency cap.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sopflow.store.models import Base, UtcDateTime


class Endpoint(Base):
    __tablename__ = "endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    url: Mapped[str] = mapped_column(Text, default="")
    secret: Mapped[str | None] = mapped_column(Text, default=None)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Delivery(Base):
    """One attempt to deliver a task (or an escalation) to an endpoint."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_endpoint_started", "endpoint_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id"))
    purpose: Mapped[str] = mapped_column(String(20))  # reminder, escalation, test
    delivery_id: Mapped[str] = mapped_column(String(64), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # sending, sent, failed, retry, uncertain
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    response: Mapped[str | None] = mapped_column(Text, default=None)  # the receiver's answer or error


class RecipientTouch(Base):
    """A person reached by a task, for the frequency cap across campaigns."""

    __tablename__ = "recipient_touches"
    __table_args__ = (Index("ix_recipient_touches_person_at", "person", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person: Mapped[str] = mapped_column(String(200))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime())

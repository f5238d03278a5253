"""Endpoints (robots, email, webhooks) as a service: add, list, get, disable/remove, and send a test message.

The public shape never holds the secret (``has_secret`` says whether there is one) and shows URLs with their
keys masked. The worker reads the full configuration with :func:`endpoint_config`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopflow.channels.base import DeliveryError, EndpointConfig, Message
from sopflow.channels.http import mask, mask_url
from sopflow.channels.ratelimit import Limiter
from sopflow.channels.registry import check_endpoint, make_adapter
from sopflow.errors import InvalidInput, NotFound, SopflowError
from sopflow.i18n import _
from sopflow.store.delivery import Delivery, Endpoint

MAX_NAME_CHARS = 100
SECRET_OPTION_WORDS = ("secret", "password", "token", "key")


class EndpointRefused(SopflowError):
    """The test message was refused or could not be delivered."""

    code = "endpoint_refused"
    exit_code = 2
    http_status = 502


@dataclass(frozen=True)
class EndpointPublic:
    """What may be shown about an endpoint."""

    id: int
    name: str
    kind: str
    url: str  # masked
    has_secret: bool
    options: dict[str, str]
    active: bool
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "url": self.url,
            "has_secret": self.has_secret,
            "options": self.options,
            "active": self.active,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class ProbeResult:
    endpoint: EndpointPublic
    response: str
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint.name,
            "ok": True,
            "response": self.response,
            "seconds": round(self.seconds, 3),
        }


def _public(row: Endpoint) -> EndpointPublic:
    options = {
        str(k): (mask(str(v)) if any(w in str(k).lower() for w in SECRET_OPTION_WORDS) else str(v))
        for k, v in (row.options or {}).items()
    }
    return EndpointPublic(
        id=row.id,
        name=row.name,
        kind=row.kind,
        url=mask_url(row.url),
        has_secret=bool(row.secret),
        options=options,
        active=row.active,
        created_at=row.created_at,
    )


def _row(session: Session, name: str) -> Endpoint:
    row = session.scalars(select(Endpoint).where(Endpoint.name == name)).one_or_none()
    if row is None:
        known = ", ".join(session.scalars(select(Endpoint.name).order_by(Endpoint.name))) or _("none")
        raise NotFound(
            _("no endpoint named {name!r}; endpoints: {known}", name=name, known=known),
            code="unknown_endpoint",
        )
    return row


def add_endpoint(
    *,
    session: Session,
    name: str,
    kind: str,
    url: str,
    secret: str | None = None,
    options: dict[str, str] | None = None,
    now: datetime | None = None,
) -> EndpointPublic:
    clean = name.strip()
    if not clean or len(clean) > MAX_NAME_CHARS:
        raise InvalidInput(
            _("NAME: an endpoint name needs 1 to {n} characters", n=MAX_NAME_CHARS), code="invalid_name"
        )
    options = dict(options or {})
    secret = secret or None
    check_endpoint(kind, url.strip(), secret, options)
    if session.scalars(select(Endpoint.id).where(Endpoint.name == clean)).first() is not None:
        raise InvalidInput(
            _("NAME: an endpoint named {name!r} already exists", name=clean), code="duplicate_name"
        )
    row = Endpoint(
        name=clean,
        kind=kind,
        url=url.strip(),
        secret=secret,
        options=options,
        active=True,
        created_at=now or datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return _public(row)


def list_endpoints(*, session: Session, include_inactive: bool = True) -> list[EndpointPublic]:
    query = select(Endpoint).order_by(Endpoint.name)
    if not include_inactive:
        query = query.where(Endpoint.active.is_(True))
    return [_public(row) for row in session.scalars(query)]


def get_endpoint(*, session: Session, name: str) -> EndpointPublic:
    return _public(_row(session, name))


def endpoint_config(*, session: Session, name: str) -> EndpointConfig:
    """The full configuration, secret included, for the worker: never print it."""
    row = _row(session, name)
    return EndpointConfig(
        name=row.name, kind=row.kind, url=row.url, secret=row.secret, options=dict(row.options or {})
    )


def disable_endpoint(*, session: Session, name: str) -> EndpointPublic:
    row = _row(session, name)
    row.active = False
    session.flush()
    return _public(row)


def remove_endpoint(*, session: Session, name: str) -> tuple[EndpointPublic, bool]:
    """Delete the endpoint; one with delivery history (or tasks that name it) is disabled instead, so the
    log keeps its meaning. Returns the endpoint and whether it was deleted."""
    row = _row(session, name)
    shown = _public(row)
    used = (
        session.scalar(select(func.count()).select_from(Delivery).where(Delivery.endpoint_id == row.id)) or 0
    )
    if not used:
        used = _task_references(session, row.id)
    if used:
        row.active = False
        session.flush()
        return _public(row), False
    session.delete(row)
    session.flush()
    return shown, True


def _task_references(session: Session, endpoint_id: int) -> int:
    from sopflow.store.runs import Task

    return session.scalar(select(func.count()).select_from(Task).where(Task.endpoint_id == endpoint_id)) or 0


def sample_message(endpoint: EndpointPublic, recipient: str = "") -> Message:
    title = _("sopflow test message")
    text = _(
        "This is a test from sopflow to endpoint {name} ({kind}). If you can read it, reminders will arrive here.",
        name=endpoint.name,
        kind=endpoint.kind,
    )
    return Message(
        title=title,
        text=text,
        markdown=f"**{title}**\n\n{text}",
        recipient=recipient,
        delivery_id=f"test-{endpoint.id}-{int(time.time() * 1000)}",
        metadata={"purpose": "test"},
    )


def send_test_message(
    *,
    session: Session,
    name: str,
    recipient: str = "",
    timeout: float = 10,
    limiter: Limiter | None = None,
) -> ProbeResult:
    """Send one test message through the endpoint's adapter; a refusal is :class:`EndpointRefused`."""
    row = _row(session, name)
    public = _public(row)
    config = endpoint_config(session=session, name=name)
    adapter = make_adapter(config, timeout=timeout)
    (limiter or _LIMITER).wait(name, adapter.rate_limit)
    started = time.monotonic()
    try:
        result = adapter.send(sample_message(public, recipient))
    except DeliveryError as exc:
        raise EndpointRefused(
            _(
                "endpoint {name} ({kind}) refused the test message: {reason}",
                name=name,
                kind=row.kind,
                reason=exc.message,
            )
        ) from None
    finally:
        close = getattr(adapter, "close", None)
        if close is not None:
            close()
    return ProbeResult(endpoint=public, response=result.response, seconds=time.monotonic() - started)


_LIMITER = Limiter()

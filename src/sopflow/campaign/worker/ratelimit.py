"""Queueing inside an endpoint's declared rate limit, shared by every worker through the delivery log.

Each attempt's ``deliveries.started_at`` is the moment its request may leave (now, or a slot reserved in
the near future), so the log is the one record of every worker's sends. The reservation is made in the
same transaction that writes the ``sending`` row, serialised per endpoint: on PostgreSQL by a row lock on
the endpoint, on SQLite by the database's write lock (the transaction has already written). A slot further
away than the worker's horizon is not reserved: the task waits in the database (``next_attempt_at``) and is
claimed again then, so no worker sleeps for minutes holding a lease, and the receiver never refuses.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopflow.channels.base import RateLimit
from sopflow.channels.ratelimit import next_slot
from sopflow.store.delivery import Delivery, Endpoint


def reserve_slot(
    session: Session, *, endpoint_id: int, limit: RateLimit, now: datetime, postgres: bool
) -> datetime:
    """The earliest moment a request to the endpoint keeps within ``limit`` (the caller writes it down)."""
    if postgres:
        session.execute(select(Endpoint.id).where(Endpoint.id == endpoint_id).with_for_update())
    since = now - timedelta(seconds=limit.seconds)
    taken = list(
        session.scalars(
            select(Delivery.started_at).where(
                Delivery.endpoint_id == endpoint_id, Delivery.started_at > since
            )
        )
    )
    return next_slot(limit, taken, now)

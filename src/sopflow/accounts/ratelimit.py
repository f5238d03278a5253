"""Login rate limiting, counted in the app database so that every server process sees the same attempts.

After ``per_name`` failures for one user name, or ``per_client`` failures from one address, within
``window``, further attempts (for that name, from that address) are refused for ``lockout`` from the failure
that reached the limit. A successful login clears the count of its user name (not of its address: logging
in to one's own account must not reset a guessing run against others from the same place).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sopflow.errors import SopflowError
from sopflow.i18n import _
from sopflow.store.accounts import LoginAttempt

KEEP_ATTEMPTS = timedelta(days=1)


@dataclass(frozen=True)
class RateLimits:
    per_name: int = 5
    per_client: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


DEFAULT_LIMITS = RateLimits()


class TooManyAttempts(SopflowError):
    code = "too_many_attempts"
    exit_code = 2
    http_status = 429

    def __init__(self, message: str, *, retry_after: timedelta) -> None:
        super().__init__(message)
        seconds = max(1, int(retry_after.total_seconds() + 0.999))
        self.retry_after = seconds
        self.headers = {"Retry-After": str(seconds)}


def _locked_until(failures: Sequence[datetime], limit: int, limits: RateLimits) -> datetime | None:
    """The end of the latest lockout: ``lockout`` after any failure that was the ``limit``-th in a window."""
    until = None
    for i in range(limit - 1, len(failures)):
        if failures[i] - failures[i - limit + 1] <= limits.window:
            until = failures[i] + limits.lockout
    return until


def _failures(session: Session, since: datetime, *, name: str | None, client: str | None) -> list[datetime]:
    query = select(LoginAttempt.at).where(LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False))
    if name is not None:
        last_success = session.scalar(
            select(LoginAttempt.at)
            .where(LoginAttempt.name == name, LoginAttempt.succeeded.is_(True), LoginAttempt.at >= since)
            .order_by(LoginAttempt.at.desc())
            .limit(1)
        )
        query = query.where(LoginAttempt.name == name)
        if last_success is not None:
            query = query.where(LoginAttempt.at > last_success)
    else:
        query = query.where(LoginAttempt.client == client)
    return list(session.scalars(query.order_by(LoginAttempt.at)))


def check_login_allowed(
    *,
    session: Session,
    name: str,
    client: str | None,
    now: datetime,
    limits: RateLimits = DEFAULT_LIMITS,
) -> None:
    """Raise :class:`TooManyAttempts` while ``name`` or ``client`` is locked out."""
    since = now - limits.window - limits.lockout
    by_name = _locked_until(_failures(session, since, name=name, client=None), limits.per_name, limits)
    if by_name is not None and by_name > now:
        raise TooManyAttempts(
            _(
                "too many failed logins for {name}; try again in {minutes} minutes",
                name=name,
                minutes=_minutes(by_name - now),
            ),
            retry_after=by_name - now,
        )
    if client is None:
        return
    by_client = _locked_until(_failures(session, since, name=None, client=client), limits.per_client, limits)
    if by_client is not None and by_client > now:
        raise TooManyAttempts(
            _(
                "too many failed logins from this address; try again in {minutes} minutes",
                minutes=_minutes(by_client - now),
            ),
            retry_after=by_client - now,
        )


def _minutes(left: timedelta) -> int:
    return max(1, int((left.total_seconds() + 59) // 60))


def record_attempt(
    *, session: Session, name: str, client: str | None, succeeded: bool, now: datetime
) -> None:
    """Keep one attempt, and forget those older than a day (they can no longer lock anything)."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - KEEP_ATTEMPTS))
    session.add(
        LoginAttempt(at=now, name=name[:100], client=client[:100] if client else None, succeeded=succeeded)
    )
    session.flush()

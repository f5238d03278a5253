"""Login sessions: log in with a name and password, verify a session token on each request, log out.

The token (sent as the ``sopflow_session`` cookie) is 256 random bits; only its SHA-256 is stored. A session
ends when it has not been used for ``idle`` (sliding expiry), at ``absolute`` after login whatever happens,
at logout, or when its user is disabled or gets a new password. Each session has its own CSRF token, which
every unsafe request must echo in a header (:mod:`sopflow.web.auth`).

A refused login still records the failed attempt, which the rate limiter counts; since an exception would
roll the caller's transaction back, :func:`login` returns its outcome and the caller raises it after commit
(:meth:`LoginOutcome.unwrap`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sopflow.accounts.audit import record_audit
from sopflow.accounts.passwords import DEFAULT_HASHER, MAX_CHARS, burn_a_verification, verify_password
from sopflow.accounts.public import UserPublic, public
from sopflow.accounts.ratelimit import (
    DEFAULT_LIMITS,
    RateLimits,
    TooManyAttempts,
    check_login_allowed,
    record_attempt,
)
from sopflow.errors import SopflowError, Unauthorized
from sopflow.i18n import _
from sopflow.store.accounts import LoginSession, User


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(hours=12)
    absolute: timedelta = timedelta(days=7)
    # last_seen_at is written at most this often: one write per request would serialise every page load on
    # SQLite, and a minute is far below any idle timeout.
    touch_every: timedelta = timedelta(minutes=1)


DEFAULT_POLICY = SessionPolicy()


@dataclass(frozen=True)
class Authenticated:
    """A verified session: its user (as of this request), and the CSRF token unsafe requests must carry."""

    user: UserPublic
    session_id: int
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class StartedSession:
    token: str  # the cookie value; shown to the browser once, never stored
    auth: Authenticated


@dataclass(frozen=True)
class LoginOutcome:
    started: StartedSession | None = None
    error: SopflowError | None = None

    def unwrap(self) -> StartedSession:
        if self.error is not None:
            raise self.error
        assert self.started is not None
        return self.started


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _wrong_credentials() -> Unauthorized:
    return Unauthorized(_("wrong user name or password"), code="invalid_credentials")


def login(
    *,
    session: Session,
    name: str,
    password: str,
    client: str | None = None,
    now: datetime | None = None,
    policy: SessionPolicy = DEFAULT_POLICY,
    limits: RateLimits = DEFAULT_LIMITS,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> LoginOutcome:
    """Check the password and start a session, or say why not (after recording the failed attempt)."""
    now = now or datetime.now(UTC)
    name = name.strip()[:100]
    try:
        check_login_allowed(session=session, name=name, client=client, now=now, limits=limits)
    except TooManyAttempts as exc:
        return LoginOutcome(error=exc)
    row = session.scalars(select(User).where(User.name == name)).one_or_none()
    if len(password) > MAX_CHARS:
        ok = False
    elif row is None:
        burn_a_verification(password, hasher=hasher)
        ok = False
    else:
        verified = verify_password(row.password_hash, password, hasher=hasher)
        ok = verified.ok
        if verified.new_hash is not None:
            row.password_hash = verified.new_hash
    record_attempt(session=session, name=name, client=client, succeeded=ok, now=now)
    if not ok or row is None:
        return LoginOutcome(error=_wrong_credentials())
    if not row.active:
        return LoginOutcome(
            error=Unauthorized(
                _("the account {name} is disabled; ask an admin to enable it", name=row.name),
                code="account_disabled",
            )
        )
    row.last_login_at = now
    token = secrets.token_urlsafe(32)
    record = LoginSession(
        token_hash=hash_token(token),
        user_id=row.id,
        csrf_token=secrets.token_urlsafe(32),
        client=client[:100] if client else None,
        created_at=now,
        expires_at=now + policy.absolute,
        last_seen_at=now,
    )
    session.add(record)
    session.flush()
    record_audit(
        session=session,
        actor=row.name,
        action="login",
        target_kind="user",
        target_id=row.name,
        client=client,
        now=now,
    )
    auth = Authenticated(
        user=public(row), session_id=record.id, csrf_token=record.csrf_token, expires_at=record.expires_at
    )
    return LoginOutcome(started=StartedSession(token=token, auth=auth))


def verify_session(
    *,
    session: Session,
    token: str | None,
    now: datetime | None = None,
    policy: SessionPolicy = DEFAULT_POLICY,
) -> Authenticated:
    """The session of ``token`` and its user, extending its idle expiry; :class:`Unauthorized` otherwise."""
    now = now or datetime.now(UTC)
    if not token:
        raise Unauthorized(_("not logged in; log in first"), code="not_logged_in")
    found = session.execute(
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == hash_token(token))
    ).one_or_none()
    if found is None:
        raise Unauthorized(_("unknown session; log in again"), code="invalid_session")
    record, user = found
    if record.revoked_at is not None or not user.active:
        raise Unauthorized(_("this session has ended; log in again"), code="session_ended")
    if now >= record.expires_at or now >= record.last_seen_at + policy.idle:
        raise Unauthorized(_("the session has expired; log in again"), code="session_expired")
    if now - record.last_seen_at >= policy.touch_every:
        record.last_seen_at = now
    return Authenticated(
        user=public(user),
        session_id=record.id,
        csrf_token=record.csrf_token,
        expires_at=min(record.expires_at, record.last_seen_at + policy.idle),
    )


def logout(*, session: Session, token: str, client: str | None = None, now: datetime | None = None) -> bool:
    """End the session of ``token``; False when there was none to end."""
    now = now or datetime.now(UTC)
    record = session.scalars(
        select(LoginSession).where(LoginSession.token_hash == hash_token(token))
    ).one_or_none()
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = now
    user = session.get(User, record.user_id)
    record_audit(
        session=session,
        actor=user.name if user else "?",
        action="logout",
        target_kind="user",
        target_id=user.name if user else record.user_id,
        client=client,
        now=now,
    )
    return True


def revoke_user_sessions(*, session: Session, user_id: int, now: datetime | None = None) -> int:
    """End every open session of a user; returns how many were open."""
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)

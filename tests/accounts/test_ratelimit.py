"""Login rate limiting by user name and by address, with an injected clock, counted in the database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopflow.accounts.ratelimit import RateLimits, TooManyAttempts
from sopflow.accounts.sessions import LoginOutcome, login
from sopflow.accounts.users import create_user
from sopflow.store.accounts import LoginAttempt
from sopflow.store.database import Database

from .conftest import FAST, T0

GOOD = "correct horse 1"


def _try(session: Session, name: str, password: str, at: datetime, client: str = "10.0.0.1") -> LoginOutcome:
    return login(session=session, name=name, password=password, client=client, now=at, hasher=FAST)


@pytest.fixture
def users(session: Session) -> None:
    for name in ("ma", "niu"):
        create_user(session=session, name=name, role="viewer", password=GOOD, actor="t", hasher=FAST)


def _fail(session: Session, name: str, times: int, start: datetime, client: str = "10.0.0.1") -> None:
    for i in range(times):
        outcome = _try(session, name, "wrong password", start + timedelta(seconds=i), client)
        assert outcome.error is not None and outcome.error.code == "invalid_credentials"


@pytest.mark.usefixtures("users")
def test_five_failures_lock_the_name_for_fifteen_minutes(session: Session) -> None:
    _fail(session, "ma", 5, T0)
    locked = _try(session, "ma", GOOD, T0 + timedelta(minutes=1))
    assert isinstance(locked.error, TooManyAttempts)
    assert locked.error.http_status == 429 and "try again in 15 minutes" in locked.error.message
    assert locked.error.headers == {"Retry-After": str(14 * 60 + 4)}
    # Another user, from the same address, is not affected.
    _try(session, "niu", GOOD, T0 + timedelta(minutes=1)).unwrap()
    # The lock ends 15 minutes after the fifth failure (at T0 + 4 s).
    assert isinstance(_try(session, "ma", GOOD, T0 + timedelta(minutes=15, seconds=3)).error, TooManyAttempts)
    _try(session, "ma", GOOD, T0 + timedelta(minutes=15, seconds=5)).unwrap()


@pytest.mark.usefixtures("users")
def test_failures_spread_beyond_the_window_do_not_lock(session: Session) -> None:
    for i in range(8):
        outcome = _try(session, "ma", "wrong password", T0 + timedelta(minutes=4 * i))
        assert outcome.error is not None and outcome.error.code == "invalid_credentials"
    _try(session, "ma", GOOD, T0 + timedelta(minutes=29)).unwrap()


@pytest.mark.usefixtures("users")
def test_a_success_clears_the_count_of_the_name(session: Session) -> None:
    _fail(session, "ma", 4, T0)
    _try(session, "ma", GOOD, T0 + timedelta(seconds=10)).unwrap()
    _fail(session, "ma", 4, T0 + timedelta(seconds=20))
    _try(session, "ma", GOOD, T0 + timedelta(seconds=30)).unwrap()


@pytest.mark.usefixtures("users")
def test_twenty_failures_from_one_address_lock_the_address(session: Session) -> None:
    for i in range(20):
        _fail(session, f"guess{i}", 1, T0 + timedelta(seconds=i), client="203.0.113.9")
    refused = _try(session, "ma", GOOD, T0 + timedelta(minutes=2), client="203.0.113.9")
    assert isinstance(refused.error, TooManyAttempts) and "this address" in refused.error.message
    # The same user from elsewhere is fine; a success does not clear the address's count.
    _try(session, "ma", GOOD, T0 + timedelta(minutes=2), client="198.51.100.1").unwrap()
    assert isinstance(
        _try(session, "niu", GOOD, T0 + timedelta(minutes=3), client="203.0.113.9").error, TooManyAttempts
    )
    _try(session, "niu", GOOD, T0 + timedelta(minutes=16), client="203.0.113.9").unwrap()


@pytest.mark.usefixtures("users")
def test_refused_attempts_are_not_counted_and_old_ones_are_forgotten(session: Session) -> None:
    _fail(session, "ma", 5, T0)
    for i in range(10):
        assert isinstance(
            _try(session, "ma", "x", T0 + timedelta(minutes=1, seconds=i)).error, TooManyAttempts
        )
    assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 5
    _try(session, "niu", GOOD, T0 + timedelta(days=2)).unwrap()
    assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 1


def test_separate_transactions_see_the_same_count(db: Database) -> None:
    """Like two server processes: each failure is committed in its own transaction on its own connection."""
    with db.session() as session:
        create_user(session=session, name="ma", role="viewer", password=GOOD, actor="t", hasher=FAST)
    limits = RateLimits(per_name=3)
    for i in range(3):
        with db.session() as session:
            outcome = login(
                session=session,
                name="ma",
                password="nope",
                now=T0 + timedelta(seconds=i),
                limits=limits,
                hasher=FAST,
            )
        assert outcome.error is not None and outcome.error.code == "invalid_credentials"
    with db.session() as session:
        outcome = login(
            session=session,
            name="ma",
            password=GOOD,
            now=T0 + timedelta(seconds=5),
            limits=limits,
            hasher=FAST,
        )
    assert isinstance(outcome.error, TooManyAttempts)

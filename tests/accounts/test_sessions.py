"""Login sessions: tokens stored hashed, sliding and absolute expiry, logout, rehash on login."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from sopflow.accounts.audit import list_audit
from sopflow.accounts.sessions import SessionPolicy, hash_token, login, logout, verify_session
from sopflow.accounts.users import create_user
from sopflow.errors import Unauthorized
from sopflow.store.accounts import LoginSession, User

from .conftest import FAST, T0

POLICY = SessionPolicy(idle=timedelta(hours=1), absolute=timedelta(hours=5), touch_every=timedelta(minutes=1))


@pytest.fixture
def token(session: Session) -> str:
    create_user(
        session=session,
        name="li",
        role="operator",
        password="correct horse 1",
        actor="t",
        now=T0,
        hasher=FAST,
    )
    started = login(
        session=session,
        name="li",
        password="correct horse 1",
        client="10.1.1.1",
        now=T0,
        policy=POLICY,
        hasher=FAST,
    ).unwrap()
    return started.token


def _code(session: Session, token: str, at_minutes: float) -> str:
    with pytest.raises(Unauthorized) as err:
        verify_session(session=session, token=token, now=T0 + timedelta(minutes=at_minutes), policy=POLICY)
    return err.value.code


def test_the_token_is_stored_only_as_its_hash(session: Session, token: str) -> None:
    row = session.scalars(select(LoginSession)).one()
    assert row.token_hash == hash_token(token) and token not in (row.token_hash, row.csrf_token)
    assert len(token) >= 43 and len(row.csrf_token) >= 43
    assert row.client == "10.1.1.1" and row.expires_at == T0 + POLICY.absolute
    assert session.scalars(select(User)).one().last_login_at == T0


def test_use_slides_the_idle_expiry_up_to_the_absolute_limit(session: Session, token: str) -> None:
    # Used every 50 minutes: never idle for an hour, so it lives until the absolute limit (5 h).
    for minutes in range(50, 300, 50):
        auth = verify_session(
            session=session, token=token, now=T0 + timedelta(minutes=minutes), policy=POLICY
        )
        assert auth.user.name == "li"
    assert auth.expires_at == T0 + timedelta(hours=5)
    assert _code(session, token, 300) == "session_expired"


def test_an_idle_session_expires(session: Session, token: str) -> None:
    verify_session(session=session, token=token, now=T0 + timedelta(minutes=59), policy=POLICY)
    # Last used at minute 59, so idle for more than an hour at minute 120.
    assert _code(session, token, 120) == "session_expired"


def test_last_seen_is_written_at_most_once_a_minute(session: Session, token: str) -> None:
    verify_session(session=session, token=token, now=T0 + timedelta(seconds=30), policy=POLICY)
    assert session.scalars(select(LoginSession)).one().last_seen_at == T0
    verify_session(session=session, token=token, now=T0 + timedelta(seconds=90), policy=POLICY)
    assert session.scalars(select(LoginSession)).one().last_seen_at == T0 + timedelta(seconds=90)


def test_unknown_missing_and_logged_out_tokens(session: Session, token: str) -> None:
    assert _code(session, token + "x", 1) == "invalid_session"
    with pytest.raises(Unauthorized) as err:
        verify_session(session=session, token=None)
    assert err.value.code == "not_logged_in"
    assert logout(session=session, token=token, now=T0 + timedelta(minutes=1))
    assert not logout(session=session, token=token)
    assert _code(session, token, 2) == "session_ended"
    assert [e.action for e in list_audit(session=session)] == ["logout", "login", "user.create"]


def test_wrong_password_and_unknown_user_answer_the_same(session: Session, token: str) -> None:
    wrong = login(session=session, name="li", password="wrong horse 1", now=T0, hasher=FAST)
    nobody = login(session=session, name="nobody", password="wrong horse 1", now=T0, hasher=FAST)
    assert wrong.error is not None and nobody.error is not None
    assert (wrong.error.code, wrong.error.message) == (nobody.error.code, nobody.error.message)
    assert wrong.error.http_status == 401
    with pytest.raises(Unauthorized):
        wrong.unwrap()


def test_login_moves_an_old_hash_to_the_current_parameters(session: Session) -> None:
    create_user(
        session=session, name="zhou", role="viewer", password="correct horse 1", actor="t", hasher=FAST
    )
    before = session.scalars(select(User)).one().password_hash
    current = PasswordHasher(time_cost=2, memory_cost=128, parallelism=1)
    login(session=session, name="zhou", password="correct horse 1", now=T0, hasher=current).unwrap()
    after = session.scalars(select(User)).one().password_hash
    assert after != before and "m=128,t=2,p=1" in after
    login(session=session, name="zhou", password="correct horse 1", now=T0, hasher=current).unwrap()
    assert session.scalars(select(User)).one().password_hash == after

"""The users service on SQLite and PostgreSQL: create, list, disable/enable, reset, roles, the last admin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sopflow.accounts.audit import list_audit
from sopflow.accounts.passwords import verify_password
from sopflow.accounts.sessions import login, verify_session
from sopflow.accounts.users import (
    change_role,
    create_user,
    disable_user,
    enable_user,
    list_users,
    reset_password,
)
from sopflow.errors import InvalidInput, NotFound, Unauthorized
from sopflow.store.accounts import User
from sopflow.store.database import Database

from .conftest import FAST, T0


def _make(session: Session, name: str, role: str, password: str | None = "correct horse 1") -> str:
    result = create_user(
        session=session, name=name, role=role, password=password, actor="boss", now=T0, hasher=FAST
    )
    return result.password


def test_create_stores_only_a_hash_and_audits(session: Session) -> None:
    result = create_user(
        session=session,
        name="zhangsan",
        role="operator",
        display_name="张三",
        password="correct horse 1",
        actor="boss",
        client="10.0.0.7",
        now=T0,
        hasher=FAST,
    )
    assert not result.generated
    assert result.user.role == "operator" and result.user.display_name == "张三"
    row = session.scalars(select(User)).one()
    assert row.password_hash.startswith("$argon2id$") and "correct horse" not in row.password_hash
    assert verify_password(row.password_hash, "correct horse 1", hasher=FAST).ok
    (entry,) = list_audit(session=session)
    assert (entry.actor, entry.action, entry.target_id, entry.client) == (
        "boss",
        "user.create",
        "zhangsan",
        "10.0.0.7",
    )
    assert entry.details == {"role": "operator"}
    assert "password" not in str(entry.as_json())


def test_create_without_password_generates_one_that_logs_in(session: Session) -> None:
    password = _make(session, "admin", "admin", password=None)
    outcome = login(session=session, name="admin", password=password, now=T0, hasher=FAST)
    assert outcome.unwrap().auth.user.name == "admin"


@pytest.mark.parametrize(
    ("name", "role", "password", "code"),
    [
        ("", "admin", None, "invalid_name"),
        ("has space", "admin", None, "invalid_name"),
        ("x" * 65, "admin", None, "invalid_name"),
        ("lisi", "owner", None, "invalid_role"),
        ("lisi", "viewer", "short", "weak_password"),
        ("lisi12345678", "viewer", "LISI12345678", "weak_password"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    db: Database, name: str, role: str, password: str | None, code: str
) -> None:
    with pytest.raises(InvalidInput) as err, db.session() as session:
        create_user(session=session, name=name, role=role, password=password, actor="boss", hasher=FAST)
    assert err.value.code == code
    with db.session() as session:
        assert list_users(session=session) == []
        assert list_audit(session=session) == []


def test_duplicate_names_are_refused(session: Session) -> None:
    _make(session, "wangwu", "viewer")
    with pytest.raises(InvalidInput, match="already exists"):
        _make(session, "wangwu", "admin")


def test_chinese_names_are_accepted_and_listed_in_order(session: Session) -> None:
    for name in ("张三", "alice", "bob.li"):
        _make(session, name, "viewer")
    assert [u.name for u in list_users(session=session)] == sorted(["张三", "alice", "bob.li"])


def test_disable_ends_sessions_and_blocks_login_until_enabled(session: Session) -> None:
    _make(session, "admin", "admin")
    _make(session, "zhao", "operator")
    token = (
        login(session=session, name="zhao", password="correct horse 1", now=T0, hasher=FAST).unwrap().token
    )
    user = disable_user(session=session, name="zhao", actor="admin", now=T0)
    assert not user.active
    with pytest.raises(Unauthorized) as ended:
        verify_session(session=session, token=token, now=T0)
    assert ended.value.code == "session_ended"
    refused = login(session=session, name="zhao", password="correct horse 1", now=T0, hasher=FAST)
    assert refused.error is not None and refused.error.code == "account_disabled"
    enable_user(session=session, name="zhao", actor="admin", now=T0)
    login(session=session, name="zhao", password="correct horse 1", now=T0, hasher=FAST).unwrap()
    actions = [e.action for e in list_audit(session=session, actor="admin")]
    assert actions == ["user.enable", "user.disable"]


def test_the_last_active_admin_can_be_neither_disabled_nor_demoted(session: Session) -> None:
    _make(session, "root", "admin")
    attempts: list[Callable[[], object]] = [
        lambda: disable_user(session=session, name="root", actor="x"),
        lambda: change_role(session=session, name="root", role="operator", actor="x"),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidInput) as err:
            attempt()
        assert err.value.code == "last_admin"
    _make(session, "second", "admin")
    change_role(session=session, name="root", role="viewer", actor="second")
    with pytest.raises(InvalidInput, match="last active admin"):
        disable_user(session=session, name="second", actor="second")
    # A disabled admin does not count as the one that is left.
    change_role(session=session, name="root", role="admin", actor="second")
    disable_user(session=session, name="root", actor="second")
    with pytest.raises(InvalidInput, match="last active admin"):
        change_role(session=session, name="second", role="viewer", actor="second")


def test_reset_password_replaces_it_and_ends_sessions(session: Session) -> None:
    _make(session, "qian", "operator")
    token = (
        login(session=session, name="qian", password="correct horse 1", now=T0, hasher=FAST).unwrap().token
    )
    later = T0 + timedelta(minutes=5)
    result = reset_password(session=session, name="qian", actor="boss", now=later, hasher=FAST)
    assert result.generated and result.user.password_changed_at == later
    with pytest.raises(Unauthorized):
        verify_session(session=session, token=token, now=later)
    old = login(session=session, name="qian", password="correct horse 1", now=later, hasher=FAST)
    assert old.error is not None and old.error.code == "invalid_credentials"
    login(session=session, name="qian", password=result.password, now=later, hasher=FAST).unwrap()
    (entry,) = list_audit(session=session, action="user.reset_password")
    assert entry.details == {"generated": True, "sessions_ended": 1}


def test_change_role_is_audited_with_before_and_after(session: Session) -> None:
    _make(session, "sun", "viewer")
    assert change_role(session=session, name="sun", role="OPERATOR", actor="boss").role == "operator"
    (entry,) = list_audit(session=session, action="user.role")
    assert entry.details == {"from": "viewer", "to": "operator"}


def test_unknown_users_are_not_found(session: Session) -> None:
    with pytest.raises(NotFound, match="nobody"):
        disable_user(session=session, name="nobody", actor="x")


def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each demotion in its own thread and transaction, held after its first check until the other has made
    its own (or 2 s have passed, where the database makes it wait): never zero admins afterwards."""
    import contextlib
    import threading

    from sopflow.accounts import users

    with db.session() as session:
        _make(session, "a", "admin")
        _make(session, "b", "admin")
    barrier = threading.Barrier(2)
    first_check = users._keep_an_admin

    def held_check(session: Session, row: User) -> None:
        first_check(session, row)
        # On PostgreSQL the other thread waits on our row locks instead, and the barrier times out.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)

    monkeypatch.setattr(users, "_keep_an_admin", held_check)
    outcomes: dict[str, BaseException | None] = {}

    def demote(name: str) -> None:
        try:
            with db.session() as session:
                change_role(session=session, name=name, role="viewer", actor="x")
            outcomes[name] = None
        except Exception as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=demote, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with db.session() as session:
        admins = [u.name for u in list_users(session=session) if u.role == "admin" and u.active]
    assert len(admins) == 1, outcomes
    assert sum(exc is not None for exc in outcomes.values()) == 1, outcomes

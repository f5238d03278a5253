"""Console users: create, list, disable, enable, reset a password, change a role.

Every change is written to the audit log with the acting person, in the same transaction. The last active
admin can be neither disabled nor demoted, so a workspace can never lock out its own administration.
Disabling a user or resetting their password ends all their sessions at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from sopflow.accounts.audit import record_audit
from sopflow.accounts.passwords import (
    DEFAULT_HASHER,
    check_password_policy,
    generate_password,
    hash_password,
)
from sopflow.accounts.public import UserPublic, public
from sopflow.accounts.roles import Role, parse_role
from sopflow.accounts.sessions import revoke_user_sessions
from sopflow.errors import InvalidInput, NotFound
from sopflow.i18n import _
from sopflow.store.accounts import User

MAX_NAME_CHARS = 64
# Letters (Chinese included), digits and . _ - @: names appear in URLs, audit lines and shell commands.
_NAME = re.compile(r"[\w.@-]+")


@dataclass(frozen=True)
class WithPassword:
    """A user just created or reset, and the password to hand over (generated: shown once, never stored)."""

    user: UserPublic
    password: str
    generated: bool


def check_name(name: str) -> str:
    clean = name.strip()
    if not clean or len(clean) > MAX_NAME_CHARS or not _NAME.fullmatch(clean):
        raise InvalidInput(
            _(
                "user name {name!r}: use 1 to {n} letters, digits or . _ - @ (no spaces)",
                name=name,
                n=MAX_NAME_CHARS,
            ),
            code="invalid_name",
        )
    return clean


def find_user(*, session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(User.name == name.strip())).one_or_none()


def _get(session: Session, name: str) -> User:
    row = find_user(session=session, name=name)
    if row is None:
        raise NotFound(_("no user named {name!r}; see `sopflow users list`", name=name), code="unknown_user")
    return row


def _password(given: str | None, name: str) -> tuple[str, bool]:
    if given is None:
        return generate_password(), True
    check_password_policy(given, name=name)
    return given, False


def create_user(
    *,
    session: Session,
    name: str,
    role: str,
    actor: str,
    password: str | None = None,
    display_name: str = "",
    client: str | None = None,
    now: datetime | None = None,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> WithPassword:
    """Add a user; without ``password`` one is generated (returned once, to be handed over)."""
    now = now or datetime.now(UTC)
    clean = check_name(name)
    chosen_role = parse_role(role)
    if find_user(session=session, name=clean) is not None:
        raise InvalidInput(_("a user named {name!r} already exists", name=clean), code="duplicate_user")
    secret, generated = _password(password, clean)
    row = User(
        name=clean,
        display_name=display_name.strip()[:200] or clean,
        role=chosen_role,
        password_hash=hash_password(secret, hasher=hasher),
        active=True,
        created_at=now,
        password_changed_at=now,
    )
    session.add(row)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="user.create",
        target_kind="user",
        target_id=clean,
        details={"role": chosen_role},
        client=client,
        now=now,
    )
    return WithPassword(user=public(row), password=secret, generated=generated)


def list_users(*, session: Session) -> list[UserPublic]:
    return [public(row) for row in session.scalars(select(User).order_by(User.name))]


def _other_active_admins(session: Session, row: User) -> int:
    # FOR UPDATE on PostgreSQL: two admins demoting each other at once must not both see the other one as
    # the admin who stays; the second waits for the first and then counts again (SQLite: _an_admin_is_left).
    query = select(User.id).where(User.role == "admin", User.active.is_(True)).with_for_update()
    return sum(1 for user_id in session.scalars(query) if user_id != row.id)


def _keep_an_admin(session: Session, row: User) -> None:
    if row.role == "admin" and row.active and _other_active_admins(session, row) == 0:
        raise _last_admin(row.name)


def _an_admin_is_left(session: Session, name: str) -> None:
    # Checked again after the change is written: on SQLite the check above reads outside the write
    # transaction, so two admins demoting each other at once would both pass it. The second writer waits
    # for the first one's commit, sees its change here, and rolls back.
    session.flush()
    query = select(User.id).where(User.role == "admin", User.active.is_(True)).limit(1)
    if session.scalar(query) is None:
        raise _last_admin(name)


def _last_admin(name: str) -> InvalidInput:
    return InvalidInput(
        _("{name} is the last active admin; make another user admin first", name=name),
        code="last_admin",
    )


def disable_user(
    *, session: Session, name: str, actor: str, client: str | None = None, now: datetime | None = None
) -> UserPublic:
    """Disable a user and end their sessions; they can no longer log in. Their history stays."""
    now = now or datetime.now(UTC)
    row = _get(session, name)
    _keep_an_admin(session, row)
    if row.active:
        row.active = False
        if row.role == "admin":
            _an_admin_is_left(session, row.name)
        ended = revoke_user_sessions(session=session, user_id=row.id, now=now)
        record_audit(
            session=session,
            actor=actor,
            action="user.disable",
            target_kind="user",
            target_id=row.name,
            details={"sessions_ended": ended},
            client=client,
            now=now,
        )
    return public(row)


def enable_user(
    *, session: Session, name: str, actor: str, client: str | None = None, now: datetime | None = None
) -> UserPublic:
    row = _get(session, name)
    if not row.active:
        row.active = True
        record_audit(
            session=session,
            actor=actor,
            action="user.enable",
            target_kind="user",
            target_id=row.name,
            client=client,
            now=now,
        )
    return public(row)


def reset_password(
    *,
    session: Session,
    name: str,
    actor: str,
    password: str | None = None,
    client: str | None = None,
    now: datetime | None = None,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> WithPassword:
    """Set a new password (generated when none is given) and end the user's sessions."""
    now = now or datetime.now(UTC)
    row = _get(session, name)
    secret, generated = _password(password, row.name)
    row.password_hash = hash_password(secret, hasher=hasher)
    row.password_changed_at = now
    ended = revoke_user_sessions(session=session, user_id=row.id, now=now)
    record_audit(
        session=session,
        actor=actor,
        action="user.reset_password",
        target_kind="user",
        target_id=row.name,
        details={"generated": generated, "sessions_ended": ended},
        client=client,
        now=now,
    )
    return WithPassword(user=public(row), password=secret, generated=generated)


def change_role(
    *,
    session: Session,
    name: str,
    role: str,
    actor: str,
    client: str | None = None,
    now: datetime | None = None,
) -> UserPublic:
    row = _get(session, name)
    chosen: Role = parse_role(role)
    if chosen == row.role:
        return public(row)
    if chosen != "admin":
        _keep_an_admin(session, row)
    before = row.role
    row.role = chosen
    if before == "admin" and row.active:
        _an_admin_is_left(session, row.name)
    record_audit(
        session=session,
        actor=actor,
        action="user.role",
        target_kind="user",
        target_id=row.name,
        details={"from": before, "to": chosen},
        client=client,
        now=now,
    )
    return public(row)

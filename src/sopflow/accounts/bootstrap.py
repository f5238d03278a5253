"""The first admin of a workspace with no users: created with a generated password, printed once.

There is never a fixed default password: ``sopflow serve`` and ``sopflow demo --serve`` call
:func:`bootstrap_admin` before serving, and it creates the account only while the users table is empty.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopflow.accounts.users import WithPassword, create_user
from sopflow.store.accounts import User

BOOTSTRAP_NAME = "admin"


def bootstrap_admin(*, session: Session, actor: str = "sopflow") -> WithPassword | None:
    """A new admin ``admin`` with a generated password when no user exists yet, else ``None``."""
    if session.scalar(select(func.count()).select_from(User)):
        return None
    return create_user(session=session, name=BOOTSTRAP_NAME, role="admin", actor=actor)

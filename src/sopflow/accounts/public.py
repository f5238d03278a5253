"""What may be shown about a user (never the password hash), shared by the users and sessions modules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sopflow.store.accounts import User


@dataclass(frozen=True)
class UserPublic:
    """What may be shown about a user: never the password hash."""

    id: int
    name: str
    display_name: str
    role: str
    active: bool
    created_at: datetime
    password_changed_at: datetime
    last_login_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "display_name": self.display_name,
            "role": self.role,
            "active": self.active,
            "created_at": self.created_at.isoformat(),
            "password_changed_at": self.password_changed_at.isoformat(),
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
        }


def public(row: User) -> UserPublic:
    return UserPublic(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        role=row.role,
        active=row.active,
        created_at=row.created_at,
        password_changed_at=row.password_changed_at,
        last_login_at=row.last_login_at,
    )

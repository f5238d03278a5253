"""Roles, what each may do, and masking of contact details for viewers.

The hierarchy is viewer < operator < admin: each role may do everything the roles below it may. Viewers read
and change nothing. ``ACTIONS`` maps every write action to the least role allowed to do it; the API checks
it on the server for every request (:func:`sopflow.web.auth.require`), whatever the page shows.
"""

from __future__ import annotations

import re
from typing import Literal

from sopflow.errors import InvalidInput
from sopflow.i18n import _

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}

# action → the least role that may do it. Reads are open to every role and need no entry, except those
# listed here (the audit log is for admins).
ACTIONS: dict[str, Role] = {
    "playbook.write": "operator",
    "playbook.approve": "admin",
    "campaign.start": "operator",
    "campaign.pause": "operator",
    "task.update": "operator",
    "staff.manage": "operator",
    "events.import": "operator",
    "endpoints.manage": "admin",
    "endpoints.test": "operator",
    "keys.manage": "admin",
    "users.manage": "admin",
    "settings.manage": "admin",
    "audit.read": "admin",
    "read": "viewer",
}


def parse_role(value: str) -> Role:
    """``value`` as a role, or a clean error listing the roles."""
    clean = value.strip().lower()
    for role in ROLES:
        if clean == role:
            return role
    raise InvalidInput(
        _("unknown role {role!r}; choose one of {choices}", role=value, choices=", ".join(ROLES)),
        code="invalid_role",
    )


def at_least(role: str, minimum: Role) -> bool:
    return _RANK.get(role, -1) >= _RANK[minimum]


def can(role: str, action: str) -> bool:
    """Whether ``role`` may do ``action``; an action missing from ``ACTIONS`` is a programming error."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; add it to sopflow.accounts.roles.ACTIONS")
    return at_least(role, ACTIONS[action])


_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{5,}[0-9]")
_MASK = "****"


def mask_contact(value: str | None) -> str | None:
    """Hide the middle of a phone number or WeChat id: ``13812345678`` → ``138****5678``, ``wxid_ab12cdab`` →
    ``wx****ab``. Short values are hidden whole; empty ones are left as they are."""
    if not value:
        return value
    text = value.strip()
    if _PHONE.fullmatch(text):
        digits = "".join(ch for ch in text if ch.isdigit() or ch == "+")
        if len(digits) >= 8:
            return digits[:3] + _MASK + digits[-4:]
        return _MASK
    if len(text) <= 4:
        return _MASK
    return text[:2] + _MASK + text[-2:]

"""The audit log: who changed which playbook, approved which version, started or paused which campaign,
exported which list, created or revoked which key or account.

Entries are written in the same transaction as the change they describe, so a change that rolled back leaves
no entry and no change goes unrecorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.store.accounts import AuditEntry

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    target_kind: str
    target_id: str
    details: dict[str, Any]
    client: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target_kind": self.target_kind,
            "target_id": self.target_id,
            "details": self.details,
            "client": self.client,
        }


def _record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target_kind=row.target_kind,
        target_id=row.target_id,
        details=dict(row.details or {}),
        client=row.client,
    )


def record_audit(
    *,
    session: Session,
    actor: str,
    action: str,
    target_kind: str,
    target_id: str | int,
    details: dict[str, Any] | None = None,
    client: str | None = None,
    now: datetime | None = None,
) -> AuditRecord:
    """Add one entry to the audit log (in the caller's transaction)."""
    row = AuditEntry(
        at=now or datetime.now(UTC),
        actor=actor[:100],
        action=action,
        target_kind=target_kind,
        target_id=str(target_id)[:200],
        details=details or {},
        client=client[:100] if client else None,
    )
    session.add(row)
    session.flush()
    return _record(row)


def list_audit(
    *,
    session: Session,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[AuditRecord]:
    """The newest entries first; ``action`` ending in ``.`` or ``*`` matches a family (``user.*``)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(_("the limit must be between 1 and {n}", n=MAX_LIMIT), code="invalid_limit")
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        if action.endswith(("*", ".")):
            prefix = action.rstrip("*")
            query = query.where(AuditEntry.action.startswith(prefix, autoescape=True))
        else:
            query = query.where(AuditEntry.action == action)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return [_record(row) for row in session.scalars(query)]

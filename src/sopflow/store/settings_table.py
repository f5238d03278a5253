"""Writing one row of ``workspace_settings`` with its audit entry: every setting changed in the console or the
CLI (approval required, workspace timezone) goes through :func:`store_setting`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from sopflow.accounts.audit import record_audit
from sopflow.store.runs import WorkspaceSetting


def store_setting(
    *,
    session: Session,
    key: str,
    value: Any,
    before: Any,
    actor: str,
    client: str | None = None,
    now: datetime | None = None,
) -> None:
    """Set ``key`` to ``value`` (in the caller's transaction) and record the change from ``before``."""
    setting = session.get(WorkspaceSetting, key)
    if setting is None:
        setting = WorkspaceSetting(key=key)
        session.add(setting)
    setting.value = value
    setting.updated_at = now or datetime.now(UTC)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="workspace.setting",
        target_kind="setting",
        target_id=key,
        details={"before": before, "after": value},
        client=client,
        now=now,
    )

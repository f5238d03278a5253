"""The audit log: recorded in the caller's transaction, filtered by actor, action family, time; newest first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from sopflow.accounts.audit import MAX_LIMIT, list_audit, record_audit
from sopflow.errors import InvalidInput
from sopflow.store.database import Database

from .conftest import T0


def _fill(session: Session) -> None:
    rows: list[tuple[str, str, str, str | int, dict[str, Any] | None]] = [
        ("alice", "playbook.approve", "playbook", "spring-sale", {"version": 3}),
        ("bob", "campaign.start", "campaign", 7, {"name": "双11"}),
        ("alice", "campaign.pause", "campaign", 7, None),
        ("bob", "export.list", "funnel", "dropped", {"rows": 120}),
        ("carol", "key.revoke", "api_key", 2, None),
    ]
    for minutes, (actor, action, kind, target, details) in enumerate(rows):
        record_audit(
            session=session,
            actor=actor,
            action=action,
            target_kind=kind,
            target_id=target,
            details=details,
            client="127.0.0.1",
            now=T0 + timedelta(minutes=minutes),
        )


def test_entries_come_back_newest_first_with_their_details(session: Session) -> None:
    _fill(session)
    entries = list_audit(session=session)
    assert [e.action for e in entries][:2] == ["key.revoke", "export.list"]
    start = next(e for e in entries if e.action == "campaign.start")
    assert (
        start.target_id == "7" and start.details == {"name": "双11"} and start.at == T0 + timedelta(minutes=1)
    )
    assert start.as_json()["at"] == "2026-03-01T09:01:00+00:00"


def test_filters(session: Session) -> None:
    _fill(session)
    assert [e.action for e in list_audit(session=session, actor="alice")] == [
        "campaign.pause",
        "playbook.approve",
    ]
    assert [e.actor for e in list_audit(session=session, action="campaign.*")] == ["alice", "bob"]
    assert [e.action for e in list_audit(session=session, action="campaign.start")] == ["campaign.start"]
    assert len(list_audit(session=session, since=T0 + timedelta(minutes=3))) == 2
    assert len(list_audit(session=session, limit=1)) == 1
    # A family filter is a prefix, not a pattern: '%' and '_' are literal.
    assert list_audit(session=session, action="campaign_%*") == []


@pytest.mark.parametrize("limit", [0, MAX_LIMIT + 1])
def test_bad_limits_are_refused(session: Session, limit: int) -> None:
    with pytest.raises(InvalidInput, match="between 1 and"):
        list_audit(session=session, limit=limit)


def test_an_entry_rolls_back_with_its_change(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as session:
        record_audit(session=session, actor="a", action="user.create", target_kind="user", target_id="x")
        raise RuntimeError("the change failed")
    with db.session() as session:
        assert list_audit(session=session) == []

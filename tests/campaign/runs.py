"""Helpers for campaign tests: a database with staff and published versions, without the CLI."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopflow.playbook.loader import parse_playbook
from sopflow.store.database import Database, open_database
from sopflow.store.runs import PlaybookVersion, Staff

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@contextmanager
def database(url: str) -> Iterator[Database]:
    db = open_database(url)
    try:
        yield db
    finally:
        db.close()


def add_version(session: Session, text: str, *, approved: bool = True) -> PlaybookVersion:
    """The playbook ``text`` as the next version of its id (the same text again: the version it is)."""
    playbook, problems = parse_playbook(text, filename="test.yaml")
    assert playbook is not None, problems
    digest = hashlib.sha256(text.encode()).hexdigest()
    same = select(PlaybookVersion).where(
        PlaybookVersion.playbook_id == playbook.meta.id, PlaybookVersion.content_hash == digest
    )
    existing = session.scalars(same).first()
    if existing is not None:
        return existing
    count = select(func.count()).where(PlaybookVersion.playbook_id == playbook.meta.id)
    version = (session.scalar(count) or 0) + 1
    row = PlaybookVersion(
        playbook_id=playbook.meta.id,
        version=version,
        name=playbook.meta.name,
        declared_version=playbook.meta.version,
        content=text,
        content_hash=digest,
        note="",
        source="test.yaml",
        published_at=NOW,
        published_by="test",
        approved_at=NOW if approved else None,
        approved_by="test" if approved else None,
    )
    session.add(row)
    session.flush()
    return row


def add_staff(session: Session, name: str, role: str, *, manager: Staff | None = None) -> Staff:
    existing = session.scalars(select(Staff).where(Staff.name == name)).first()
    if existing is not None:
        return existing
    person = Staff(
        name=name, role=role, manager_id=manager.id if manager else None, active=True, created_at=NOW
    )
    session.add(person)
    session.flush()
    return person

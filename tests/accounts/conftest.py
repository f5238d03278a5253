"""Account fixtures: a migrated app database on both backends, a fast password hasher, fixed clocks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from sopflow.store.database import Database, open_database

# The real parameters (64 MiB, 3 passes) cost a tenth of a second per hash on a busy test machine; the
# algorithm is the same, only cheaper. Tests of the rehash path use both.
FAST = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.session() as s:
        yield s

"""API keys: only hashes stored, shown once, revocable, verified from a short cache."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from sopflow.errors import InvalidInput, NotFound
from sopflow.store.api_keys import (
    ApiKeyVerifier,
    create_api_key,
    find_active_key,
    hash_key,
    list_api_keys,
    revoke_api_key,
)
from sopflow.store.database import Database, open_database
from sopflow.store.models import ApiKey


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{tmp_path / 'app.db'}")
    yield db
    db.close()


def test_created_key_is_stored_only_as_its_sha256(database: Database) -> None:
    with database.session() as session:
        created = create_api_key(session=session, name="  H5 落地页 ")
    assert created.key.startswith("sf_") and len(created.key) == 3 + 43
    assert created.record.name == "H5 落地页"
    assert created.record.prefix == created.key[:11]
    with database.session() as session:
        row = session.scalars(select(ApiKey)).one()
    assert row.key_hash == hashlib.sha256(created.key.encode()).hexdigest()
    assert created.key not in (row.name, row.prefix, row.key_hash)
    assert row.created_at.tzinfo is not None


def test_keys_are_random(database: Database) -> None:
    with database.session() as session:
        keys = {create_api_key(session=session, name=f"k{i}").key for i in range(20)}
    assert len(keys) == 20


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_key_name_must_be_1_to_100_characters(database: Database, name: str) -> None:
    with database.session() as session, pytest.raises(InvalidInput):
        create_api_key(session=session, name=name)


def test_revoke_by_id_or_prefix_and_list(database: Database) -> None:
    t0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    with database.session() as session:
        first = create_api_key(session=session, name="app", now=t0)
        second = create_api_key(session=session, name="h5", now=t0)
    with database.session() as session:
        revoked = revoke_api_key(session=session, ref=str(first.record.id), now=t0)
        assert revoked.revoked_at == t0 and not revoked.active
        by_prefix = revoke_api_key(session=session, ref=second.record.prefix + "…")
        assert by_prefix.id == second.record.id and not by_prefix.active
    with database.session() as session:
        listed = list_api_keys(session=session)
        assert [(k.name, k.active) for k in listed] == [("app", False), ("h5", False)]
        assert list_api_keys(session=session, include_revoked=False) == []
        assert find_active_key(session=session, key=first.key) is None


def test_revoking_twice_keeps_the_first_time(database: Database) -> None:
    t0, t1 = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 2, tzinfo=UTC)
    with database.session() as session:
        created = create_api_key(session=session, name="app")
        revoke_api_key(session=session, ref=str(created.record.id), now=t0)
        again = revoke_api_key(session=session, ref=str(created.record.id), now=t1)
    assert again.revoked_at == t0


def test_revoke_unknown_key_is_not_found(database: Database) -> None:
    with database.session() as session, pytest.raises(NotFound, match="sf_nothere"):
        revoke_api_key(session=session, ref="sf_nothere")


def test_verifier_caches_answers_for_the_configured_time(database: Database) -> None:
    now = [100.0]
    verifier = ApiKeyVerifier(database, cache_seconds=5, clock=lambda: now[0])
    with database.session() as session:
        created = create_api_key(session=session, name="app")
    assert verifier.verify(created.key) is not None
    assert verifier.verify("sf_wrong") is None
    assert verifier.verify("") is None
    with database.session() as session:
        revoke_api_key(session=session, ref=str(created.record.id))
    now[0] += 4.9
    assert verifier.verify(created.key) is not None, "still cached"
    now[0] += 0.2
    assert verifier.verify(created.key) is None, "revocation seen after the cache time"


def test_verifier_forgets_unknown_keys_within_a_second(database: Database) -> None:
    now = [0.0]
    verifier = ApiKeyVerifier(database, cache_seconds=60, clock=lambda: now[0])
    key = "sf_" + "k" * 43
    assert verifier.verify(key) is None  # a client tries the key before it exists
    with database.session() as session:
        session.add(
            ApiKey(name="late", key_hash=hash_key(key), prefix=key[:11], created_at=datetime.now(UTC))
        )
    now[0] += 0.5
    assert verifier.verify(key) is None
    now[0] += 0.6
    found = verifier.verify(key)
    assert found is not None and found.name == "late"

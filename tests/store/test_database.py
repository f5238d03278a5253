"""The app database migrates itself on open, once, even when several processes open it at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from sopflow.store.database import HEAD, MIGRATIONS, DatabaseError, open_database


def test_open_creates_the_schema_and_records_the_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'app.db'}"
    db = open_database(url)
    try:
        assert "api_keys" in inspect(db.engine).get_table_names()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    finally:
        db.close()
    # Opening again is a no-op on the schema.
    open_database(url).close()


def test_concurrent_opens_migrate_once(tmp_path: Path) -> None:
    # flock excludes separate open file descriptions, so threads contend exactly as processes do.
    url = f"sqlite:///{tmp_path / 'app.db'}"
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            open_database(url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_known_head_matches_the_migration_scripts() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD]


def test_bad_url_is_a_clean_error() -> None:
    with pytest.raises(DatabaseError, match="invalid database URL"):
        open_database("not a url")


def test_migrations_build_exactly_the_models_tables(database_url: str) -> None:
    """The Alembic scripts and the SQLAlchemy models describe the same schema, on SQLite and PostgreSQL."""
    import importlib
    import pkgutil

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import sopflow.store
    from sopflow.store.models import Base

    # Every table module of the store, so the metadata holds all tables (each registers itself on import).
    for module in pkgutil.iter_modules(sopflow.store.__path__):
        importlib.import_module(f"sopflow.store.{module.name}")

    db = open_database(database_url)
    try:
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        db.close()
    assert diff == []

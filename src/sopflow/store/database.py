"""Open the app database and bring its schema up to date (Alembic ``upgrade head``) on every open.

Several processes may open the same database at once (``sopflow serve`` and ``sopflow keys create``), so the
upgrade runs under a lock: a file lock beside a SQLite database, an advisory lock on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from sopflow.errors import SopflowError
from sopflow.i18n import _
from sopflow.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest revision in migrations/versions (a test keeps them equal). Knowing it lets every open check
# the schema with one query, without importing Alembic (a third of a second for each CLI command).
HEAD = "0005"
_PG_MIGRATION_LOCK = 0x50F10  # any constant shared by every sopflow process


class DatabaseError(SopflowError):
    code = "database_error"
    exit_code = 1
    http_status = 503


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends without error and rolls back otherwise."""
        with self.sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # busy_timeout first: it makes every later statement (switching to WAL included, which needs the database
    # to itself for a moment) wait out another connection's lock instead of failing with "database is locked".
    cursor.execute("PRAGMA busy_timeout=10000")
    # WAL lets the server read keys while the CLI writes. The mode is stored in the file, so only the first
    # open switches it, and that switch fails at once (no busy wait) while another connection is opening.
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        deadline = time.monotonic() + 10
        while True:
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        lock_path = Path(str(url.database)).with_suffix(".migrate.lock")
        with lock_path.open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    elif url.get_backend_name() == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
    else:
        yield


def _at_head(engine: Engine) -> bool:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))} == {HEAD}


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest revision; a no-op (one cheap query) when it is already there."""
    if _at_head(engine):
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _migration_lock(engine), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(url: str) -> Database:
    """Connect to ``url`` (creating a SQLite file and its folder if needed) and migrate it."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(_("invalid database URL {url!r}", url=url)) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(parsed)
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        migrate(engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        shown = parsed.render_as_string(hide_password=True)
        raise DatabaseError(
            _("cannot open the app database {url}: {reason}", url=shown, reason=reason)
        ) from None
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def open_app_database(settings: Settings) -> Database:
    """The app database of these settings: ``database_url``, else SQLite in the workspace."""
    if settings.database_url is None:
        settings.workspace.ensure()
    return open_database(settings.effective_database_url)

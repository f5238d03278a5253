"""Alembic environment: migrates the connection handed over by :func:`sopflow.store.database.migrate`.

Run by hand (``alembic -x url=sqlite:///app.db upgrade head`` with ``script_location`` pointing here) it
opens its own connection.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from sopflow.store.models import Base

config = context.config


def _run(connection: Connection) -> None:
    # Batch mode lets later migrations alter SQLite tables (which ALTER TABLE mostly cannot).
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


given = config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(str(url))
    with engine.begin() as connection:
        _run(connection)

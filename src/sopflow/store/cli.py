"""What the CLI commands that use the app database share: a session on the workspace's database, the
person a change is recorded for, and JSON printing."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy.orm import Session

from sopflow.settings import load_settings
from sopflow.store.database import open_app_database


@contextmanager
def app_session(workspace: Path | None) -> Iterator[Session]:
    """A session on the workspace's app database; committed when the block ends without an error."""
    database = open_app_database(load_settings(home=workspace))
    try:
        with database.session() as session:
            yield session
    finally:
        database.close()


def actor(by: str | None) -> str:
    """Who a change is recorded for: ``--by``, else ``$SOPFLOW_USER``, else the login name."""
    if by:
        return by
    try:
        return os.environ.get("SOPFLOW_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def print_json(value: object) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))

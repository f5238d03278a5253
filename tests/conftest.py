"""Shared fixtures: the CLI run in-process, in a chosen language."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sopflow.cli import main
from sopflow.i18n import set_language

TEMPLATES = Path(__file__).resolve().parents[1] / "src" / "sopflow" / "playbook" / "templates"


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def _run(args: list[str], lang: str = "en") -> CliResult:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["--lang", lang, *args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    set_language("en")
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def run_cli() -> Callable[..., CliResult]:
    """``run_cli(["playbook", "validate", path], lang="zh_CN")`` → CliResult(exit_code, stdout, stderr)."""
    return _run


@pytest.fixture(autouse=True)
def _english_by_default() -> None:
    set_language("en")


# ---- the app database on both backends -------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """A running PostgreSQL server's superuser URL, or None (with the reason kept) where none can run."""
    from tests.postgres import PostgresUnavailable, server

    try:
        with server() as url:
            yield url
    except PostgresUnavailable as exc:
        _POSTGRES_MISSING.append(str(exc))
        yield None


_POSTGRES_MISSING: list[str] = []


def _require_postgres(url: str | None) -> str:
    if url is None:
        reason = _POSTGRES_MISSING[0] if _POSTGRES_MISSING else "PostgreSQL unavailable"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(f"PostgreSQL half of a database test skipped: {reason}")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty app database: SQLite in tmp_path, then a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.db'}"
        return
    from tests.postgres import fresh_database

    server_url = _require_postgres(request.getfixturevalue("postgres_server"))
    with fresh_database(server_url) as url:
        yield url

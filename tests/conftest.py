"""Shared fixtures: the CLI run in-process, in a chosen language."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
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

"""Every CLI command has help text and appears in the README's tour (STYLE: documented commands)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main

from sopflow.cli import build_app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _is_group(command: Any) -> bool:
    # Typer ships its own copy of click, so test by shape rather than by class.
    return isinstance(getattr(command, "commands", None), dict)


def _commands(group: Any, prefix: str) -> list[tuple[str, Any]]:
    found = [(prefix, group)]
    if _is_group(group):
        for name, sub in group.commands.items():
            found += _commands(sub, f"{prefix} {name}")
    return found


def all_commands() -> list[tuple[str, Any]]:
    root = typer.main.get_command(build_app())
    return [(name, cmd) for name, cmd in _commands(root, "sopflow") if name != "sopflow"]


def test_every_command_has_help() -> None:
    missing = [name for name, cmd in all_commands() if not (cmd.help or "").strip()]
    assert not missing, f"commands without help text: {missing}"


def test_every_command_is_in_the_readme() -> None:
    leaves = [name for name, cmd in all_commands() if not _is_group(cmd)]
    assert len(leaves) >= 5
    missing = [name for name in leaves if name not in README]
    assert not missing, f"commands missing from README.md: {missing}"

"""``sopflow demo``: build a demo workspace from a built-in playbook and show the main job."""

from __future__ import annotations

from pathlib import Path

import typer

from sopflow.i18n import _


def demo_command(
    directory: Path = typer.Option(Path("demo"), "--dir", help=_("Folder for the demo workspace")),
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    typer.echo(_("Demo workspace: {path}", path=directory.resolve()))

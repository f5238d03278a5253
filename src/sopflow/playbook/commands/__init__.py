"""``sopflow playbook …``: one module per command, all registered on this app."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

# Importing a command module registers its command on `app`.
from sopflow.playbook.commands import (  # noqa: E402, F401
    plan,
    render,
    templates,
    validate,
    versions,
)

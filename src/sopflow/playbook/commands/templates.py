"""``sopflow playbook templates`` and ``sopflow playbook new``: the built-in playbooks and a copy to start from.

``templates --json`` prints ``{"templates": [{"name", "title", "summary", "tags", "path"}, ...]}``,
sorted by name; ``name`` is what ``new --template`` takes.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from sopflow.i18n import _
from sopflow.playbook.catalog import TemplateInfo, list_templates, template_name, write_template
from sopflow.playbook.commands import app


@app.command(
    "templates",
    help=_("List the built-in playbook templates. Example: sopflow playbook templates --json"),
)
def templates(
    as_json: bool = typer.Option(False, "--json", help=_("Print a machine-readable list")),
) -> None:
    found = list_templates()
    if as_json:
        typer.echo(json.dumps({"templates": [t.as_json() for t in found]}, ensure_ascii=False, indent=2))
        return
    Console(highlight=False, markup=False).print(_templates_table(found))
    typer.echo(_("Start from one: sopflow playbook new --template NAME -o my_playbook.yaml"))


def _templates_table(found: list[TemplateInfo]) -> Table:
    table = Table(title=_("Built-in playbook templates"))
    # Chinese text has no spaces to break at: fold long titles and summaries instead of cutting them off.
    table.add_column(_("Name"), no_wrap=True)
    table.add_column(_("Title"), overflow="fold")
    table.add_column(_("Summary"), overflow="fold")
    for info in found:
        table.add_row(info.name, info.title, info.summary)
    return table


@app.command(
    "new",
    help=_(
        "Create a playbook file from a built-in template. "
        "Example: sopflow playbook new --template store_funnel -o store.yaml"
    ),
)
def new(
    template: str = typer.Option(
        ..., "--template", "-t", help=_("Template name (see: sopflow playbook templates)")
    ),
    output: Path = typer.Option(..., "--output", "-o", help=_("Playbook file to create")),
    force: bool = typer.Option(False, "--force", help=_("Overwrite the file if it exists")),
) -> None:
    written = write_template(name=template, output=output, force=force)
    path = str(written)
    typer.echo(_("Created {path} from the template {name}.", path=path, name=template_name(template)))
    typer.echo(_("Next steps:"))
    typer.echo(_("  1. edit it, then check it: sopflow playbook validate {path}", path=path))
    typer.echo(_("  2. see the estimate: sopflow playbook plan {path}", path=path))
    typer.echo(
        _(
            "  3. render the SOP document: sopflow playbook render {path} -o {out}",
            path=path,
            out=str(written.with_suffix(".html")),
        )
    )

"""``sopflow endpoints add|list|test|remove``: where reminders and messages are delivered.

Secrets are never printed: listings show ``has_secret`` and URLs with their keys masked (``key=ab…yz``).
``--secret -`` reads the secret from standard input, which keeps it out of the shell history and the
process list.

``--json`` shapes (stable):

- ``add``: one endpoint ``{"id", "name", "kind", "url", "has_secret", "options", "active", "created_at"}``
- ``list``: ``{"endpoints": [endpoint, ...]}``
- ``test``: ``{"endpoint", "ok": true, "response", "seconds"}`` (a refusal is the error shape, exit 2)
- ``remove``: ``{"endpoint": endpoint, "deleted": bool}`` (false: disabled, it has delivery history)
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from sopflow.channels.endpoints import add_endpoint, list_endpoints, remove_endpoint, send_test_message
from sopflow.channels.registry import ADAPTERS
from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.store.cli import app_session as _session
from sopflow.store.cli import print_json as _print_json

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

WORKSPACE_HELP = _("Workspace folder (default: $SOPFLOW_HOME, else ./sopflow-data)")
JSON_HELP = _("Print a machine-readable result")


def parse_options(values: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(
                _("--option {value!r}: expected KEY=VALUE", value=value), code="invalid_option"
            )
        options[key.strip()] = rest.strip()
    return options


@app.command(
    "add", help=_("Add an endpoint: a WeCom, Feishu or DingTalk robot, an SMTP mailbox or a webhook.")
)
def add(
    name: str = typer.Argument(..., help=_("A name to refer to it, e.g. ops-group")),
    kind: str = typer.Option(..., "--kind", help=_("Endpoint kind: {choices}", choices="|".join(ADAPTERS))),
    url: str = typer.Option(
        ..., "--url", help=_("The robot's webhook URL, smtp://user@host:587?from=…, or the webhook URL")
    ),
    secret: str | None = typer.Option(
        None, "--secret", help=_("Signing secret or SMTP password ('-' reads it from standard input)")
    ),
    option: list[str] = typer.Option(
        [], "--option", help=_("An option KEY=VALUE (email: from, to, starttls, cafile)")
    ),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    if secret == "-":
        secret = sys.stdin.readline().strip() or None
    options = parse_options(option)
    with _session(workspace) as session:
        endpoint = add_endpoint(
            session=session, name=name, kind=kind, url=url, secret=secret, options=options
        )
    if as_json:
        _print_json(endpoint.as_json())
        return
    typer.echo(
        _("Added endpoint {name} ({kind}) → {url}", name=endpoint.name, kind=endpoint.kind, url=endpoint.url)
    )
    typer.echo(_("Check it with `sopflow endpoints test {name}`.", name=endpoint.name))


@app.command("list", help=_("List endpoints (URLs with keys masked, never secrets)."))
def list_command(
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with _session(workspace) as session:
        endpoints = list_endpoints(session=session)
    if as_json:
        _print_json({"endpoints": [e.as_json() for e in endpoints]})
        return
    if not endpoints:
        typer.echo(_("No endpoints yet. Add one with `sopflow endpoints add NAME --kind KIND --url URL`."))
        return
    table = Table(_("Name"), _("Kind"))
    table.add_column(_("URL"), no_wrap=True)  # whole, so it can be compared with the robot's settings
    table.add_column(_("Secret"))
    table.add_column(_("Status"))
    for e in endpoints:
        table.add_row(
            e.name,
            e.kind,
            e.url,
            _("yes") if e.has_secret else _("no"),
            _("active") if e.active else _("disabled"),
        )
    Console(highlight=False).print(table)


@app.command("test", help=_("Send a test message through an endpoint and show the receiver's answer."))
def test_command(
    name: str = typer.Argument(..., help=_("Endpoint name, as shown by `sopflow endpoints list`")),
    to: str = typer.Option("", "--to", help=_("Recipient for person-addressed kinds (an email address)")),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with _session(workspace) as session:
        result = send_test_message(session=session, name=name, recipient=to)
    if as_json:
        _print_json(result.as_json())
        return
    typer.echo(
        _(
            "Endpoint {name} accepted the test message in {seconds:.2f} s: {response}",
            name=name,
            seconds=result.seconds,
            response=result.response,
        )
    )


@app.command("remove", help=_("Remove an endpoint; one with delivery history is disabled instead."))
def remove(
    name: str = typer.Argument(..., help=_("Endpoint name, as shown by `sopflow endpoints list`")),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with _session(workspace) as session:
        endpoint, deleted = remove_endpoint(session=session, name=name)
    if as_json:
        _print_json({"endpoint": endpoint.as_json(), "deleted": deleted})
        return
    if deleted:
        typer.echo(_("Removed endpoint {name}.", name=name))
    else:
        typer.echo(
            _("Disabled endpoint {name}: it has delivery history, which keeps pointing at it.", name=name)
        )

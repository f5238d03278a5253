"""``sopflow keys create|list|revoke``: the API keys that event senders put in their requests.

``--json`` shapes (stable):

- ``create``: ``{"id", "name", "prefix", "created_at", "revoked_at": null, "active": true, "key"}``
- ``list``: ``{"keys": [{"id", "name", "prefix", "created_at", "revoked_at", "active"}, ...]}``
- ``revoke``: the revoked key, as one item of ``list``.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from sopflow.i18n import _
from sopflow.store.api_keys import create_api_key, list_api_keys, revoke_api_key
from sopflow.store.cli import app_session as _session
from sopflow.store.cli import print_json as _print_json

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

WORKSPACE_HELP = _("Workspace folder (default: $SOPFLOW_HOME, else ./sopflow-data)")
JSON_HELP = _("Print a machine-readable result")


def _audit(session: Session, action: str, key_id: int, details: dict[str, object]) -> None:
    from sopflow.accounts.audit import record_audit
    from sopflow.store.cli import actor

    record_audit(
        session=session,
        actor=actor(None),
        action=action,
        target_kind="api_key",
        target_id=key_id,
        details=details,
    )


@app.command("create", help=_("Create an API key and print it once; only its hash is stored."))
def create(
    name: str = typer.Argument(..., help=_("What the key is for, e.g. 'H5 landing page'")),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with _session(workspace) as session:
        created = create_api_key(session=session, name=name)
        _audit(
            session,
            "key.create",
            created.record.id,
            {"name": created.record.name, "prefix": created.record.prefix},
        )
    if as_json:
        _print_json({**created.record.as_json(), "key": created.key})
        return
    typer.echo(
        _(
            "Created API key {id} ({name}). Copy it now: it is not shown again.",
            id=created.record.id,
            name=created.record.name,
        )
    )
    typer.echo(created.key)


@app.command("list", help=_("List API keys (their prefixes, never the keys)."))
def list_keys(
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with _session(workspace) as session:
        keys = list_api_keys(session=session)
    if as_json:
        _print_json({"keys": [key.as_json() for key in keys]})
        return
    if not keys:
        typer.echo(_("No API keys yet. Create one with `sopflow keys create NAME`."))
        return
    table = Table(_("ID"), _("Name"), _("Prefix"), _("Created (UTC)"), _("Status"))
    for key in keys:
        status = _("active") if key.active else _("revoked {time}", time=f"{key.revoked_at:%Y-%m-%d %H:%M}")
        table.add_row(str(key.id), key.name, key.prefix + "…", f"{key.created_at:%Y-%m-%d %H:%M}", status)
    Console().print(table)


@app.command("revoke", help=_("Revoke an API key by id or prefix; requests with it get 401 from then on."))
def revoke(
    ref: str = typer.Argument(..., help=_("Key id or prefix, as shown by `sopflow keys list`")),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with _session(workspace) as session:
        key = revoke_api_key(session=session, ref=ref)
        _audit(session, "key.revoke", key.id, {"name": key.name, "prefix": key.prefix})
    if as_json:
        _print_json(key.as_json())
        return
    typer.echo(_("Revoked API key {id} ({name}).", id=key.id, name=key.name))

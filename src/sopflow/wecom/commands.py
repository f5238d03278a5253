"""``sopflow wecom configure|states|qrcode``: WeCom settings, QR-code states → channels, channel QR codes.

``--json`` shapes (stable):

- ``configure``: ``{"corp_id", "agent_id", "api_base", "token_set", "aes_key_set", "secret_set"}``;
- ``states``: ``{"states": [{"state", "channel", "config_id", "qr_code", "staff"}, ...]}``;
- ``qrcode create``/``qrcode delete``: one state, as an item of ``states``.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from sopflow.i18n import _
from sopflow.settings import load_settings
from sopflow.store.cli import app_session as _session
from sopflow.store.cli import print_json as _print_json
from sopflow.store.database import open_app_database
from sopflow.wecom.client import WecomClient
from sopflow.wecom.config import (
    MAX_STATE_CHARS,
    StatePublic,
    add_qr_state,
    check_channel,
    configure_wecom,
    find_state,
    list_states,
    parse_assignment,
    record_qr_code,
    remove_states,
    require_wecom,
    set_states,
)

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
qrcode_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
app.add_typer(qrcode_app, name="qrcode", help=_("Create and delete channel QR codes (「联系我」) in WeCom."))

WORKSPACE_HELP = _("Workspace folder (default: $SOPFLOW_HOME, else ./sopflow-data)")
JSON_HELP = _("Print a machine-readable result")


@app.command("configure", help=_("Store the WeCom app's corp id, callback token, EncodingAESKey and secret."))
def configure(
    corp_id: str | None = typer.Option(None, "--corp-id", help=_("The corp id (企业ID), e.g. ww0123…")),
    token: str | None = typer.Option(None, "--token", help=_("The callback Token set in WeCom's admin")),
    aes_key: str | None = typer.Option(
        None, "--aes-key", help=_("The callback EncodingAESKey (43 characters)")
    ),
    secret: str | None = typer.Option(None, "--secret", help=_("The app's Secret (for the server API)")),
    agent_id: int | None = typer.Option(None, "--agent-id", help=_("The app's AgentId (for app messages)")),
    api_base: str | None = typer.Option(
        None, "--api-base", help=_("WeCom API base URL (default https://qyapi.weixin.qq.com/cgi-bin)")
    ),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with _session(workspace) as session:
        config = configure_wecom(
            session=session,
            corp_id=corp_id,
            token=token,
            aes_key=aes_key,
            secret=secret,
            agent_id=agent_id,
            api_base=api_base,
        )
    shown = config.public()
    if as_json:
        _print_json(shown)
        return
    typer.echo(
        _(
            "WeCom configured for corp {corp_id} (agent {agent_id}, API {api_base}); the token, "
            "EncodingAESKey and secret are stored and not shown.",
            corp_id=shown["corp_id"],
            agent_id=shown["agent_id"] if shown["agent_id"] is not None else "-",
            api_base=shown["api_base"],
        )
    )
    typer.echo(_("Callback URL to enter in WeCom: http(s)://<your server>/wecom/callback"))


def _print_states(states: list[StatePublic]) -> None:
    if not states:
        typer.echo(_("No states yet. Map one with `sopflow wecom states --set STATE=CHANNEL`."))
        return
    table = Table(_("State"), _("Channel"), _("Staff"), _("QR code"))
    for item in states:
        table.add_row(item.state, item.channel, ", ".join(item.staff), item.qr_code or "")
    Console().print(table)


@app.command("states", help=_("List QR-code states and their channels; --set STATE=CHANNEL maps one."))
def states_command(
    assign: list[str] = typer.Option(
        [], "--set", help=_("STATE=CHANNEL, e.g. moments_poster=moments (repeatable)")
    ),
    remove: list[str] = typer.Option([], "--remove", help=_("A state to forget (repeatable)")),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    mapping = dict(parse_assignment(text) for text in assign)  # all checked before anything is written
    with _session(workspace) as session:
        if remove:
            remove_states(session=session, states=remove)
        states = set_states(session=session, mapping=mapping) if mapping else list_states(session=session)
    if as_json:
        _print_json({"states": [item.as_json() for item in states]})
        return
    _print_states(states)


def new_state(channel: str) -> str:
    """A fresh state for a channel's QR code: the channel's id shortened, and 8 random hex digits."""
    head = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in channel)[: MAX_STATE_CHARS - 9]
    return f"{head}-{secrets.token_hex(4)}"


@qrcode_app.command("create", help=_("Create a channel QR code in WeCom whose adds count for --channel."))
def qrcode_create(
    channel: str = typer.Option(..., "--channel", help=_("The sopflow channel its adds count for")),
    staff: list[str] = typer.Option(..., "--staff", help=_("WeCom userid of a staff member (repeatable)")),
    state: str | None = typer.Option(
        None, "--state", help=_("The state to use (default: the channel and random digits)")
    ),
    verify: bool = typer.Option(
        False, "--verify/--no-verify", help=_("Let staff confirm each add (default: added at once)")
    ),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    channel = check_channel(channel)
    chosen = state or new_state(channel)
    settings = load_settings(home=workspace)
    database = open_app_database(settings)
    try:
        # The state is stored first, so a user who scans the code at once is counted for the channel;
        # if WeCom refuses, it is removed again and nothing is left behind.
        with database.session() as session:
            config = require_wecom(session=session)
            add_qr_state(session=session, state=chosen, channel=channel, staff=list(staff))
        try:
            with WecomClient.from_config(config) as client:
                way = client.add_contact_way(state=chosen, users=list(staff), skip_verify=not verify)
        except BaseException:
            with database.session() as session:
                remove_states(session=session, states=[chosen])
            raise
        with database.session() as session:
            created = record_qr_code(
                session=session, state=chosen, config_id=way.config_id, qr_code=way.qr_code
            )
    finally:
        database.close()
    if as_json:
        _print_json(created.as_json())
        return
    typer.echo(_("QR code for channel {channel} (state {state}):", channel=channel, state=chosen))
    typer.echo(created.qr_code or "")


@qrcode_app.command("delete", help=_("Delete a channel QR code in WeCom; its state keeps its channel."))
def qrcode_delete(
    state: str = typer.Argument(..., help=_("The QR code's state, as `sopflow wecom states` lists it")),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with _session(workspace) as session:
        config = require_wecom(session=session)
        found = find_state(session=session, state=state)
        if found.config_id:
            with WecomClient.from_config(config) as client:
                client.del_contact_way(found.config_id)
        deleted = record_qr_code(session=session, state=state, config_id=None, qr_code=None)
    if as_json:
        _print_json(deleted.as_json())
        return
    typer.echo(_("Deleted the QR code of state {state}.", state=state))

"""``sopflow users create|list|disable|enable|reset-password|role`` and ``sopflow audit``.

Passwords never go on the command line (where the shell history and the process list would keep them):
without ``--password`` one is generated and printed once; ``--password -`` reads it from standard input.
Every change is written to the audit log for ``--by``, else ``$SOPFLOW_USER``, else the login name.

``--json`` shapes (stable):

- ``create``, ``reset-password``: ``{"user": user, "password": str | null}`` (the password only when it was
  generated)
- ``list``: ``{"users": [user, ...]}`` with user ``{"id", "name", "display_name", "role", "active",
  "created_at", "password_changed_at", "last_login_at"}``
- ``disable``, ``enable``, ``role``: ``{"user": user}``
- ``audit``: ``{"entries": [{"id", "at", "actor", "action", "target_kind", "target_id", "details",
  "client"}, ...]}``, newest first
"""

from __future__ import annotations

import sys
from datetime import datetime, tzinfo
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from sopflow.accounts.audit import DEFAULT_LIMIT, list_audit
from sopflow.accounts.public import UserPublic
from sopflow.accounts.roles import ROLES
from sopflow.accounts.users import (
    WithPassword,
    change_role,
    create_user,
    disable_user,
    enable_user,
    list_users,
    reset_password,
)
from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.settings import load_settings
from sopflow.store.cli import actor, app_session, print_json

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

WORKSPACE_HELP = _("Workspace folder (default: $SOPFLOW_HOME, else ./sopflow-data)")
JSON_HELP = _("Print a machine-readable result")
BY_HELP = _("Who makes this change, for the audit log (default: $SOPFLOW_USER, else your login name)")
PASSWORD_HELP = _("'-' reads the password from standard input; without it one is generated and shown once")


def users_help() -> str:
    return _("Console accounts: create, list, disable, enable, reset passwords, change roles.")


def audit_help() -> str:
    return _("Who changed what and when: the audit log, newest first.")


def _read_password(value: str | None) -> str | None:
    if value is None:
        return None
    if value != "-":
        raise InvalidInput(
            _("--password accepts only '-' (read from standard input), so it stays out of the shell history"),
            code="invalid_option",
        )
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise InvalidInput(_("--password -: standard input held no password"), code="invalid_option")
    return line


def _print_with_password(result: WithPassword, *, as_json: bool, done: str) -> None:
    if as_json:
        shown = result.password if result.generated else None
        print_json({"user": result.user.as_json(), "password": shown})
        return
    typer.echo(done)
    if result.generated:
        typer.echo(_("Password (shown only this once): {password}", password=result.password))


def _print_user(user: UserPublic, *, as_json: bool, done: str) -> None:
    if as_json:
        print_json({"user": user.as_json()})
    else:
        typer.echo(done)


@app.command("create", help=_("Create a console user; prints a generated password once."))
def create(
    name: str = typer.Argument(..., help=_("Login name, e.g. zhangsan")),
    role: str = typer.Option(..., "--role", help=_("Role: {choices}", choices="|".join(ROLES))),
    display_name: str = typer.Option("", "--display-name", help=_("Name shown in the console")),
    password: str | None = typer.Option(None, "--password", help=PASSWORD_HELP),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    secret = _read_password(password)
    with app_session(workspace) as session:
        result = create_user(
            session=session,
            name=name,
            role=role,
            password=secret,
            display_name=display_name,
            actor=actor(by),
        )
    done = _("Created user {name} ({role}).", name=result.user.name, role=result.user.role)
    _print_with_password(result, as_json=as_json, done=done)


@app.command("list", help=_("List console users and their roles (never passwords)."))
def list_command(
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    tz = load_settings(home=workspace).tz
    with app_session(workspace) as session:
        users = list_users(session=session)
    if as_json:
        print_json({"users": [user.as_json() for user in users]})
        return
    if not users:
        typer.echo(_("No users yet. Create an admin with `sopflow users create NAME --role admin`."))
        return
    table = Table(_("Name"), _("Display name"), _("Role"), _("Status"), _("Last login"))
    for user in users:
        last = user.last_login_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if user.last_login_at else "-"
        status = _("active") if user.active else _("disabled")
        table.add_row(user.name, user.display_name, user.role, status, last)
    Console(highlight=False).print(table)


@app.command("disable", help=_("Disable a user: they can no longer log in, and their sessions end."))
def disable(
    name: str = typer.Argument(..., help=_("Login name")),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with app_session(workspace) as session:
        user = disable_user(session=session, name=name, actor=actor(by))
    _print_user(user, as_json=as_json, done=_("Disabled user {name}.", name=user.name))


@app.command("enable", help=_("Enable a disabled user again."))
def enable(
    name: str = typer.Argument(..., help=_("Login name")),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with app_session(workspace) as session:
        user = enable_user(session=session, name=name, actor=actor(by))
    _print_user(user, as_json=as_json, done=_("Enabled user {name}.", name=user.name))


@app.command(
    "reset-password", help=_("Give a user a new password (generated unless given) and end their sessions.")
)
def reset_password_command(
    name: str = typer.Argument(..., help=_("Login name")),
    password: str | None = typer.Option(None, "--password", help=PASSWORD_HELP),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    secret = _read_password(password)
    with app_session(workspace) as session:
        result = reset_password(session=session, name=name, password=secret, actor=actor(by))
    done = _("New password set for {name}; their sessions have ended.", name=result.user.name)
    _print_with_password(result, as_json=as_json, done=done)


@app.command("role", help=_("Change a user's role (the last active admin keeps theirs)."))
def role_command(
    name: str = typer.Argument(..., help=_("Login name")),
    role: str = typer.Argument(..., help=_("Role: {choices}", choices="|".join(ROLES))),
    by: str | None = typer.Option(None, "--by", help=BY_HELP),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with app_session(workspace) as session:
        user = change_role(session=session, name=name, role=role, actor=actor(by))
    _print_user(user, as_json=as_json, done=_("{name} is now {role}.", name=user.name, role=user.role))


def parse_since(value: str, tz: tzinfo) -> datetime:
    """``YYYY-MM-DD`` (midnight) or ``YYYY-MM-DDTHH:MM[:SS][±HH:MM]``; without an offset, in ``tz``."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            _("--since {value!r}: expected a date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM", value=value),
            code="invalid_option",
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def audit_command(
    actor_name: str | None = typer.Option(None, "--actor", help=_("Only changes by this person")),
    action: str | None = typer.Option(
        None, "--action", help=_("Only this action, e.g. user.create; user.* for a family")
    ),
    since: str | None = typer.Option(
        None, "--since", help=_("Only entries from this date or time on (workspace timezone)")
    ),
    limit: int = typer.Option(DEFAULT_LIMIT, "--limit", help=_("Most entries to show")),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    tz = load_settings(home=workspace).tz
    start = parse_since(since, tz) if since else None
    with app_session(workspace) as session:
        entries = list_audit(session=session, actor=actor_name, action=action, since=start, limit=limit)
    if as_json:
        print_json({"entries": [entry.as_json() for entry in entries]})
        return
    if not entries:
        typer.echo(_("No audit entries match."))
        return
    table = Table(_("Time"), _("Actor"), _("Action"), _("Target"), _("Details"), _("Address"))
    for entry in entries:
        details = ", ".join(f"{key}={value}" for key, value in entry.details.items())
        table.add_row(
            entry.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            entry.actor,
            entry.action,
            f"{entry.target_kind}:{entry.target_id}",
            details,
            entry.client or "",
        )
    Console(highlight=False).print(table)

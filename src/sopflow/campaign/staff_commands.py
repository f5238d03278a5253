"""``sopflow staff add|list|update|disable|enable``: the team that owns a campaign's tasks.

``--json`` shapes (stable); a person is
``{"id", "name", "role", "manager", "email", "wecom_userid", "active", "created_at"}``:

- ``add``, ``update``: the person
- ``list``: ``{"staff": [person, ...]}`` (sorted by role, then name)
- ``disable``, ``enable``: ``{"staff": person, "changed": bool, "reports": [name, ...]}`` (``reports``: active
  people whose manager this is, whose escalations need a new manager)
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from sopflow.campaign.staff import StaffPublic, add_staff, list_staff, reports_of, set_active, update_staff
from sopflow.i18n import _
from sopflow.store.cli import actor
from sopflow.store.cli import app_session as _session
from sopflow.store.cli import print_json as _print_json

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

WORKSPACE_HELP = _("Workspace folder (default: $SOPFLOW_HOME, else ./sopflow-data)")
JSON_HELP = _("Print a machine-readable result")
MANAGER_HELP = _("Who this person's overdue tasks escalate to (a staff name)")
EMAIL_HELP = _("Email address for reminders")
WECOM_HELP = _("WeCom (企业微信) userid, as in the WeCom admin console")


def _describe(person: StaffPublic) -> str:
    parts = [_("role {role}", role=person.role)]
    if person.manager:
        parts.append(_("manager {name}", name=person.manager))
    if person.email:
        parts.append(person.email)
    if person.wecom_userid:
        parts.append(_("WeCom {userid}", userid=person.wecom_userid))
    return " · ".join(parts)


@app.command(
    "add",
    help=_(
        "Add a team member. Example: sopflow staff add 李雷 --role ops --manager 韩梅梅 --email lilei@example.com"
    ),
)
def add(
    name: str = typer.Argument(..., help=_("The person's name, unique in the workspace")),
    role: str = typer.Option(..., "--role", help=_("Role id, as in the playbook's team.roles (e.g. ops)")),
    manager: str | None = typer.Option(None, "--manager", help=MANAGER_HELP),
    email: str | None = typer.Option(None, "--email", help=EMAIL_HELP),
    wecom_userid: str | None = typer.Option(None, "--wecom-userid", help=WECOM_HELP),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with _session(workspace) as session:
        person = add_staff(
            session=session,
            name=name,
            role=role,
            manager=manager,
            email=email,
            wecom_userid=wecom_userid,
            by=actor(None),
        )
    if as_json:
        _print_json(person.as_json())
        return
    typer.echo(_("Added {name} ({details}).", name=person.name, details=_describe(person)))


@app.command(
    "list",
    help=_(
        "List the team: role, manager, email, WeCom userid, active or disabled. Example: sopflow staff list"
    ),
)
def list_command(
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with _session(workspace) as session:
        people = list_staff(session=session)
    if as_json:
        _print_json({"staff": [p.as_json() for p in people]})
        return
    if not people:
        typer.echo(_("No staff yet. Add someone with: sopflow staff add NAME --role ROLE"))
        return
    table = Table(_("Name"), _("Role"), _("Manager"), _("Email"), _("WeCom userid"), _("Status"))
    for p in people:
        table.add_row(
            p.name,
            p.role,
            p.manager or "—",
            p.email or "—",
            p.wecom_userid or "—",
            _("active") if p.active else _("disabled"),
        )
    Console(highlight=False, markup=False).print(table)


@app.command(
    "update",
    help=_(
        "Change a team member's role, manager, email or WeCom userid (an empty value clears it). "
        "Example: sopflow staff update 李雷 --manager 王芳"
    ),
)
def update(
    name: str = typer.Argument(..., help=_("The person's name, as listed by: sopflow staff list")),
    role: str | None = typer.Option(None, "--role", help=_("New role id")),
    manager: str | None = typer.Option(None, "--manager", help=MANAGER_HELP),
    email: str | None = typer.Option(None, "--email", help=EMAIL_HELP),
    wecom_userid: str | None = typer.Option(None, "--wecom-userid", help=WECOM_HELP),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    with _session(workspace) as session:
        person = update_staff(
            session=session,
            name=name,
            role=role,
            manager=manager,
            email=email,
            wecom_userid=wecom_userid,
            by=actor(None),
        )
    if as_json:
        _print_json(person.as_json())
        return
    typer.echo(_("Updated {name} ({details}).", name=person.name, details=_describe(person)))


def _switch(name: str, *, active: bool, workspace: Path | None, as_json: bool) -> None:
    with _session(workspace) as session:
        person, changed = set_active(session=session, name=name, active=active, by=actor(None))
        reports = reports_of(session=session, name=person.name) if not active else []
    if as_json:
        _print_json({"staff": person.as_json(), "changed": changed, "reports": reports})
        return
    if not changed:
        typer.echo(
            _("{name} is already disabled.", name=person.name)
            if not active
            else _("{name} is already active.", name=person.name)
        )
        return
    typer.echo(
        _("Disabled {name}: new campaigns no longer assign them tasks.", name=person.name)
        if not active
        else _("Enabled {name}.", name=person.name)
    )
    if reports:
        typer.echo(
            _(
                "{name} still manages {reports}: give them a new manager with `sopflow staff update NAME --manager M`.",
                name=person.name,
                reports=", ".join(reports),
            )
        )


@app.command(
    "disable",
    help=_(
        "Disable a team member: kept with their history, but no new tasks. Example: sopflow staff disable 李雷"
    ),
)
def disable(
    name: str = typer.Argument(..., help=_("The person's name, as listed by: sopflow staff list")),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    _switch(name, active=False, workspace=workspace, as_json=as_json)


@app.command("enable", help=_("Enable a disabled team member again. Example: sopflow staff enable 李雷"))
def enable(
    name: str = typer.Argument(..., help=_("The person's name, as listed by: sopflow staff list")),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    _switch(name, active=True, workspace=workspace, as_json=as_json)

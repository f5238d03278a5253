"""``sopflow playbook publish|versions|diff|approve|approval``: published versions and their approval.

The library (and SQLAlchemy) is imported inside each command: ``playbook validate`` and ``plan`` need
neither, and every command of the group pays for what this module imports at the top.

``--json`` shapes (stable):

- ``publish``: ``{"created": bool, "version": version}`` where a version is
  ``{"playbook_id", "version", "ref", "name", "declared_version", "content_hash", "note", "source",
  "published_at", "published_by", "approved", "approved_at", "approved_by"}``
- ``versions ID``: ``{"playbook_id", "approval_required", "current": int | null, "versions": [version, ...]}``
  (``current``: what ``campaign start --playbook ID`` would run now)
- ``versions`` (no ID): ``{"approval_required", "playbooks": [{"playbook_id", "name", "versions", "latest",
  "latest_approved"}]}``
- ``diff``: see :mod:`sopflow.playbook.version_diff`
- ``approve``: ``{"changed": bool, "version": version}``
- ``approval``: ``{"approval_required": bool, "changed": bool}``
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.playbook.commands import app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sopflow.playbook.version_diff import VersionDiff
    from sopflow.playbook.versions import PlaybookSummary, VersionPublic

WORKSPACE_HELP = _("Workspace folder (default: $SOPFLOW_HOME, else ./sopflow-data)")
JSON_HELP = _("Print a machine-readable result")


@contextmanager
def _session(workspace: Path | None) -> Iterator[tuple[Session, tzinfo]]:
    """A session of the workspace's app database, and the workspace timezone that times are shown in."""
    from sopflow.settings import load_settings
    from sopflow.store.database import open_app_database

    settings = load_settings(home=workspace)
    database = open_app_database(settings)
    try:
        with database.session() as session:
            yield session, settings.tz
    finally:
        database.close()


def _print_json(value: object) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return ""


def _when(value: datetime | None, zone: tzinfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value is not None else "—"


@app.command(
    "publish",
    help=_(
        "Validate a playbook and store it as the next version of its meta.id (unchanged content is not "
        "stored twice). Example: sopflow playbook publish camp.yaml --note 'new day-3 script' --by 李雷"
    ),
)
def publish(
    file: Path = typer.Argument(..., help=_("Playbook YAML file")),
    note: str = typer.Option("", "--note", help=_("What changed in this version")),
    by: str | None = typer.Option(None, "--by", help=_("Who publishes it (default: the login name)")),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    from sopflow.playbook.versions import publish_file

    with _session(workspace) as (session, zone):
        result = publish_file(session=session, path=file, note=note, by=_who() if by is None else by)
    if as_json:
        _print_json(result.as_json())
        return
    v = result.version
    if not result.created:
        typer.echo(
            _(
                "Unchanged: {file} is identical to {ref} (published {when}); nothing stored.",
                file=str(file),
                ref=v.ref,
                when=_when(v.published_at, zone),
            )
        )
        return
    typer.echo(_("Published {ref} ({name}), hash {hash}.", ref=v.ref, name=v.name, hash=v.content_hash[:12]))
    typer.echo(
        _(
            "Approve it for campaigns with: sopflow playbook approve {id} {version} --by NAME",
            id=v.playbook_id,
            version=v.version,
        )
    )


@app.command(
    "versions",
    help=_(
        "List the published versions of a playbook (or, without ID, every published playbook). "
        "Example: sopflow playbook versions moments_7day"
    ),
)
def versions(
    playbook_id: str | None = typer.Argument(None, metavar="[ID]", help=_("Playbook id (meta.id)")),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    from sopflow.errors import NotFound
    from sopflow.playbook.versions import approval_required, list_playbooks, list_versions, resolve_version

    with _session(workspace) as (session, zone):
        required = approval_required(session=session)
        if playbook_id is None:
            playbooks = list_playbooks(session=session)
            if as_json:
                _print_json({"approval_required": required, "playbooks": [p.as_json() for p in playbooks]})
                return
            _print_playbooks(playbooks, required)
            return
        found = list_versions(session=session, playbook_id=playbook_id)
        try:
            current: int | None = resolve_version(session=session, ref=playbook_id).version
        except (InvalidInput, NotFound):
            current = None
    if as_json:
        _print_json(
            {
                "playbook_id": playbook_id,
                "approval_required": required,
                "current": current,
                "versions": [v.as_json() for v in found],
            }
        )
        return
    _print_versions(playbook_id, found, required, current, zone)


def _approval_line(required: bool) -> str:
    if required:
        return _("Campaigns run approved versions only (turn off: sopflow playbook approval off).")
    return _("Approval is off: campaigns may run any version (turn on: sopflow playbook approval on).")


def _print_playbooks(playbooks: list[PlaybookSummary], required: bool) -> None:
    if not playbooks:
        typer.echo(_("No published playbooks yet. Publish one with: sopflow playbook publish FILE"))
        return
    table = Table(title=_("Published playbooks"))
    table.add_column(_("ID"), no_wrap=True)
    table.add_column(_("Name"), overflow="fold")
    for header in (_("Versions"), _("Newest"), _("Newest approved")):
        table.add_column(header, justify="right")
    for p in playbooks:
        approved = "—" if p.latest_approved is None else str(p.latest_approved)
        table.add_row(p.playbook_id, p.name, str(p.versions), str(p.latest), approved)
    Console(highlight=False, markup=False).print(table)
    typer.echo(_approval_line(required))


def _print_versions(
    playbook_id: str, found: list[VersionPublic], required: bool, current: int | None, zone: tzinfo
) -> None:
    table = Table(title=_("Versions of {id}", id=playbook_id), caption=_("Times in {zone}", zone=str(zone)))
    table.add_column(_("Version"), justify="right")
    table.add_column(_("Published"), no_wrap=True)
    table.add_column(_("By"))
    table.add_column(_("Note"), overflow="fold")
    table.add_column(_("Hash"), no_wrap=True)
    table.add_column(_("Approved"), overflow="fold")
    for v in found:
        approved = (
            _("{by}, {when}", by=v.approved_by or "—", when=_when(v.approved_at, zone))
            if v.approved
            else _("not approved")
        )
        mark = " *" if v.version == current else ""
        table.add_row(
            f"{v.version}{mark}",
            _when(v.published_at, zone),
            v.published_by or "—",
            v.note,
            v.content_hash[:12],
            approved,
        )
    Console(highlight=False, markup=False).print(table)
    typer.echo(_approval_line(required))
    if current is not None:
        typer.echo(
            _("* runs when a campaign starts from {id}: version {version}", id=playbook_id, version=current)
        )


@app.command(
    "diff",
    help=_(
        "Compare two versions of a playbook: the YAML lines that changed and the plan's key numbers. "
        "Example: sopflow playbook diff moments_7day 1 2"
    ),
)
def diff(
    playbook_id: str = typer.Argument(..., metavar="ID", help=_("Playbook id (meta.id)")),
    first: str = typer.Argument(..., metavar="V1", help=_("The earlier version")),
    second: str = typer.Argument(..., metavar="V2", help=_("The later version")),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    from sopflow.playbook.version_diff import diff_versions
    from sopflow.playbook.versions import parse_version_number

    before, after = parse_version_number(first, what="V1"), parse_version_number(second, what="V2")
    with _session(workspace) as (session, _zone):
        result = diff_versions(session=session, playbook_id=playbook_id, before=before, after=after)
    if as_json:
        _print_json(result.as_json())
        return
    _print_diff(result)


def _print_diff(result: VersionDiff) -> None:
    from sopflow.playbook.estimate import format_number
    from sopflow.playbook.version_diff import KEY_NUMBERS

    if result.same_content:
        typer.echo(_("{a} and {b} have the same content.", a=result.before.ref, b=result.after.ref))
    else:
        for line in result.yaml_diff:
            typer.echo(line)
    table = Table(title=_("Plan: key numbers"))
    table.add_column(_("Metric"))
    for header in (f"v{result.before.version}", f"v{result.after.version}", _("Change"), _("Change %")):
        table.add_column(header, justify="right")

    def shown(value: float | None) -> str:
        return "—" if value is None else format_number(value)

    for n in result.numbers:
        change = n.change
        signed = "—" if change is None else ("+" if change > 0 else "") + format_number(change)
        rel = n.relative_change
        percent = "—" if rel is None else ("0%" if rel == 0 else f"{rel:+.1%}")
        table.add_row(_(KEY_NUMBERS[n.metric]), shown(n.before), shown(n.after), signed, percent)
    Console(highlight=False, markup=False).print(table)


@app.command(
    "approve",
    help=_(
        "Approve a version so that campaigns may run it. Example: sopflow playbook approve moments_7day 2 --by 韩梅梅"
    ),
)
def approve(
    playbook_id: str = typer.Argument(..., metavar="ID", help=_("Playbook id (meta.id)")),
    version: str = typer.Argument(..., metavar="VERSION", help=_("Version number, as listed by versions")),
    by: str = typer.Option(..., "--by", help=_("Who approves it")),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    from sopflow.playbook.versions import approve_version, parse_version_number

    number = parse_version_number(version)
    with _session(workspace) as (session, zone):
        result = approve_version(session=session, playbook_id=playbook_id, version=number, by=by)
    if as_json:
        _print_json(result.as_json())
        return
    v = result.version
    if result.changed:
        typer.echo(_("Approved {ref} (by {by}).", ref=v.ref, by=v.approved_by or ""))
    else:
        typer.echo(
            _(
                "{ref} was already approved by {by} on {when}; nothing changed.",
                ref=v.ref,
                by=v.approved_by or "—",
                when=_when(v.approved_at, zone),
            )
        )


@app.command(
    "approval",
    help=_(
        "Show, or turn on or off, the rule that campaigns run approved versions only (on by default). "
        "Example: sopflow playbook approval off"
    ),
)
def approval(
    state: str | None = typer.Argument(None, metavar="[on|off]", help=_("on or off; leave out to show it")),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    from sopflow.playbook.versions import approval_required, set_approval_required
    from sopflow.store.cli import actor

    wanted = _on_off(state) if state is not None else None
    with _session(workspace) as (session, _zone):
        before = approval_required(session=session)
        if wanted is not None:
            set_approval_required(session=session, required=wanted, by=actor(None))
    now = before if wanted is None else wanted
    if as_json:
        _print_json({"approval_required": now, "changed": now != before})
        return
    typer.echo(_approval_line(now))


def _on_off(value: str) -> bool:
    word = value.strip().lower()
    if word in ("on", "true", "yes", "1"):
        return True
    if word in ("off", "false", "no", "0"):
        return False
    raise InvalidInput(_("expected on or off, got {value!r}", value=value), code="invalid_switch")

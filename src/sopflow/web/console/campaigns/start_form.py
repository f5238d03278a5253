"""``/campaigns/new``: start a campaign from a playbook version, as ``sopflow campaign start`` does.

The version picker lists approved versions only (every version when the workspace turned approval off);
the start is a local time in the chosen zone (blank: the playbook's own); each role of the playbook can be
given to a staff member; other versions can run side by side with weights. The start goes through
:func:`sopflow.campaign.launch.launch`, the function the CLI and the API call, in one transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from sqlalchemy import select

from sopflow.campaign.launch import LaunchRequest, launch
from sopflow.campaign.start import campaign_zone, frozen_playbook
from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.playbook.versions import approval_required
from sopflow.store.runs import PlaybookVersion, Staff
from sopflow.web.console.context import PageContext, open_page
from sopflow.web.console.layout import frame
from sopflow.web.console.widgets import empty

MAX_VERSUS = 5
MAX_WEIGHT = 1_000_000  # as the API's body allows


@dataclass(frozen=True)
class Choice:
    ref: str
    playbook_id: str
    label: str
    timezone: str
    roles: tuple[tuple[str, str], ...]  # (role id, role name)


def version_choices(ctx: PageContext) -> list[Choice]:
    """The versions a campaign may run, newest first within each playbook."""
    with ctx.session() as session:
        only_approved = approval_required(session=session)
        query = select(PlaybookVersion).order_by(PlaybookVersion.playbook_id, PlaybookVersion.version.desc())
        if only_approved:
            query = query.where(PlaybookVersion.approved_at.is_not(None))
        choices = []
        for row in session.scalars(query):
            playbook = frozen_playbook(row)
            approved = _("approved by {who}", who=row.approved_by) if row.approved_by else _("not approved")
            choices.append(
                Choice(
                    ref=f"{row.playbook_id}@{row.version}",
                    playbook_id=row.playbook_id,
                    label=f"{row.playbook_id}@{row.version} · {row.name} ({approved})",
                    timezone=playbook.meta.timezone,
                    roles=tuple((r.id, r.name) for r in playbook.team.roles),
                )
            )
    return choices


def parse_split(text: str) -> list[float] | None:
    """``"50,50"`` → ``[50.0, 50.0]``; blank → None (equal weights)."""
    if not text.strip():
        return None
    try:
        weights = [float(part) for part in text.replace("，", ",").split(",")]
    except ValueError:
        weights = []
    if not weights or not all(math.isfinite(w) and 0 < w <= MAX_WEIGHT for w in weights):
        raise InvalidInput(
            _("Split {value!r}: write weights separated by commas, e.g. 50,50", value=text),
            code="invalid_split",
        )
    return weights


def bounded(value: object, field: str, limit: int) -> str:
    """The field's text without surrounding spaces; longer than ``limit``: refused, naming the field (the
    browser's maxlength is no guard against a hand-made websocket message)."""
    text = str(value or "").strip()
    if len(text) > limit:
        raise InvalidInput(
            _("{field}: at most {limit} characters", field=field, limit=limit), code="invalid_input"
        )
    return text


@ui.page("/campaigns/new")
def start_page(request: Request) -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    with frame(ctx, _("Start a campaign")):
        if not ctx.can("campaign.start"):
            empty(_("your role may not start campaigns"))
            return None
        choices = version_choices(ctx)
        if not choices:
            empty(_("no approved playbook version yet: publish one and have it approved first"))
            return None
        start_form(ctx, choices)
    return None


def start_form(ctx: PageContext, choices: list[Choice]) -> None:
    by_ref = {c.ref: c for c in choices}
    with ctx.session() as session:
        staff = [(s.name, s.role) for s in session.scalars(select(Staff).where(Staff.active.is_(True)))]
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    with ui.card().classes("w-full q-pa-md").style("max-width: 760px"):
        version = ui.select(
            {c.ref: c.label for c in choices}, value=choices[0].ref, label=_("Playbook version")
        ).classes("w-full")
        version.props('data-testid="start-version"')
        with ui.row().classes("w-full gap-4"):
            start = ui.input(_("Start (YYYY-MM-DD HH:MM, or now)")).classes("col")
            start.props('maxlength=40 data-testid="start-at"')
            zone = ui.input(_("Time zone (blank: the playbook's)")).classes("col")
            zone.props('maxlength=64 data-testid="start-tz"')
        name = ui.input(_("Name (blank: from the playbook and the date)")).classes("w-full")
        name.props('maxlength=200 data-testid="start-name"')
        ui.label(_("Assignments: who carries out each role's steps")).classes("text-subtitle2 q-mt-sm")
        assignments: dict[str, ui.select] = {}

        @ui.refreshable
        def roles_and_versus() -> None:
            chosen = by_ref[version.value]
            zone.props(f'placeholder="{chosen.timezone}"')
            local = tomorrow.astimezone(campaign_zone(chosen.timezone))
            if not start.value:
                start.value = f"{local:%Y-%m-%d} 09:00"
            assignments.clear()
            with ui.row().classes("w-full gap-4"):
                for role_id, role_name in chosen.roles:
                    names = [n for n, r in staff if r == role_id] + [n for n, r in staff if r != role_id]
                    pick = ui.select(
                        {"": _("(the role's own staff)"), **{n: n for n in names}},
                        value="",
                        label=f"{role_name} ({role_id})",
                    )
                    pick.props(f'data-testid="assign-{role_id}"')
                    pick.classes("col-4")
                    assignments[role_id] = pick
            others = {
                c.ref: c.label for c in choices if c.playbook_id == chosen.playbook_id and c.ref != chosen.ref
            }
            if others:
                ui.label(_("Side by side (A/B of versions)")).classes("text-subtitle2 q-mt-sm")
                with ui.row().classes("w-full gap-4"):
                    versus = ui.select(others, multiple=True, value=[], label=_("Run against")).classes("col")
                    versus.props('use-chips data-testid="start-versus"')
                    split = ui.input(_("Split, e.g. 50,50 (blank: equal)")).classes("col")
                    split.props('maxlength=60 data-testid="start-split"')
                side["versus"], side["split"] = versus, split
            else:
                side.clear()

        side: dict[str, ui.select | ui.input] = {}
        roles_and_versus()
        version.on_value_change(lambda: roles_and_versus.refresh())

        def submit() -> None:
            if version.value not in by_ref:
                raise InvalidInput(_("Playbook version: choose one of the list"), code="invalid_version")
            versus = list(side["versus"].value or []) if "versus" in side else []
            if len(versus) > MAX_VERSUS:
                raise InvalidInput(
                    _("Run against: at most {n} versions", n=MAX_VERSUS), code="invalid_versus"
                )
            split = parse_split(str(side["split"].value or "")) if "split" in side and versus else None
            request = LaunchRequest(
                playbook=str(version.value),
                start=bounded(start.value, _("Start"), 40),
                tz=bounded(zone.value, _("Time zone"), 64) or None,
                name=bounded(name.value, _("Name"), 200) or None,
                assign={role: str(pick.value) for role, pick in assignments.items() if pick.value},
                versus=versus,
                split=split,
                start_field=_("Start"),
            )
            with ctx.session() as session:
                campaigns = launch(session=session, request=request, by=ctx.user_name)
                session.flush()
                first = campaigns[0].id
            ui.notify(_("Campaign started"), type="positive")
            ui.navigate.to(f"/campaigns/{first}")

        ui.button(_("Start"), icon="play_arrow", on_click=ctx.act("campaign.start", submit)).props(
            'color=primary data-testid="start-submit"'
        ).classes("q-mt-md")

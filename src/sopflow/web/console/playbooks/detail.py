"""``/playbooks/{id}``: a playbook's versions with their approval, the diff of two versions, and one version's
timeline, estimate (测算) and YAML. Admins approve versions here; operators open a version in the editor."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import run, ui

from sopflow.errors import SopflowError
from sopflow.i18n import _, set_language
from sopflow.playbook.estimate import format_metric
from sopflow.playbook.version_diff import KEY_NUMBERS, diff_versions, frozen
from sopflow.playbook.versions import (
    VersionPublic,
    approve_version,
    list_versions,
    parse_version_number,
    version_row,
)
from sopflow.web.api.playbook_views import banded_estimate, schedule_json
from sopflow.web.console.context import PageContext, open_page
from sopflow.web.console.layout import frame
from sopflow.web.console.playbooks.charts import estimate_view, gantt
from sopflow.web.console.widgets import empty


@ui.page("/playbooks/{playbook_id}")
async def playbook_page(request: Request, playbook_id: str, version: str = "") -> RedirectResponse | None:
    ctx = open_page(request)
    if isinstance(ctx, RedirectResponse):
        return ctx
    with frame(ctx, _("Playbook {id}", id=playbook_id)):
        try:
            with ctx.session() as session:
                versions = list_versions(session=session, playbook_id=playbook_id)
            shown = parse_version_number(version, what="version") if version else versions[-1].version
            if shown not in {v.version for v in versions}:
                with ctx.session() as session:
                    version_row(session=session, playbook_id=playbook_id, version=shown)  # raises NotFound
        except SopflowError as exc:
            empty(exc.message)
            ui.link(_("Back to the playbooks"), "/playbooks")
            return None
        newest = versions[-1]
        ui.label(newest.name).classes("text-h6")
        if ctx.can("playbook.write"):
            ui.button(
                _("Edit version {version}", version=shown),
                icon="edit",
                on_click=lambda: ui.navigate.to(f"/playbooks/{playbook_id}/edit?version={shown}"),
            ).props('data-testid="edit-version"')
        _version_list(ctx, versions, shown)
        await _version_view(ctx, playbook_id, shown)
        if len(versions) > 1:
            _diff_section(ctx, playbook_id, versions)
    return None


def _version_list(ctx: PageContext, versions: list[VersionPublic], shown: int) -> None:
    ui.label(_("Versions")).classes("text-h6 q-mt-md")
    with ui.list().props("bordered separator").classes("w-full bg-white"):
        for v in reversed(versions):
            with ui.item().props(f'data-testid="version-{v.version}"'):
                with ui.item_section():
                    title = _(
                        "version {version} (meta.version {declared})",
                        version=v.version,
                        declared=v.declared_version,
                    )
                    ui.item_label(("▶ " if v.version == shown else "") + title)
                    ui.item_label(
                        _(
                            "published by {who} at {when}; {note}",
                            who=v.published_by or "—",
                            when=v.published_at.strftime("%Y-%m-%d %H:%M UTC"),
                            note=v.note or _("no note"),
                        )
                    ).props("caption")
                with ui.item_section().props("side"), ui.row().classes("items-center gap-2"):
                    if v.approved_at is not None:
                        ui.badge(_("approved by {who}", who=v.approved_by or "—"), color="positive").props(
                            f'data-testid="approved-{v.version}"'
                        )
                    else:
                        ui.badge(_("not approved"), color="grey-7")
                        if ctx.can("playbook.approve"):
                            ui.button(
                                _("Approve"),
                                icon="verified",
                                on_click=ctx.act("playbook.approve", _approver(ctx, v)),
                            ).props(f'dense no-caps data-testid="approve-{v.version}"')
                    ui.button(
                        _("Show"),
                        on_click=lambda n=v.version, pid=v.playbook_id: ui.navigate.to(
                            f"/playbooks/{pid}?version={n}"
                        ),
                    ).props(f'flat dense no-caps data-testid="show-{v.version}"')


def _approver(ctx: PageContext, v: VersionPublic) -> Any:
    def approve() -> None:
        with ctx.session() as session:
            result = approve_version(
                session=session, playbook_id=v.playbook_id, version=v.version, by=ctx.user_name
            )
        ui.notify(_("approved {ref}", ref=result.version.ref), type="positive")
        ui.navigate.reload()

    return approve


def _analyse(ctx: PageContext, playbook_id: str, number: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
    set_language(ctx.lang)  # a worker thread: the page's language is not inherited
    with ctx.session() as session:
        row = version_row(session=session, playbook_id=playbook_id, version=number)
        text = row.content
        playbook = frozen(row)
    return text, schedule_json(playbook), banded_estimate(playbook)


async def _version_view(ctx: PageContext, playbook_id: str, number: int) -> None:
    ui.label(_("Version {version}", version=number)).classes("text-h6 q-mt-md")
    try:
        analysed = await run.io_bound(_analyse, ctx, playbook_id, number)
    except SopflowError as exc:
        empty(exc.message)
        return
    if analysed is None:  # the server is shutting down
        return
    text, timeline, plan = analysed
    with ui.tabs().classes("w-full") as tabs:
        t_timeline = ui.tab(_("Timeline")).props('data-testid="tab-timeline"')
        t_estimate = ui.tab(_("Estimate (测算)")).props('data-testid="tab-estimate"')
        t_yaml = ui.tab("YAML").props('data-testid="tab-yaml"')
    with ui.tab_panels(tabs, value=t_timeline).classes("w-full"):
        with ui.tab_panel(t_timeline):
            gantt(timeline)
        with ui.tab_panel(t_estimate):
            estimate_view(plan)
        with ui.tab_panel(t_yaml):
            ui.code(text, language="yaml").classes("w-full")


def _diff_section(ctx: PageContext, playbook_id: str, versions: list[VersionPublic]) -> None:
    ui.label(_("Compare versions")).classes("text-h6 q-mt-md")
    numbers = [v.version for v in versions]
    with ui.row().classes("items-center gap-2"):
        before = (
            ui.select(numbers, value=numbers[-2], label=_("From"))
            .props('data-testid="diff-from"')
            .style("min-width: 110px")
        )
        after = (
            ui.select(numbers, value=numbers[-1], label=_("To"))
            .props('data-testid="diff-to"')
            .style("min-width: 110px")
        )
        button = ui.button(_("Compare"), icon="compare_arrows").props('data-testid="diff-run"')
    box = ui.column().classes("w-full")

    async def compare() -> None:
        def work() -> dict[str, Any]:
            set_language(ctx.lang)
            with ctx.session() as session:
                return diff_versions(
                    session=session, playbook_id=playbook_id, before=int(before.value), after=int(after.value)
                ).as_json()

        diff = await run.io_bound(work)
        if diff is None:  # the server is shutting down
            return
        box.clear()
        with box:
            _diff_view(diff)

    button.on_click(ctx.act("read", compare))


def _diff_view(diff: dict[str, Any]) -> None:
    if diff["same_content"]:
        ui.label(_("the two versions have the same YAML")).classes("text-grey-7")
    else:
        ui.code(diff["yaml_diff"], language="diff").classes("w-full").props('data-testid="diff-yaml"')
    rows = []
    for change in diff["numbers"]:
        metric = change["metric"]
        relative = change["relative_change"]
        rows.append(
            {
                "metric": _(KEY_NUMBERS[metric]),
                "from": format_metric(metric, change["from"]),
                "to": format_metric(metric, change["to"]),
                "change": format_metric(metric, change["change"]),
                "relative": "—" if relative is None else f"{relative:+.1%}",
            }
        )
    ui.label(_("The plan's key numbers (estimate of each version, whole campaign)")).classes("text-subtitle2")
    ui.table(
        columns=[
            {"name": f, "label": label, "field": f, "align": "left"}
            for f, label in (
                ("metric", _("Metric")),
                ("from", _("From")),
                ("to", _("To")),
                ("change", _("Change")),
                ("relative", _("Relative change")),
            )
        ],
        rows=rows,
        row_key="metric",
        pagination=0,
    ).classes("w-full").props('flat bordered dense data-testid="diff-numbers"')

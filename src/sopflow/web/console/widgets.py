"""Pieces the console pages share: tables with CSV/Excel export, numbers with their denominator, notices.

Every exported table goes through :func:`export_rows`, which masks contact columns for viewers (as the page
does) and records the export in the audit log: who exported which list, and how many rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nicegui import ui

from sopflow.accounts.audit import record_audit
from sopflow.web.console.context import PageContext
from sopflow.web.table_files import to_csv, to_xlsx

# Columns that hold phone numbers or WeChat ids: masked for viewers on every page and in every export.
CONTACT_COLUMNS = frozenset({"phone", "mobile", "wechat", "wechat_id", "wxid", "contact", "external_userid"})


def masked_rows(ctx: PageContext, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    if ctx.role != "viewer":
        return [dict(row) for row in rows]
    return [
        {
            key: ctx.mask(str(value)) if key in CONTACT_COLUMNS and value is not None else value
            for key, value in row.items()
        }
        for row in rows
    ]


def export_rows(
    ctx: PageContext,
    *,
    name: str,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    kind: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Send ``rows`` to the browser as ``name``.csv or ``name``.xlsx (``kind``), masked for viewers, audited."""
    ctx.check("read")
    shown = masked_rows(ctx, rows)
    if kind == "xlsx":
        data, filename = to_xlsx(shown, columns, name), f"{name}.xlsx"
    else:
        data, filename = to_csv(shown, columns), f"{name}.csv"
    with ctx.session() as session:
        record_audit(
            session=session,
            actor=ctx.user_name,
            action="export",
            target_kind="list",
            target_id=name,
            details={"rows": len(rows), "format": kind, **(details or {})},
        )
    ui.download(data, filename)


def export_buttons(
    ctx: PageContext, *, name: str, columns: Sequence[str], rows: Callable[[], Sequence[dict[str, Any]]]
) -> None:
    """CSV and Excel buttons for a table whose rows ``rows()`` gives at the moment of the click."""
    with ui.row().classes("gap-1"):
        for kind, label in (("csv", "CSV"), ("xlsx", "Excel")):
            ui.button(
                label,
                icon="download",
                on_click=ctx.act(
                    "read",
                    lambda kind=kind: export_rows(ctx, name=name, rows=rows(), columns=columns, kind=kind),
                ),
            ).props(f'flat dense no-caps data-testid="export-{name}-{kind}"')


def data_table(
    ctx: PageContext,
    *,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    export: str | None = None,
    row_key: str | None = None,
    pagination: int = 20,
) -> ui.table:
    """A Quasar table of ``rows`` (``columns``: field and translated label), masked for viewers, with the
    export buttons when ``export`` names the list."""
    fields = [field for field, _label in columns]
    if export:
        export_buttons(ctx, name=export, columns=fields, rows=lambda: rows)
    table = ui.table(
        columns=[
            {"name": f, "label": label, "field": f, "sortable": True, "align": "left"} for f, label in columns
        ],
        rows=masked_rows(ctx, rows),
        row_key=row_key or fields[0],
        pagination=pagination,
    ).classes("w-full")
    table.props("flat bordered dense")
    return table


def figure(label: str, value: str, *, note: str = "", testid: str | None = None) -> None:
    """A number with its label and, under it, what it is out of and over which time (its denominator)."""
    with ui.card().classes("q-pa-sm").style("min-width: 160px"):
        ui.label(label).classes("text-caption text-grey-7")
        shown = ui.label(value).classes("text-h6")
        if testid:
            shown.props(f'data-testid="{testid}"')
        if note:
            ui.label(note).classes("text-caption text-grey-6")


def empty(message: str) -> None:
    ui.label(message).classes("text-grey-6 q-pa-md")


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"

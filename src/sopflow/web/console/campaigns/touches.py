"""The per-step table of touches and conversions (``sopflow targets --campaign ID``'s ``campaign`` key): per
step, then per script variant, persons touched → reacted → converted and revenue, with the rates' basis."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from sopflow.i18n import _
from sopflow.web.console.context import PageContext
from sopflow.web.console.widgets import data_table, empty, percent


def _numbers(row: dict[str, Any], *, step: str, variant: str) -> dict[str, Any]:
    return {
        "key": f"{step}:{variant}",
        "step": step,
        "variant": variant,
        "touched": row["touched"],
        "reacted": row["reacted"],
        "reaction_rate": percent(row["reaction_rate"]),
        "converted": row["converted"],
        "conversion_rate": percent(row["conversion_rate"]),
        "revenue": round(float(row["revenue"]), 2),
    }


def steps_numbers(ctx: PageContext, report: dict[str, Any]) -> None:
    steps = report.get("steps") or []
    if not steps:
        empty(_("this campaign has no steps"))
        return
    conversion = report.get("conversion") or {}
    totals = report["totals"]
    ui.label(
        _(
            "Rates divide by the persons touched by the step; converted = reached {stage} within {hours} h of "
            "the touch; all events up to now; revenue in {currency}. Persons touched: {touched}.",
            stage=conversion.get("name") or "—",
            hours=round(int(report["window_seconds"]) / 3600, 1),
            currency=report["currency"],
            touched=totals["touched"],
        )
    ).classes("text-caption text-grey-7")
    rows = []
    for step in steps:
        rows.append(_numbers(step, step=step["name"], variant=_("all")))
        for variant in step["variants"]:
            rows.append(_numbers(variant, step=step["name"], variant=variant["variant"] or _("(none)")))
    table = data_table(
        ctx,
        rows=rows,
        columns=[
            ("step", _("Step")),
            ("variant", _("Script variant")),
            ("touched", _("Touched")),
            ("reacted", _("Reacted")),
            ("reaction_rate", _("Reaction rate")),
            ("converted", _("Converted")),
            ("conversion_rate", _("Conversion rate")),
            ("revenue", _("Revenue")),
        ],
        export=f"campaign-{report['campaign']['id']}-touches",
        row_key="key",
    )
    table.props('data-testid="touches-table"')

"""The campaign section (``sopflow report --campaign ID``): per step, touched → reacted → converted and
revenue, per script variant (data: :mod:`sopflow.analytics.targets.campaign_steps`)."""

from __future__ import annotations

from typing import Any

from sopflow.analytics.report.format import DASH, count, money, percent, ratio_basis
from sopflow.analytics.report.view.blocks import Block, Cell, Kpi, Kpis, Notes, SectionView, TableBlock, num
from sopflow.i18n import _


def campaign_section(report: dict[str, Any], data: dict[str, Any]) -> SectionView:
    currency = data["currency"]
    campaign = data["campaign"]
    totals = data["totals"]
    kpis = Kpis(
        (
            Kpi(_("Tasks executed"), f"{totals['executed']} / {totals['tasks']}"),
            Kpi(_("Persons touched"), count(totals["touched"])),
            Kpi(_("Revenue credited to touches"), money(totals["revenue"], currency)),
        )
    )
    rows = []
    for step in data["steps"]:
        rows.append(_row(step, currency, first=True))
        rows += [_row(v, currency, first=False) for v in step["variants"]]
    headers = (
        _("Step"),
        _("Script variant"),
        _("Task"),
        _("Audience size"),
        _("Touched"),
        _("Reacted"),
        _("Converted"),
        _("Revenue"),
    )
    caption = _(
        "Campaign {id} · {name} ({playbook}@{version}): per step, then per script variant",
        id=campaign["id"],
        name=campaign["name"],
        playbook=campaign["playbook_id"],
        version=campaign["version"],
    )
    blocks: list[Block] = [kpis, TableBlock(caption, headers, tuple(rows))]
    notes = []
    if totals["staff_records"]:
        notes.append(
            _(
                "Touches of {count} task owner(s) were recorded instead of persons (the audience was unknown "
                "when the task ran); they are not counted as touched.",
                count=totals["staff_records"],
            )
        )
    if totals["other_currency_events"]:
        notes.append(
            _(
                "{count} payment event(s) in another currency than {currency} are left out of revenue.",
                count=totals["other_currency_events"],
                currency=currency,
            )
        )
    if notes:
        blocks.append(Notes(_("Left out"), tuple(notes)))
    conversion = data["conversion"]["name"] if data["conversion"] else DASH
    scope = _(
        "Touched: persons with a sop_touch event of this campaign and step. Reacted: of them, persons who did "
        "the step's reaction (the stage it drives, else the stage its audience had not reached, else its exit "
        "condition, else any action) within {days} days after their first touch of the step; converted: who "
        "reached {stage} in that window; both ÷ touched. Revenue: each payment credited to the person's "
        "latest touch of the campaign at most {days} days before it. Variants: by the first touch.",
        days=f"{data['window_seconds'] / 86_400:g}",
        stage=conversion,
    )
    return SectionView("campaign", _("Campaign steps (touch → reaction → conversion)"), scope, tuple(blocks))


def _row(row: dict[str, Any], currency: str, *, first: bool) -> tuple[Cell, ...]:
    touched = row["touched"]
    if first:
        step = Cell(f"{row['position'] + 1}. {row['name']}", row["step"])
        variant = Cell(DASH if not row["variants"] else _("all"))
        task = Cell(row["state"], row["owner"])
        audience = num(count(row["audience_size"]))
    else:
        step, variant, task, audience = Cell(""), Cell(row["variant"] or DASH), Cell(""), num("")
    return (
        step,
        variant,
        task,
        audience,
        num(count(touched)),
        num(percent(row["reaction_rate"]), ratio_basis(row["reacted"], touched)),
        num(percent(row["conversion_rate"]), ratio_basis(row["converted"], touched)),
        num(money(row["revenue"], currency)),
    )

"""The experiments section: per step with script variants, the arms, their lift and the verdict."""

from __future__ import annotations

from typing import Any

from sopflow.analytics.report.format import DASH, count, percent, ratio_basis
from sopflow.analytics.report.view.blocks import Block, Cell, Notes, SectionView, TableBlock, num
from sopflow.i18n import _


def experiments_section(report: dict[str, Any], data: dict[str, Any]) -> SectionView:
    blocks: list[Block] = []
    for entry in data["experiments"]:
        title = _("Step {name} ({step})", name=entry["name"], step=entry["step"])
        result = entry["result"]
        if result is None:
            blocks.append(Notes(title, (entry["problem"] or DASH,)))
            continue
        blocks.append(_arms_table(title, entry, result))
        notes = [_("Verdict: {message}", message=result["verdict"]["message"])]
        notes += [w["message"] for w in result["warnings"]]
        blocks.append(Notes(_("What it says"), tuple(notes)))
    scope = _(
        "Each step whose script has variants is an A/B test: persons by the variant of their first touch of "
        "the step (persons touched with several variants left out); converted = persons who reached the "
        "step's stage (else the revenue stage) from that touch to the end of the timeline ÷ persons in the "
        "arm. Welch's t-test at α = 0.05 against the control (the base text); relative lift with its 95% "
        "interval."
    )
    return SectionView("experiments", _("Experiments (script A/B tests)"), scope, tuple(blocks))


def _arms_table(title: str, entry: dict[str, Any], result: dict[str, Any]) -> TableBlock:
    rows = []
    for row in result["variants"]:
        lift = DASH if row["lift_rel"] is None else f"{row['lift_rel']:+.1%}"
        ci = row["ci_rel"]
        interval = DASH if ci is None else f"[{ci[0]:+.1%}, {ci[1]:+.1%}]"
        p = DASH if row["p_value"] is None else f"{row['p_value']:.3g}"
        rows.append(
            (
                Cell(row["variant"]),
                num(count(row["persons"])),
                num(percent(row["mean"]), ratio_basis(row["conversions"], row["persons"])),
                num(lift),
                num(interval),
                num(p),
            )
        )
    caption = _(
        "{title}: converted to {stage} within {days} days of the first touch",
        title=title,
        stage=entry["stage"] or DASH,
        days=f"{result['window_seconds'] / 86_400:.0f}",
    )
    headers = (_("Arm"), _("Persons"), _("Converted"), _("Relative lift"), _("95% interval"), _("p-value"))
    return TableBlock(caption, headers, tuple(rows))

"""The retention heatmap and the referral (裂变) section: cohorts, generations and the top of the tree."""

from __future__ import annotations

from typing import Any

from sopflow.analytics.report.charts import BarItem, HeatInput, bar_chart, heatmap, shorten, tree_chart
from sopflow.analytics.report.format import (
    DASH,
    count,
    duration,
    moment,
    money,
    multiple,
    percent,
    ratio_basis,
)
from sopflow.analytics.report.tree import MAX_LEVELS
from sopflow.analytics.report.view.blocks import (
    Bars,
    Cell,
    HeatBlock,
    Kpi,
    Kpis,
    SectionView,
    TableBlock,
    TreeBlock,
    num,
    range_text,
)
from sopflow.i18n import _

MAX_COHORTS = 40


def retention_section(report: dict[str, Any], data: dict[str, Any]) -> SectionView:
    result = data["result"]
    week = result["period"] == "week"
    headers = [_("week {k}", k=k) if week else _("day {k}", k=k) for k in range(result["periods"] + 1)]
    cohorts = result["cohorts"][:MAX_COHORTS]
    rows = [
        HeatInput(
            f"{c['cohort']} · {count(c['size'])}",
            [_cell(n, c["size"], rate) for n, rate in zip(c["counts"], c["rates"], strict=True)],
        )
        for c in cohorts
    ]
    rows.append(
        HeatInput(
            _("All cohorts"),
            [
                _cell(t["returned"], t["persons"], t["rate"], complete=t["persons"] > 0)
                for t in result["overall"]
            ],
            strong=True,
        )
    )
    caption = _(
        "Rows: cohorts (start {period} · persons); columns: {periods} after it; a cell: the share of the cohort "
        "who came back then (hover for the persons). Blank: that period has not ended in the data yet.",
        period=_("week") if week else _("day"),
        periods=_("weeks") if week else _("days"),
    )
    blocks: list[Any] = [HeatBlock(heatmap(headers, rows), caption)]
    if len(result["cohorts"]) > MAX_COHORTS:
        blocks.append(
            Kpis(
                (
                    Kpi(
                        _("Cohorts shown"),
                        _("first {n} of {total}", n=MAX_COHORTS, total=len(result["cohorts"])),
                    ),
                )
            )
        )
    scope = _(
        "Cohort: persons by the {period} of their first {start} (event {start_event}) in the range {range}. "
        "Came back: did {back} (event {return_event}) in that {period} after the cohort's; rate = persons "
        "who came back ÷ persons in the cohort ({size} persons in all cohorts). Data end: {end}.",
        period=_("week") if week else _("day"),
        start=data["start_stage"],
        start_event=result["start_event"],
        back=data["return_stage"],
        return_event=result["return_event"],
        range=range_text(result.get("range"), report.get("data")),
        size=count(result.get("size")),
        end=moment(result.get("data_end")),
    )
    return SectionView("retention", _("Retention"), scope, tuple(blocks))


def _cell(
    n: int | None, size: int, rate: float | None, *, complete: bool = True
) -> tuple[float | None, str, str]:
    if n is None or rate is None or not complete:
        return None, "", _("not ended yet")
    return (
        rate,
        percent(rate),
        _("{n} of {size} persons came back ({rate})", n=count(n), size=count(size), rate=percent(rate)),
    )


def referral_section(report: dict[str, Any], data: dict[str, Any]) -> SectionView:
    result, tree = data["result"], data["tree"]
    plan = result.get("plan") or {}
    could = result["could_invite"]
    cycle = result["viral_cycle"]
    kpis = Kpis(
        (
            Kpi(
                _("K-factor"),
                multiple(result["k_factor"]),
                _(
                    "{basis} · plan {plan}",
                    basis=ratio_basis(result["invitees"], could["persons"]),
                    plan=multiple(plan.get("k_factor")),
                ),
            ),
            Kpi(_("Invitees"), count(result["invitees"]), _("of {n} persons", n=count(result["persons"]))),
            Kpi(
                _("Inviters"),
                count(result["inviters"]),
                _("{n} unknown", n=count(result["unknown_inviters"])),
            ),
            Kpi(_("Deepest generation"), count(result["max_depth"])),
            Kpi(
                _("Median viral cycle"),
                duration(cycle["median_seconds"]),
                _("over {n} invitations", n=count(cycle["pairs"])),
            ),
        )
    )
    generations = [
        BarItem(
            label=_("generation {g}", g=g["generation"]),
            value=g["persons"],
            text=_("{n} persons", n=count(g["persons"])),
            note=_(
                "K {k} = {basis} · plan {plan}",
                k=multiple(g["k"]),
                basis=ratio_basis(g["invitees"], g["could_invite"]),
                plan=multiple(g["plan_k"]),
            ),
            tone="t4",
        )
        for g in result["generations"]
    ]
    blocks: list[Any] = [
        kpis,
        Bars(
            bar_chart(generations),
            _(
                "Persons per generation (0: not invited by anyone); K = invitees of the next generation ÷ persons of this one who could invite."
            ),
        ),
    ]
    if tree["roots"]:
        blocks.append(_tree_block(tree))
    if result["top_sharers"]:
        blocks.append(_sharers(report, result["top_sharers"]))
    scope = _(
        "Persons with an event in the range {range}. Invitees: persons with an inviter; could invite: persons "
        "who reached {stage} ({could} persons). K-factor = invitees ÷ persons who could invite.",
        range=range_text(result.get("range"), report.get("data")),
        stage=_stage_name(report, could.get("stage")),
        could=count(could["persons"]),
    )
    return SectionView("referral", _("Referral (fission)"), scope, tuple(blocks))


def _stage_name(report: dict[str, Any], stage: str | None) -> str:
    if stage is None:
        return _("any stage")
    return next((s["name"] for s in report["stages"] if s["id"] == stage), stage)


def _tree_block(tree: dict[str, Any]) -> TreeBlock:
    def describe(node: dict[str, Any]) -> tuple[str, str, str]:
        detail = _("invited {n} · {d} in all", n=count(node["invitees"]), d=count(node["descendants"]))
        tooltip = _(
            "{person} (generation {g}): invited {n}; {d} persons in all below",
            person=node["person"],
            g=node["generation"],
            n=count(node["invitees"]),
            d=count(node["descendants"]),
        )
        return shorten(node["person"], 22), detail, tooltip

    chart = tree_chart(tree["roots"], describe=describe, more_text=lambda n: _("+{n} more", n=count(n)))
    caption = _(
        "The top of the invitation tree: the {n} sharers with the most persons below them, {levels} levels; "
        "{more} other first sharers not drawn ({nodes} persons in the whole tree).",
        n=len(tree["roots"]),
        levels=MAX_LEVELS,
        more=count(tree["more_roots"]),
        nodes=count(tree["nodes"]),
    )
    return TreeBlock(chart, caption)


def _sharers(report: dict[str, Any], sharers: list[dict[str, Any]]) -> TableBlock:
    currency = report["playbook"]["currency"]
    rows = tuple(
        (
            Cell(s["person"], "" if s["known"] else _("not in the data")),
            num(str(s["generation"])),
            num(count(s["invitees"])),
            num(
                count(s["invitees_paid"]),
                percent(s["invitees_paid"] / s["invitees"]) if s["invitees"] else DASH,
            ),
            num(money(s["invitees_revenue"], currency)),
        )
        for s in sharers
    )
    return TableBlock(
        _("Top sharers"),
        (_("Person"), _("Generation"), _("Invitees"), _("Invitees who paid"), _("Invitees' revenue")),
        rows,
    )

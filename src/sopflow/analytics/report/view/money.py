"""ROI (投产比) by channel and the targets (预期) against the actual numbers."""

from __future__ import annotations

from typing import Any

from sopflow.analytics.report.charts import BarItem, bar_chart
from sopflow.analytics.report.format import DASH, count, money, multiple, percent, points, ratio_basis
from sopflow.analytics.report.view.blocks import (
    Bars,
    Cell,
    Kpi,
    Kpis,
    Notes,
    SectionView,
    TableBlock,
    num,
    range_text,
)
from sopflow.i18n import N_, _
from sopflow.playbook.model import parse_metric

MONEY_METRICS = ("revenue", "cost", "cac")
MULTIPLE_METRICS = ("roi", "k_factor")
STATUS = {"met": N_("met"), "near": N_("near"), "missed": N_("missed"), "no_data": N_("no data")}
STATUS_TONE = {"met": "good", "near": "warn", "missed": "bad", "no_data": "none"}


def roi_section(report: dict[str, Any], data: dict[str, Any]) -> SectionView:
    currency = data["currency"]
    totals, plan = data["totals"], data["totals"].get("plan") or {}

    def cash(value: float | None) -> str:
        return money(value, currency)

    kpis = Kpis(
        (
            Kpi(_("Revenue"), cash(totals["revenue"]), _("plan {value}", value=cash(plan.get("revenue")))),
            Kpi(_("Cost"), cash(totals["cost"]), _("plan {value}", value=cash(plan.get("cost")))),
            Kpi(
                _("ROI"),
                multiple(totals["roi"]),
                _(
                    "{revenue} ÷ {cost} · plan {plan}",
                    revenue=cash(totals["revenue"]),
                    cost=cash(totals["cost"]),
                    plan=multiple(plan.get("roi")),
                ),
            ),
            Kpi(
                _("CAC"),
                cash(totals["cac"]),
                _("{cost} ÷ {n} paying persons", cost=cash(totals["cost"]), n=count(totals["paying_users"])),
            ),
            Kpi(_("Profit"), cash(totals.get("profit"))),
            Kpi(
                _("Payback"),
                _("{n} days", n=totals["payback_days"]) if totals["payback_days"] is not None else DASH,
                totals.get("payback_date") or _("not paid back"),
            ),
        )
    )
    items, rows = [], []
    for c in data["channels"]:
        channel_plan = c.get("plan") or {}
        items.append(
            BarItem(
                label=c["name"],
                value=c["roi"],
                text=_("ROI {roi}", roi=multiple(c["roi"])) if c["roi"] is not None else _("no cost"),
                note=f"{cash(c['revenue'])} ÷ {cash(c['cost'])}",
                plan=channel_plan.get("roi"),
                plan_text=_("plan ROI {roi}", roi=multiple(channel_plan.get("roi"))),
                tone="t2",
            )
        )
        rows.append(
            (
                Cell(c["name"], c["channel"]),
                num(count(c["new_users"]), _("plan {n}", n=count(channel_plan.get("new_users")))),
                num(count(c["paying_users"])),
                num(cash(c["revenue"])),
                num(cash(c["cost"])),
                num(multiple(c["roi"]), _("plan {roi}", roi=multiple(channel_plan.get("roi")))),
                num(cash(c["cac"]), f"{cash(c['cost'])} ÷ {count(c['paying_users'])}"),
                num(
                    cash(c["revenue_per_user"]),
                    f"{cash(c['revenue'])} ÷ {count(c['new_users'])}",
                ),
                num(_("{n} days", n=c["payback_days"]) if c["payback_days"] is not None else DASH),
            )
        )
    days = data.get("days") or {}
    scope = _(
        "Revenue attributed to the channel of each person's {attribution}; costs from the {source}; "
        "days {first} to {last} (range {range}). ROI = revenue ÷ cost; CAC = cost ÷ paying persons; revenue "
        "per person = revenue ÷ new persons. Campaign-wide costs ({campaign}) are in the totals only.",
        attribution=_("first touch") if data["attribution"] == "first" else _("last touch"),
        source=_("playbook") if (data.get("costs") or {}).get("source") != "file" else _("costs file"),
        first=days.get("first") or DASH,
        last=days.get("last") or DASH,
        range=range_text(data.get("range"), report.get("data")),
        campaign=cash(totals.get("campaign_cost")),
    )
    blocks = (
        kpis,
        Bars(bar_chart(items), _("ROI by channel"), legend=_("Tick: the plan's ROI for the channel.")),
        TableBlock(
            _("By channel"),
            (
                _("Channel"),
                _("New persons"),
                _("Paying persons"),
                _("Revenue"),
                _("Cost"),
                _("ROI"),
                _("CAC"),
                _("Revenue per person"),
                _("Payback"),
            ),
            tuple(rows),
        ),
    )
    return SectionView("roi", _("ROI by channel"), scope, blocks)


def targets_section(report: dict[str, Any], data: dict[str, Any]) -> SectionView:
    currency = data["currency"]
    metrics = data.get("metrics") or {}
    stages = data.get("stages") or []
    items, rows = [], []
    for t in data["targets"]:
        show = _formatter(t["metric"], currency)
        status = t["status"]
        attained = _attainment(t)
        items.append(
            BarItem(
                label=t["name"],
                value=attained,
                text=_("{actual} of {expected}", actual=show(t["actual"]), expected=show(t["expected"])),
                note=_(
                    "{share} of the target ({direction})", share=percent(attained), direction=_direction(t)
                ),
                plan=1.0,
                plan_text=_("the target"),
                tone=f"s-{STATUS_TONE.get(status, 'none')}",
            )
        )
        rows.append(
            (
                Cell(t["name"], t["metric"]),
                num(show(t["expected"]), _direction(t)),
                num(show(t["actual"]), _basis(t["metric"], t["actual"], metrics, stages, currency)),
                num(_gap(t, show), percent(t["relative_gap"])),
                num(show(t["planned"])),
                Cell(_(STATUS.get(status, status)), "", f"status s-{STATUS_TONE.get(status, 'none')}"),
            )
        )
    findings = tuple(f["text"] for f in data.get("findings") or [])
    blocks: list[Any] = [
        Bars(
            bar_chart(items),
            _("Each target's actual as a share of its expected value"),
            legend=_("Tick: 100% of the target. For costs (lower is better) the share is expected ÷ actual."),
        ),
        TableBlock(
            _("Targets"),
            (_("Target"), _("Expected"), _("Actual"), _("Gap"), _("Plan"), _("Status")),
            tuple(rows),
        ),
    ]
    if findings:
        blocks.insert(0, Notes(_("Findings"), findings))
    scope = _(
        "Every target of the playbook against the data in the range {range}: persons per stage as the funnel "
        "counts them, money as the ROI section. Gap = actual − expected (and ÷ expected); near: within the "
        "target's tolerance.",
        range=range_text(data.get("range"), report.get("data")),
    )
    return SectionView("targets", _("Targets vs actual"), scope, tuple(blocks))


def _formatter(metric: str, currency: str) -> Any:
    parsed = parse_metric(metric)
    kind = parsed.kind if parsed else metric
    if parsed is not None and parsed.is_rate:
        return percent
    if kind in MONEY_METRICS:
        return lambda v: money(v, currency)
    if kind in MULTIPLE_METRICS:
        return multiple
    return count


def _gap(target: dict[str, Any], show: Any) -> str:
    gap = target["gap"]
    if gap is None:
        return DASH
    parsed = parse_metric(target["metric"])
    if parsed is not None and parsed.is_rate:
        return points(gap)
    text: str = show(gap)
    return f"+{text}" if gap > 0 else text


def _attainment(target: dict[str, Any]) -> float | None:
    actual, expected = target["actual"], target["expected"]
    if actual is None or not expected:
        return None
    if target["direction"] == "at_most":
        return expected / actual if actual else None
    return float(actual / expected)


def _direction(target: dict[str, Any]) -> str:
    return _("at most") if target["direction"] == "at_most" else _("at least")


def _basis(
    metric: str, actual: float | None, metrics: dict[str, Any], stages: list[dict[str, Any]], currency: str
) -> str:
    """What a ratio target was divided by: stage persons for rates, money for ROI, persons for CAC and K."""
    parsed = parse_metric(metric)
    if parsed is None or actual is None:
        return ""
    index = next((i for i, s in enumerate(stages) if s["id"] == parsed.subject), None)
    if parsed.kind == "rate" and index:
        return ratio_basis(stages[index]["users"], stages[index - 1]["users"])
    if parsed.kind == "rate_from_first" and index is not None and stages:
        return ratio_basis(stages[index]["users"], stages[0]["users"])
    if parsed.kind == "roi":
        return f"{money(metrics.get('revenue'), currency)} ÷ {money(metrics.get('cost'), currency)}"
    cost = metrics.get("cost")
    if parsed.kind == "cac" and actual and cost is not None:
        return _("{cost} ÷ {n} persons", cost=money(cost, currency), n=count(round(cost / actual)))
    referred = metrics.get("referred_users")
    if parsed.kind == "k_factor" and actual and referred is not None:
        return ratio_basis(referred, round(referred / actual))
    return ""

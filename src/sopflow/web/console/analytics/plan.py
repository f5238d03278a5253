"""Against the plan: ROI by channel, targets vs actual (with a campaign's per-step table), and AARRR."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from sopflow.errors import InvalidInput
from sopflow.i18n import N_, _
from sopflow.playbook.estimate import format_metric
from sopflow.web.analytics import answers
from sopflow.web.analytics.queries import AarrrQuery, RoiQuery, TargetsQuery
from sopflow.web.console.analytics.common import (
    build,
    busy,
    campaign_options,
    count,
    money,
    off_loop,
    playbook_options,
    range_inputs,
    range_note,
    ratio,
)
from sopflow.web.console.context import PageContext
from sopflow.web.console.widgets import data_table, empty, figure, percent

STATUS = {"met": N_("met"), "near": N_("near"), "missed": N_("missed"), "no_data": N_("no data")}


def plan_tab(ctx: PageContext) -> None:
    playbooks = playbook_options(ctx)
    campaigns = campaign_options(ctx)
    sources: dict[str, str] = {f"p:{k}": v for k, v in playbooks.items()}
    sources |= {f"c:{k}": _("campaign {name}", name=v) for k, v in campaigns.items()}
    if not sources:
        empty(_("publish a playbook first: ROI, targets and AARRR compare the data with its plan"))
        return
    with ui.card().classes("w-full"), ui.row().classes("items-end gap-4"):
        source = ui.select(sources, value=next(iter(sources)), label=_("Playbook or campaign"))
        source.props('dense data-testid="plan-source"')
        attribution = ui.select(
            {"first": _("first touch"), "last": _("last touch")}, value="first", label=_("Revenue to")
        ).props("dense")
        span = range_inputs("plan")
        button = ui.button(_("Compare with the plan"), icon="play_arrow").props('data-testid="plan-run"')
    output = ui.column().classes("w-full")

    def choice() -> dict[str, Any]:
        kind, _sep, key = str(source.value or "").partition(":")
        if kind == "c":
            return {"campaign": int(key)}
        if kind == "p":
            return {"playbook": key}
        raise InvalidInput(_("choose a playbook or a campaign"))

    def compute(roi: RoiQuery, targets: TargetsQuery, aarrr: AarrrQuery) -> dict[str, Any]:
        workspace = ctx.services.settings.workspace
        with ctx.session() as session:
            chosen = answers.choose_playbook(session=session, choice=roi)
        assert chosen is not None
        return {
            "roi": answers.roi(workspace=workspace, query=roi, chosen=chosen),
            "targets": answers.targets(workspace=workspace, query=targets, chosen=chosen),
            "aarrr": answers.aarrr(workspace=workspace, query=aarrr, chosen=chosen),
        }

    async def run_plan() -> None:
        common = {**choice(), **span.values()}
        queries = {
            "roi": build(RoiQuery, attribution=attribution.value, **common),
            "targets": build(TargetsQuery, attribution=attribution.value, **common),
            "aarrr": build(AarrrQuery, by="channel", **common),
        }
        async with busy(button):
            result = await off_loop(ctx, compute, **queries)
        output.clear()
        with output:
            show_roi(ctx, result["roi"])
            show_targets(ctx, result["targets"])
            show_aarrr(ctx, result["aarrr"])

    button.on_click(ctx.act("read", run_plan))


def show_roi(ctx: PageContext, roi: dict[str, Any]) -> None:
    totals, currency = roi["totals"], roi["currency"]
    span = range_note(roi["range"])
    ui.label(_("ROI by channel ({currency})", currency=currency)).classes("text-h6 q-mt-md")
    with ui.row().classes("gap-2"):
        figure(_("ROI"), ratio(totals["roi"]), note=_("revenue {revenue} ÷ cost {cost}, {range}",
               revenue=money(totals["revenue"]), cost=money(totals["cost"]), range=span), testid="roi-total")  # fmt: skip
        figure(
            _("CAC"),
            money(totals["cac"]),
            note=_("cost ÷ {n} paying persons", n=count(totals["paying_users"])),
        )
        figure(_("New persons"), count(totals["new_users"]), note=span)
    channels = roi["channels"]
    ui.echart(
        {
            "tooltip": {"trigger": "axis"},
            "legend": {},
            "xAxis": {"type": "category", "data": [c["name"] for c in channels]},
            "yAxis": {"type": "value", "name": _("ROI")},
            "series": [
                {"type": "bar", "name": _("actual"), "data": [c["roi"] for c in channels]},
                {
                    "type": "bar",
                    "name": _("plan"),
                    "data": [(c.get("plan") or {}).get("roi") for c in channels],
                },
            ],
        }
    ).classes("w-full").style("height: 300px").props('data-testid="roi-chart"')
    rows = [
        {
            "channel": c["name"],
            "new_users": c["new_users"],
            "paying_users": c["paying_users"],
            "revenue": money(c["revenue"]),
            "cost": money(c["cost"]),
            "roi": ratio(c["roi"]),
            "plan_roi": ratio((c.get("plan") or {}).get("roi")),
            "cac": money(c["cac"]),
            "payback_days": "—" if c["payback_days"] is None else c["payback_days"],
        }
        for c in channels
    ]
    data_table(
        ctx,
        rows=rows,
        columns=[("channel", _("Channel")), ("new_users", _("New")), ("paying_users", _("Paying")),
                 ("revenue", _("Revenue")), ("cost", _("Cost")), ("roi", _("ROI")), ("plan_roi", _("Plan ROI")),
                 ("cac", _("CAC")), ("payback_days", _("Payback (days)"))],
        export="roi-by-channel",
    )  # fmt: skip
    ui.label(
        _("ROI = revenue ÷ cost of the channel; CAC = cost ÷ paying persons; new = persons at the first stage; {range}.",
          range=span)
    ).classes("text-caption text-grey-7")  # fmt: skip


def show_targets(ctx: PageContext, targets: dict[str, Any]) -> None:
    ui.label(_("Targets vs actual")).classes("text-h6 q-mt-md")
    rows = [
        {
            "name": t["name"],
            "metric": t["metric"],
            "expected": format_metric(t["metric"], t["expected"]),
            "planned": format_metric(t["metric"], t["planned"]),
            "actual": format_metric(t["metric"], t["actual"]),
            "gap": _gap(t),
            "status": _(STATUS.get(t["status"], t["status"])),
        }
        for t in targets["targets"]
    ]
    if not rows:
        empty(_("This playbook has no targets."))
    else:
        data_table(
            ctx,
            rows=rows,
            columns=[("name", _("Target")), ("metric", _("Metric")), ("expected", _("Expected")),
                     ("planned", _("Planned")), ("actual", _("Actual")), ("gap", _("Gap")), ("status", _("Status"))],
            export="targets",
        ).props('data-testid="targets-table"')  # fmt: skip
    for number, finding in enumerate(targets["findings"], start=1):
        ui.label(f"{number}. {finding['text']}").classes("text-body2")
    first = targets["stages"][0]["users"] if targets["stages"] else 0
    ui.label(
        _("Actual values {range}; stage counts ÷ {first} persons at the first stage.",
          range=range_note(targets["range"]), first=count(first))
    ).classes("text-caption text-grey-7")  # fmt: skip
    campaign = targets.get("campaign")
    if campaign:
        rows = [
            {
                "step": f"{s['position'] + 1}. {s['name']}",
                "touched": s["touched"],
                "audience": s["audience_size"],
                "reacted": f"{count(s['reacted'])} ({percent(s['reaction_rate'])})",
                "converted": f"{count(s['converted'])} ({percent(s['conversion_rate'])})",
                "revenue": money(s["revenue"]),
            }
            for s in campaign["steps"]
        ]
        ui.label(_("Campaign per step (rates ÷ touched)")).classes("text-subtitle1")
        data_table(
            ctx,
            rows=rows,
            columns=[("step", _("Step")), ("touched", _("Touched")), ("audience", _("Audience")),
                     ("reacted", _("Reacted")), ("converted", _("Converted")), ("revenue", _("Revenue"))],
            export="campaign-steps",
        )  # fmt: skip


def _gap(target: dict[str, Any]) -> str:
    gap = target["gap"]
    if gap is None:
        return "—"
    sign = "+" if gap > 0 else ("−" if gap < 0 else "")
    return sign + format_metric(target["metric"], abs(gap))


def show_aarrr(ctx: PageContext, aarrr: dict[str, Any]) -> None:
    ui.label(_("AARRR")).classes("text-h6 q-mt-md")
    stages = aarrr["stages"]
    acquisition = stages[0]["users"] if stages else None
    rows = [
        {
            "stage": s["name"],
            "funnel_stages": ", ".join(s["funnel_stage_names"]),
            "persons": count(s["users"]),
            "of_acquisition": percent(s["rate_from_acquisition"]),
            "of_previous": percent(s["rate_from_previous"]),
        }
        for s in stages
    ]
    data_table(
        ctx,
        rows=rows,
        columns=[("stage", _("Stage")), ("funnel_stages", _("Funnel stages")), ("persons", _("Persons")),
                 ("of_acquisition", _("Of acquisition")), ("of_previous", _("Of previous stage"))],
        export="aarrr",
    )  # fmt: skip
    ui.label(
        _(
            "Rates ÷ acquisition ({n} persons), {range}.",
            n=count(acquisition),
            range=range_note(aarrr["range"]),
        )
    ).classes("text-caption text-grey-7")

"""Retention (the cohort heatmap) and referral (K-factor, the invitation tree, top sharers)."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from sopflow.i18n import _
from sopflow.web.analytics import answers
from sopflow.web.analytics.queries import PlaybookChoice, ReferralQuery, RetentionQuery
from sopflow.web.console.analytics.common import (
    build,
    busy,
    count,
    duration,
    money,
    off_loop,
    playbook_options,
    range_inputs,
    range_note,
)
from sopflow.web.console.context import PageContext
from sopflow.web.console.widgets import data_table, empty, figure, percent


def retention_tab(ctx: PageContext, names: dict[str, Any]) -> None:
    events: list[str] = names["events"]
    with ui.card().classes("w-full"), ui.row().classes("items-end gap-4"):
        start = ui.select(events, value="signup" if "signup" in events else None, label=_("Start event"))
        start.props('dense data-testid="retention-start"').style("min-width: 150px")
        back = (
            ui.select(
                events, value="attend_class" if "attend_class" in events else None, label=_("Return event")
            )
            .props('dense data-testid="retention-return"')
            .style("min-width: 150px")
        )
        period = ui.select({"day": _("day"), "week": _("week")}, value="week", label=_("Period"))
        period.style("min-width: 90px")
        periods = ui.number(_("Periods"), value=8, min=1, max=400, precision=0).props("dense")
        span = range_inputs("retention")
        button = ui.button(_("Run retention"), icon="play_arrow").props('data-testid="retention-run"')
    output = ui.column().classes("w-full")

    async def run_retention() -> None:
        asked = build(
            RetentionQuery,
            start_event=start.value or "",
            return_event=back.value or "",
            period=period.value,
            periods=int(periods.value or 0),
            **span.values(),
        )
        async with busy(button):
            result = await off_loop(
                ctx, answers.retention, workspace=ctx.services.settings.workspace, query=asked
            )
        output.clear()
        with output:
            show_retention(ctx, result)

    button.on_click(ctx.act("read", run_retention))


def show_retention(ctx: PageContext, result: dict[str, Any]) -> None:
    cohorts = result["cohorts"]
    if not cohorts:
        empty(_("no person did the start event in this range"))
        return
    periods = list(range(result["periods"] + 1))
    cells = [
        [k, row, round(rate * 100, 1)]
        for row, cohort in enumerate(cohorts)
        for k, rate in enumerate(cohort["rates"])
        if rate is not None
    ]
    ui.echart(
        {
            "tooltip": {"position": "top"},
            "grid": {"left": 110, "bottom": 90},
            "xAxis": {"type": "category", "data": [str(k) for k in periods], "name": _(result["period"])},
            "yAxis": {"type": "category", "inverse": True, "data": [c["cohort"] for c in cohorts]},
            "visualMap": {
                "min": 0,
                "max": 100,
                "calculable": True,
                "orient": "horizontal",
                "left": "center",
                "bottom": 0,
            },
            "series": [{"type": "heatmap", "data": cells, "label": {"show": True}}],
        }
    ).classes("w-full").style("height: 360px").props('data-testid="retention-heatmap"')
    ui.label(
        _(
            "Each cell: persons of the cohort who did {back} in period k ÷ the cohort's size (persons whose "
            "first {start} fell in that {period}), {range}; data until {end}.",
            back=result["return_event"],
            start=result["start_event"],
            period=_(result["period"]),
            range=range_note(result["range"]),
            end=result.get("data_end") or "—",
        )
    ).classes("text-caption text-grey-7")
    rows = []
    for cohort in cohorts:
        row: dict[str, Any] = {"cohort": cohort["cohort"], "size": cohort["size"]}
        for k, (n, rate) in enumerate(zip(cohort["counts"], cohort["rates"], strict=False)):
            row[f"p{k}"] = "—" if n is None else f"{n:,} ({percent(rate)})"
        rows.append(row)
    columns = [("cohort", _("Cohort")), ("size", _("Persons"))] + [(f"p{k}", str(k)) for k in periods]
    data_table(ctx, rows=rows, columns=columns, export="retention")


def referral_tab(ctx: PageContext) -> None:
    options = {"": _("(none: anyone could invite)"), **playbook_options(ctx)}
    with ui.card().classes("w-full"), ui.row().classes("items-end gap-4"):
        playbook = ui.select(options, value="", label=_("Playbook (who could invite, the plan's K)"))
        playbook.props('dense data-testid="referral-playbook"')
        span = range_inputs("referral")
        button = ui.button(_("Run referral"), icon="play_arrow").props('data-testid="referral-run"')
    output = ui.column().classes("w-full")

    def compute(query: ReferralQuery, masked: bool) -> dict[str, Any]:
        chosen = None
        if query.playbook:
            with ctx.session() as session:
                choice = PlaybookChoice(playbook=query.playbook)
                chosen = answers.choose_playbook(session=session, choice=choice)
        return answers.referral(
            workspace=ctx.services.settings.workspace, query=query, chosen=chosen, masked=masked
        )

    async def run_referral() -> None:
        asked = build(ReferralQuery, playbook=playbook.value or None, top=20, tree=True, **span.values())
        async with busy(button):
            result = await off_loop(ctx, compute, query=asked, masked=ctx.role == "viewer")
        output.clear()
        with output:
            show_referral(ctx, result)

    button.on_click(ctx.act("read", run_referral))


def _tree_node(node: dict[str, Any]) -> dict[str, Any]:
    children = [_tree_node(kid) for kid in node["children"]]
    if node["more"]:
        children.append({"name": _("+{n} more", n=node["more"]), "value": node["more"]})
    label = _("{person} ({n} invited)", person=node["person"], n=node["invitees"])
    return {"name": label, "value": node["descendants"], "children": children}


def show_referral(ctx: PageContext, result: dict[str, Any]) -> None:
    could = result["could_invite"]["persons"]
    span = range_note(result["range"])
    with ui.row().classes("gap-2"):
        figure(
            _("K-factor"),
            "—" if result["k_factor"] is None else f"{result['k_factor']:.3f}",
            note=_("{invitees} invitees ÷ {could} persons who could invite, {range}",
                   invitees=count(result["invitees"]), could=count(could), range=span),
            testid="referral-k",
        )  # fmt: skip
        figure(
            _("Inviters"),
            count(result["inviters"]),
            note=_("of {n} persons, {range}", n=count(result["persons"]), range=span),
        )
        figure(_("Deepest generation"), str(result["max_depth"]), note=span)
        figure(_("Viral cycle (median)"), duration(result["viral_cycle"]["median_seconds"]),
               note=_("over {n} invitations", n=count(result["viral_cycle"]["pairs"])))  # fmt: skip
    tree = result.get("tree") or {"roots": []}
    if tree["roots"]:
        root = {"name": _("all inviters"), "children": [_tree_node(node) for node in tree["roots"]]}
        ui.echart(
            {
                "tooltip": {"trigger": "item"},
                "series": [
                    {
                        "type": "tree",
                        "data": [root],
                        "top": "5%",
                        "left": "12%",
                        "bottom": "5%",
                        "right": "25%",
                        "initialTreeDepth": 3,
                        "label": {"position": "left", "fontSize": 11},
                        "leaves": {"label": {"position": "right"}},
                    }
                ],
            }
        ).classes("w-full").style("height: 420px").props('data-testid="referral-tree"')
        ui.label(
            _("The biggest sharers' subtrees, three levels deep ({more} other trees not drawn).", more=tree["more_roots"])
        ).classes("text-caption text-grey-7")  # fmt: skip
    generations = [
        {**g, "k": "—" if g["k"] is None else f"{g['k']:.3f}", "plan_k": "—" if g["plan_k"] is None else f"{g['plan_k']:.3f}"}
        for g in result["generations"]
    ]  # fmt: skip
    ui.label(_("K per generation: invitees ÷ persons of the generation who could invite")).classes(
        "text-subtitle1"
    )
    data_table(
        ctx,
        rows=generations,
        columns=[("generation", _("Generation")), ("persons", _("Persons")), ("could_invite", _("Could invite")),
                 ("invitees", _("Invitees")), ("k", _("K")), ("plan_k", _("Plan K"))],
        export="referral-generations",
    )  # fmt: skip
    sharers = [{**s, "invitees_revenue": money(s["invitees_revenue"])} for s in result["top_sharers"]]
    ui.label(_("Top sharers")).classes("text-subtitle1")
    data_table(
        ctx,
        rows=sharers,
        columns=[("person", _("Person")), ("generation", _("Generation")), ("invitees", _("Invitees")),
                 ("invitees_paid", _("Invitees who paid")), ("invitees_revenue", _("Invitees' revenue"))],
        export="referral-top-sharers",
    )  # fmt: skip

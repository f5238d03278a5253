"""The funnel builder: steps picked from the store's event names, window, order, entry, breakdown, exclusions
and conditions; the chart, the numbers with their denominator and range, and the drop-off download."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from sopflow.analytics.funnel.aggregate import NONE_VALUE, OTHER
from sopflow.i18n import N_, _
from sopflow.web.analytics import answers
from sopflow.web.analytics.queries import DroppedQuery, FunnelQuery
from sopflow.web.console.analytics.common import (
    build,
    busy,
    count,
    duration,
    off_loop,
    range_inputs,
    range_note,
)
from sopflow.web.console.context import PageContext
from sopflow.web.console.widgets import data_table, export_rows, figure, percent

ORDERS = {"ordered": N_("ordered"), "strict": N_("strict"), "unordered": N_("unordered")}
ENTRIES = {"any": N_("any attempt"), "first": N_("first entry only")}
SPECIAL_VALUES = {OTHER: N_("(other)"), NONE_VALUE: N_("(none)")}


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").replace("，", ",").split(",") if part.strip()]


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def funnel_tab(ctx: PageContext, names: dict[str, Any]) -> None:
    events: list[str] = names["events"]
    with ui.card().classes("w-full"):
        steps = (
            ui.input(
                _("Steps (event names in order, separated by commas)"),
                value=",".join(e for e in ("signup", "join_group", "attend_class", "pay") if e in events),
            )
            .props('data-testid="funnel-steps"')
            .classes("w-full")
        )
        if events:
            ui.label(_("Events in the store (click to add a step):")).classes("text-caption text-grey-7")
            with ui.row().classes("gap-1"):
                for name in events:
                    ui.chip(
                        name,
                        on_click=lambda name=name: steps.set_value(",".join([*_split(steps.value), name])),
                    ).props(f'clickable dense outline data-testid="event-{name}"')
        with ui.row().classes("items-end gap-4"):
            window = ui.input(_("Window"), value="7d").props('dense data-testid="funnel-window"')
            order = ui.select({k: _(v) for k, v in ORDERS.items()}, value="ordered", label=_("Order"))
            order.props('dense data-testid="funnel-order"')
            entry = ui.select({k: _(v) for k, v in ENTRIES.items()}, value="any", label=_("Entry"))
            entry.props('dense data-testid="funnel-entry"')
            by = ui.select(
                ["", "channel", "campaign", "step", "variant"],
                value="channel",
                label=_("Break down by"),
                new_value_mode="add-unique",
            ).props('dense use-input data-testid="funnel-by"')
        with ui.row().classes("items-end gap-4 w-full"):
            exclude = ui.input(_("Exclusions (EVENT:i-j, comma-separated)")).props(
                'dense data-testid="funnel-exclude"'
            )
            where = ui.textarea(_("Conditions, one a line (STEP:property OP value)")).props(
                'dense rows=1 autogrow data-testid="funnel-where"'
            )
        with ui.row().classes("items-end gap-4"):
            span = range_inputs("funnel")
            run_button = ui.button(_("Run funnel"), icon="play_arrow").props('data-testid="funnel-run"')
    output = ui.column().classes("w-full")

    def query(model: type[FunnelQuery] = FunnelQuery, **extra: Any) -> FunnelQuery:
        return build(
            model,
            steps=_split(steps.value),
            window=window.value or "",
            order=order.value,
            entry=entry.value,
            by=by.value or None,
            exclude=_split(exclude.value),
            where=_lines(where.value),
            **span.values(),
            **extra,
        )

    async def run_funnel() -> None:
        asked = query()
        async with busy(run_button):
            result = await off_loop(
                ctx, answers.funnel, workspace=ctx.services.settings.workspace, query=asked
            )
        output.clear()
        with output:
            show_funnel(ctx, result)
            dropped_controls(ctx, len(result["steps"]), query)

    run_button.on_click(ctx.act("read", run_funnel))


def show_funnel(ctx: PageContext, result: dict[str, Any]) -> None:
    steps = result["steps"]
    first = steps[0]["users"] if steps else 0
    with ui.row().classes("gap-2 items-stretch"):
        for step in steps:
            figure(
                f"{step['index']}. {step['name']}",
                count(step["users"]),
                note=_("{rate} of step 1", rate=percent(step["rate_from_first"])),
                testid=f"funnel-step-{step['index']}",
            )
    ui.echart(
        {
            "tooltip": {"trigger": "axis"},
            "grid": {"left": 120, "right": 60},
            "xAxis": {"type": "value"},
            "yAxis": {"type": "category", "inverse": True, "data": [s["name"] for s in steps]},
            "series": [
                {
                    "type": "bar",
                    "name": _("Persons"),
                    "data": [s["users"] for s in steps],
                    "label": {"show": True, "position": "right"},
                }
            ],
        }
    ).classes("w-full").style("height: 260px").props('data-testid="funnel-chart"')
    rows = [
        {
            "step": f"{s['index']}. {s['name']}",
            "persons": s["users"],
            "from_previous": percent(s["rate_from_previous"]),
            "from_first": percent(s["rate_from_first"]),
            "median_time": duration(s["median_seconds_from_previous"]),
            "p90_time": duration(s["p90_seconds_from_previous"]),
            "denominator": count(first),
        }
        for s in steps
    ]
    ui.label(
        _(
            "Rates are of persons who entered (step 1: {first} persons) {range}; engine {engine}.",
            first=count(first),
            range=range_note(result["range"]),
            engine=result["engine"],
        )
    ).classes("text-caption text-grey-7").props('data-testid="funnel-denominator"')
    data_table(
        ctx,
        rows=rows,
        columns=[
            ("step", _("Step")),
            ("persons", _("Persons")),
            ("from_previous", _("From previous")),
            ("from_first", _("From first")),
            ("median_time", _("Median time")),
            ("p90_time", _("P90 time")),
            ("denominator", _("Entered (step 1)")),
        ],
        export="funnel",
    ).props('data-testid="funnel-table"')
    for key, title in (
        ("breakdown", _("By {prop}", prop=result.get("by") or "")),
        ("trend", _("By entry period")),
    ):
        groups = result.get(key) or []
        if groups:
            ui.label(title).classes("text-subtitle1 q-mt-md")
            group_table(ctx, steps, groups, export=f"funnel-{key}")


def group_table(
    ctx: PageContext, steps: list[dict[str, Any]], groups: list[dict[str, Any]], *, export: str
) -> None:
    rows = []
    for group in groups:
        value = str(group["value"])
        row: dict[str, Any] = {"value": _(SPECIAL_VALUES[value]) if value in SPECIAL_VALUES else value}
        for step in group["steps"]:
            row[f"s{step['index']}"] = step["users"]
        last = group["steps"][-1] if group["steps"] else None
        row["conversion"] = percent(last["rate_from_first"] if last else None)
        row["entered"] = group["steps"][0]["users"] if group["steps"] else 0
        rows.append(row)
    columns = [("value", _("Value"))]
    columns += [(f"s{s['index']}", f"{s['index']}. {s['name']}") for s in steps]
    columns += [("conversion", _("Conversion (÷ entered)")), ("entered", _("Entered"))]
    data_table(ctx, rows=rows, columns=columns, export=export)


def dropped_controls(ctx: PageContext, steps: int, query: Any) -> None:
    """Who stalled: persons who reached step N-1 but not step N, as CSV or Excel (masked, audited)."""
    if steps < 2:
        return
    with ui.row().classes("items-center gap-2 q-mt-md"):
        ui.label(_("Export the persons who dropped off before step")).classes("text-body2")
        step = ui.select(list(range(2, steps + 1)), value=steps).props('dense data-testid="dropped-step"')

        async def export(kind: str) -> None:
            asked: DroppedQuery = query(DroppedQuery, dropped_at=step.value, format=kind)
            rows = await off_loop(
                ctx,
                answers.dropped,
                workspace=ctx.services.settings.workspace,
                query=asked,
                masked=ctx.role == "viewer",
            )
            export_rows(
                ctx,
                name=f"funnel-dropped-step{asked.dropped_at}",
                rows=rows,
                columns=answers.DROPPED_COLUMNS,
                kind=kind,
                details={"steps": ",".join(asked.steps), "dropped_at": asked.dropped_at},
            )

        for kind, label in (("csv", "CSV"), ("xlsx", "Excel")):
            ui.button(label, icon="download", on_click=ctx.act("read", lambda kind=kind: export(kind))).props(
                f'outline dense no-caps data-testid="dropped-{kind}"'
            )

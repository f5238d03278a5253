"""The timeline as a Gantt chart and the estimate (测算) with its Monte Carlo bands, for any valid playbook.

Both take the JSON views of :mod:`sopflow.web.api.playbook_views`, so the page shows what the API answers.
The Gantt chart is an ECharts custom series: one bar per step from its time to its deadline (a step without
a deadline gets a thin mark), hours from D0 00:00 on the x axis, labelled back as time nodes (``D+1 09:00``).
"""

from __future__ import annotations

import math
from typing import Any

from nicegui import ui

from sopflow.i18n import N_, _
from sopflow.playbook.estimate import format_metric
from sopflow.web.console.widgets import figure

PALETTE = ("#5470c6", "#91cc75", "#fac858", "#ee6666", "#73c0de", "#3ba272", "#fc8452", "#9a60b4")
ROW_PX = 26

# Draws one step: a rectangle from its start to its end on its row, at least 4 px wide so instants show.
_RENDER_STEP = """(params, api) => {
  const start = api.coord([api.value(1), api.value(0)]);
  const end = api.coord([api.value(2), api.value(0)]);
  const height = api.size([0, 1])[1] * 0.6;
  return {type: 'rect', shape: {x: start[0], y: start[1] - height / 2,
          width: Math.max(end[0] - start[0], 4), height: height}, style: api.style()};
}"""
# Hours from D0 00:00 back to the playbook's own notation (just the day at midnight: the axis ticks).
_NODE_LABEL = """(hours) => {
  const minutes = Math.round(hours * 60);
  const day = Math.floor(minutes / 1440), rest = minutes - day * 1440;
  const pad = (n) => String(n).padStart(2, '0');
  const name = 'D' + (day > 0 ? '+' : '') + day;
  return rest === 0 ? name : name + ' ' + pad(Math.floor(rest / 60)) + ':' + pad(rest % 60);
}"""
MAX_TICKS = 15
# Step names are the user's text: escaped before they go into the tooltip's HTML.
_TOOLTIP = """(p) => {
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
  const v = p.value;
  return esc(v[6]) + '<br><b>' + esc(p.name) + '</b><br>' + esc(v[3]) + (v[4] ? ' → ' + esc(v[4]) : '')
    + '<br>' + esc(v[5]);
}"""


def gantt_options(timeline: dict[str, Any]) -> dict[str, Any]:
    """ECharts options of the Gantt chart of a schedule view (steps in time order, the first on top)."""
    steps = timeline["steps"]
    phases = list(dict.fromkeys(step["phase_name"] for step in steps))
    rows = list(reversed(steps))
    data = [
        {
            "name": step["name"],
            "value": [
                index,
                step["start"] / 3600,
                step["end"] / 3600,
                step["at"],
                step["due"] or "",
                step["owner"],
                step["phase_name"],
            ],
            "itemStyle": {"color": PALETTE[phases.index(step["phase_name"]) % len(PALETTE)]},
        }
        for index, step in enumerate(rows)
    ]
    span = timeline["span"]
    low = span["start"] / 3600
    high = max([span["end"], *(s["end"] for s in steps)]) / 3600
    days = max(1, math.ceil((high - low) / 24))
    # Ticks every whole number of days, aligned on D0, at most MAX_TICKS of them.
    tick = 24 * math.ceil(days / MAX_TICKS)
    return {
        "grid": {"left": 200, "right": 30, "top": 30, "bottom": 40},
        "tooltip": {":formatter": _TOOLTIP},
        "xAxis": {
            "type": "value",
            "min": math.floor(low / tick) * tick,
            "max": math.ceil(high / tick) * tick,
            "interval": tick,
            "axisLabel": {":formatter": _NODE_LABEL},
            "splitLine": {"show": True},
        },
        "yAxis": {
            "type": "category",
            "data": [f"{step['at']} {step['name']}" for step in rows],
            "axisLabel": {"width": 190, "overflow": "truncate"},
        },
        "series": [
            {
                "type": "custom",
                ":renderItem": _RENDER_STEP,
                "encode": {"x": [1, 2], "y": 0},
                "data": data,
            }
        ],
    }


def gantt(timeline: dict[str, Any]) -> None:
    steps = timeline["steps"]
    if not steps:
        ui.label(_("the timeline has no steps")).classes("text-grey-7")
        return
    phases = list(dict.fromkeys(step["phase_name"] for step in steps))
    with ui.row().classes("gap-3 items-center"):
        for index, phase in enumerate(phases):
            ui.badge(phase).style(f"background-color: {PALETTE[index % len(PALETTE)]} !important")
    height = max(240, ROW_PX * len(steps) + 80)
    chart = ui.echart(gantt_options(timeline)).classes("w-full").style(f"height: {height}px")
    chart.props('data-testid="gantt"')


# (metric of the plan's ``metrics``, label) shown as figures with their bands
KEY_METRICS = (
    ("new_users", N_("Participants (new users)")),
    ("referred_users", N_("Referred users")),
    ("revenue", N_("Revenue")),
    ("cost", N_("Cost")),
    ("roi", N_("ROI (revenue ÷ cost)")),
    ("cac", N_("CAC (cost ÷ paying users)")),
    ("k_factor", N_("K-factor")),
)


def _value(metric: str, value: float | None) -> str:
    return format_metric(metric, value) if value is not None else "–"


def estimate_view(plan: dict[str, Any]) -> None:
    """The estimate's key numbers (with P10–P90 bands when simulated), the funnel by stage, and the targets."""
    bands = (plan.get("simulations") or {}).get("metrics", {})
    runs = (plan.get("simulations") or {}).get("n")
    metrics = plan["metrics"]
    with ui.row().classes("gap-2").props('data-testid="estimate"'):
        for metric, label in KEY_METRICS:
            band = bands.get(metric)
            note = (
                _(
                    "P10–P90 {low} – {high} over {runs} simulated runs; whole campaign",
                    low=_value(metric, band["p10"]),
                    high=_value(metric, band["p90"]),
                    runs=runs,
                )
                if band and band.get("p10") is not None
                else _("expected value before launch, whole campaign")
            )
            figure(_(label), _value(metric, metrics.get(metric)), note=note)
    _funnel_chart(plan, bands)
    _targets_table(plan)


def _funnel_chart(plan: dict[str, Any], bands: dict[str, Any]) -> None:
    stages = plan["stages"]
    names = [stage["name"] for stage in stages]
    low = [(bands.get(f"users.{s['id']}") or {}).get("p10") for s in stages]
    high = [(bands.get(f"users.{s['id']}") or {}).get("p90") for s in stages]
    series: list[dict[str, Any]] = [
        {"name": _("Expected users"), "type": "bar", "data": [stage["users"] for stage in stages]}
    ]
    if any(v is not None for v in low):
        series += [
            {"name": "P10", "type": "line", "data": low, "lineStyle": {"type": "dashed"}},
            {"name": "P90", "type": "line", "data": high, "lineStyle": {"type": "dashed"}},
        ]
    ui.label(
        _("Users per funnel stage: expected, and P10/P90 of the simulated runs (denominator: stage 1)")
    ).classes("text-subtitle2 q-mt-md")
    ui.echart(
        {
            "tooltip": {"trigger": "axis"},
            "legend": {},
            "xAxis": {"type": "category", "data": names},
            "yAxis": {"type": "value"},
            "series": series,
        }
    ).classes("w-full").style("height: 300px").props('data-testid="estimate-funnel"')
    rows = [
        {
            "stage": stage["name"],
            "users": _value("users.x", stage["users"]),
            "rate": _value("rate.x", stage["rate_from_previous"]),
            "rate_first": _value("rate.x", stage["rate_from_first"]),
            "revenue": _value("revenue", stage["revenue"]),
        }
        for stage in stages
    ]
    columns = [
        ("stage", _("Stage")),
        ("users", _("Users")),
        ("rate", _("Rate from previous stage")),
        ("rate_first", _("Rate from stage 1")),
        ("revenue", _("Revenue")),
    ]
    _simple_table(rows, columns)


def _targets_table(plan: dict[str, Any]) -> None:
    targets = plan["targets"]
    if not targets:
        return
    ui.label(_("Targets (预期) against the plan")).classes("text-subtitle2 q-mt-md")
    yes, no = _("yes"), _("no")
    rows = [
        {
            "name": t["name"],
            "metric": t["metric"],
            "expected": _value(t["metric"], t["expected"]),
            "planned": _value(t["metric"], t["planned"]),
            "reachable": "–" if t["reachable"] is None else (yes if t["reachable"] else no),
        }
        for t in targets
    ]
    columns = [
        ("name", _("Target")),
        ("metric", _("Metric")),
        ("expected", _("Expected")),
        ("planned", _("Planned")),
        ("reachable", _("Reachable")),
    ]
    _simple_table(rows, columns)


def _simple_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> None:
    ui.table(
        columns=[{"name": f, "label": label, "field": f, "align": "left"} for f, label in columns],
        rows=rows,
        row_key=columns[0][0],
        pagination=0,
    ).classes("w-full").props("flat bordered dense")

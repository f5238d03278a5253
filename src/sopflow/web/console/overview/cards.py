"""The overview's cards: one per running campaign, and the alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nicegui import ui

from sopflow.analytics.targets.commands import STATUS_LABELS
from sopflow.campaign.overview import CampaignOverview, RunningCampaign
from sopflow.i18n import _
from sopflow.web.console.overview.measures import CampaignMeasures
from sopflow.web.console.widgets import percent

SHOWN_ALERTS = 20
STATUS_COLORS = {"met": "positive", "near": "warning", "missed": "negative", "no_data": "grey"}


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"{hours}h{rest // 60:02d}m"


def alerts_card(overview: CampaignOverview) -> ui.column:
    """Overdue tasks now; targets behind are added to the returned column as each campaign's numbers come."""
    now = datetime.fromisoformat(overview.now)
    with ui.card().classes("w-full q-mb-md").props('data-testid="overview-alerts"'):
        ui.label(_("Alerts")).classes("text-h6")
        if not overview.overdue:
            ui.label(_("no overdue task")).classes("text-grey-7")
        for line in overview.overdue[:SHOWN_ALERTS]:
            late = (
                None
                if line.due_at is None
                else int((now - datetime.fromisoformat(line.due_at)).total_seconds())
            )
            with ui.row().classes("items-center q-gutter-sm"):
                ui.icon("schedule", color="negative")
                ui.link(line.campaign, f"/campaigns/{line.campaign_id}")
                ui.label(
                    _(
                        "{step} ({owner}) is overdue by {late}",
                        step=line.name or line.step,
                        owner=line.owner,
                        late=_duration(late),
                    )
                )
        if len(overview.overdue) > SHOWN_ALERTS:
            ui.label(_("and {n} more", n=len(overview.overdue) - SHOWN_ALERTS)).classes("text-grey-7")
        behind = ui.column().classes("q-gutter-xs")
    return behind


def campaign_card(campaign: RunningCampaign) -> ui.column:
    """The campaign's card; returns the slot its stages and targets are filled into."""
    rate = campaign.execution_rate
    card = ui.card().classes("q-pa-md").style("min-width: 420px; flex: 1")
    with card.props(f'data-testid="campaign-card-{campaign.id}"'):
        ui.link(campaign.name, f"/campaigns/{campaign.id}").classes("text-subtitle1 text-weight-bold")
        ui.label(f"{campaign.playbook_id}@{campaign.version} · {campaign.timezone}").classes(
            "text-caption text-grey-7"
        )
        ui.label(
            _(
                "Execution rate {rate}: {executed} executed of {due} due tasks",
                rate=percent(rate.value),
                executed=rate.numerator,
                due=rate.denominator,
            )
        )
        ui.linear_progress(value=rate.value or 0.0, show_value=False).props("rounded color=primary")
        slot = ui.column().classes("w-full")
        with slot:
            ui.spinner(size="md")
            ui.label(_("computing the numbers from the events…")).classes("text-caption text-grey-7")
    return slot


def fill_measures(
    slot: ui.column, measures: CampaignMeasures | None, behind: ui.column, *, error: str | None = None
) -> None:
    slot.clear()
    with slot:
        if measures is None:
            ui.label(_("the numbers could not be computed: {reason}", reason=error or "")).classes(
                "text-negative"
            )
            return
        result = measures.result
        span = result.range
        ui.label(
            _(
                "Users per stage against the plan, {start} to {end} ({tz})",
                start=(span.get("from") or "")[:16],
                end=(span.get("to") or "")[:16],
                tz=span.get("tz", ""),
            )
        ).classes("text-caption text-grey-7")
        ui.label(_("{share} of the timeline has passed", share=percent(measures.elapsed))).classes(
            "text-caption text-grey-7"
        )
        _stages_chart(result.stages)
        _targets_table(result.targets)
    for row in measures.behind():
        with behind, ui.row().classes("items-center q-gutter-sm"):
            ui.icon("trending_down", color=STATUS_COLORS.get(row["status"], "grey"))
            ui.label(
                _(
                    "{campaign}: target {target} is {status} (expected by now {expected}, actual {actual})",
                    campaign=result.playbook.get("name", ""),
                    target=row["target"],
                    status=_(STATUS_LABELS.get(row["status"], row["status"])),
                    expected=_number(row["expected"]),
                    actual=_number(row["actual"]),
                )
            )


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"
    return f"{int(value):,}"


def _stages_chart(stages: list[Any]) -> None:
    if not stages:
        return
    names = [s.name or s.id for s in stages]
    ui.echart(
        {
            "tooltip": {"trigger": "axis"},
            "legend": {"data": [_("actual"), _("plan")]},
            "grid": {"left": 90, "right": 20, "top": 30, "bottom": 20},
            "xAxis": {"type": "value"},
            "yAxis": {"type": "category", "data": names, "inverse": True},
            "series": [
                {"name": _("actual"), "type": "bar", "data": [s.users for s in stages]},
                {"name": _("plan"), "type": "bar", "data": [round(s.plan_users) for s in stages]},
            ],
        }
    ).classes("w-full").style("height: 220px")


def _targets_table(targets: list[Any]) -> None:
    if not targets:
        ui.label(_("the playbook sets no targets")).classes("text-grey-7")
        return
    rows = [
        {
            "name": t.name or t.metric,
            "expected": _number(t.expected),
            "actual": _number(t.actual),
            "status": _(STATUS_LABELS.get(t.status, t.status)),
        }
        for t in targets
    ]
    ui.table(
        columns=[
            {"name": "name", "label": _("Target"), "field": "name", "align": "left"},
            {"name": "expected", "label": _("Expected"), "field": "expected"},
            {"name": "actual", "label": _("Actual"), "field": "actual"},
            {"name": "status", "label": _("Status"), "field": "status"},
        ],
        rows=rows,
        row_key="name",
    ).props("flat dense").classes("w-full")

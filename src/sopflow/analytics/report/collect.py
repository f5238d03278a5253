"""Everything the report shows, as plain JSON-shaped data: no HTML here (that is ``view`` and ``html``).

``collect_report`` runs each model once over one engine (which keeps the columns it has read, so the
models share the reading) and returns::

    {"playbook": {"id", "name", "version", "currency", "timezone"},
     "generated_at", "engine", "range": {"from", "to", "tz"}, "data": {"first", "last"} | null,
     "channels": {channel id: display name},
     "stages": [{"id", "name", "event", "aarrr", "expected_rate"}] (the playbook's funnel),
     "sections": {"funnel" | "aarrr" | "retention" | "referral" | "roi" | "targets" | "experiments":
                  {"available": bool, "problem": null | text, "data": null | {...}}}}

With a campaign, the section ``campaign`` follows: the JSON of its per-step table.

Section data: ``funnel``: the JSON of ``sopflow funnel`` for the playbook's stages (by channel);
``retention``: ``{"result": compute_retention JSON, "start_stage", "return_stage"}``; ``referral``:
``{"result": compute_referral JSON, "tree": top_of_tree(...)}``; the others: the model's JSON as is.

A section whose model is missing from this build, or that cannot be computed for this playbook (a
:class:`SopflowError`), is not available, with the reason; the other sections are still shown.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sopflow.analytics.aarrr.channels import channel_name
from sopflow.analytics.frame import Engine
from sopflow.analytics.report.adapters import (
    Inputs,
    ModelMissing,
    aarrr_json,
    campaign_json,
    experiments_json,
    funnel_json,
    referral_json,
    retention_json,
    roi_json,
    targets_json,
)
from sopflow.analytics.report.tree import top_of_tree
from sopflow.analytics.timerange import TimeRange, from_micros
from sopflow.errors import SopflowError
from sopflow.i18n import _
from sopflow.playbook.estimate import REFERRAL_CHANNEL
from sopflow.playbook.model import Playbook, Stage

SECTIONS = ("funnel", "aarrr", "retention", "referral", "roi", "targets", "experiments")
DAY_US = 86_400 * 1_000_000
# Cohorts by day while the data span a month at most, else by ISO week; periods after the start period.
DAILY_UP_TO_DAYS = 31
DAY_PERIODS = 14
WEEK_PERIODS = 8


def collect_report(
    *,
    engine: Engine,
    playbook: Playbook,
    time_range: TimeRange,
    return_event: str | None = None,
    now: datetime | None = None,
    campaign: Any = None,
) -> dict[str, Any]:
    """Every section's data; ``return_event`` overrides the playbook's for the retention heatmap;
    ``campaign`` (a :class:`~sopflow.analytics.targets.campaign_steps.CampaignRun`) adds the section
    ``campaign``, its per-step table, after the others."""
    tz = time_range.tz
    bounds = engine.time_bounds()
    inputs = Inputs(engine=engine, playbook=playbook, time_range=time_range)
    builders: dict[str, Callable[[], dict[str, Any]]] = {
        "funnel": lambda: funnel_json(inputs),
        "aarrr": lambda: aarrr_json(inputs),
        "retention": lambda: _retention(inputs, bounds, return_event),
        "referral": lambda: _referral(inputs),
        "roi": lambda: roi_json(inputs),
        "targets": lambda: targets_json(inputs),
        "experiments": lambda: experiments_json(inputs),
        "campaign": lambda: campaign_json(inputs, campaign),
    }
    keys = SECTIONS if campaign is None else (*SECTIONS, "campaign")
    meta = playbook.meta
    channels = {c.id: c.name for c in playbook.channels}
    channels.setdefault(REFERRAL_CHANNEL, channel_name(playbook, REFERRAL_CHANNEL))
    return {
        "playbook": {
            "id": meta.id,
            "name": meta.name,
            "version": meta.version,
            "currency": meta.currency,
            "timezone": meta.timezone,
        },
        "generated_at": (now or datetime.now(tz)).astimezone(tz).isoformat(timespec="seconds"),
        "engine": engine.name,
        "range": time_range.as_json(),
        "data": None
        if bounds is None
        else {
            "first": from_micros(bounds[0], tz).isoformat(),
            "last": from_micros(bounds[1], tz).isoformat(),
        },
        "channels": channels,
        "stages": [
            {"id": s.id, "name": s.name, "event": s.event, "aarrr": s.aarrr, "expected_rate": s.expected_rate}
            for s in playbook.funnel.stages
        ],
        "sections": {key: _section(builders[key]) for key in keys},
    }


def _section(build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One section's data, or why it is not available: an error in one section is data for that section."""
    try:
        return {"available": True, "problem": None, "data": build()}
    except ModelMissing as missing:
        problem = _("this build of sopflow does not have {what} yet", what=missing.where)
    except SopflowError as error:
        problem = error.message
    return {"available": False, "problem": problem, "data": None}


def retention_rule(playbook: Playbook, return_event: str | None = None) -> tuple[Stage, tuple[str, str]]:
    """Start: the funnel's first stage. Coming back: ``return_event`` when given, else the event of the first
    later stage tagged ``retention`` (the playbook's own meaning of coming back), else of the second stage.
    Returns the start stage and the return (name, event)."""
    stages = playbook.funnel.stages
    if return_event:
        named = next((s.name for s in stages if s.event == return_event), return_event)
        return stages[0], (named, return_event)
    back = next((s for s in stages[1:] if s.aarrr == "retention"), stages[1])
    return stages[0], (back.name, back.event)


def retention_periods(bounds: tuple[int, int] | None) -> tuple[str, int]:
    """Days while the data span at most a month, else ISO weeks: a heatmap a person can read."""
    span_days = 0 if bounds is None else (bounds[1] - bounds[0]) // DAY_US + 1
    if span_days <= DAILY_UP_TO_DAYS:
        return "day", max(1, min(DAY_PERIODS, span_days - 1))
    return "week", WEEK_PERIODS


def _retention(inputs: Inputs, bounds: tuple[int, int] | None, return_event: str | None) -> dict[str, Any]:
    start, (back, event) = retention_rule(inputs.playbook, return_event)
    period, periods = retention_periods(bounds)
    result = retention_json(
        inputs, start_event=start.event, return_event=event, period=period, periods=periods
    )
    return {"result": result, "start_stage": start.name, "return_stage": back}


def _referral(inputs: Inputs) -> dict[str, Any]:
    result, rows = referral_json(inputs)
    return {"result": result, "tree": top_of_tree(rows)}

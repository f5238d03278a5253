"""The report's only contact with the metric models: one adapter per model, returning the model's JSON.

Each model lives in its own package and exposes ``compute_…`` (or ``run_funnel``) returning a result with
``.as_json()``, whose shape its ``aggregate`` module documents. The report reads nothing else, so a model
may change inside as long as that shape holds. A model missing from this build raises
:class:`ModelMissing`, and the report shows its section as not available instead of failing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from typing import Any

from sopflow.analytics.frame import Engine
from sopflow.analytics.timerange import TimeRange
from sopflow.playbook.model import Playbook


class ModelMissing(Exception):
    """The module or function a section needs is not in this build."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


@dataclass(frozen=True)
class Inputs:
    engine: Engine
    playbook: Playbook
    time_range: TimeRange


def _find(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise ModelMissing(f"{module}.{name}") from None


def funnel_json(inputs: Inputs) -> dict[str, Any]:
    """The playbook's funnel, exactly as ``sopflow targets`` counts its stages, broken down by channel."""
    run_funnel = _find("sopflow.analytics.funnel", "run_funnel")
    funnel_spec = _find("sopflow.analytics.targets.stages", "funnel_spec")
    spec = funnel_spec(inputs.playbook, inputs.time_range)
    data: dict[str, Any] = run_funnel(inputs.engine, replace(spec, by="channel")).as_json()
    return data


def aarrr_json(inputs: Inputs) -> dict[str, Any]:
    compute = _find("sopflow.analytics.aarrr", "compute_aarrr")
    result = compute(engine=inputs.engine, playbook=inputs.playbook, time_range=inputs.time_range)
    data: dict[str, Any] = result.as_json()
    return data


def retention_json(
    inputs: Inputs, *, start_event: str, return_event: str, period: str, periods: int
) -> dict[str, Any]:
    spec_type = _find("sopflow.analytics.retention", "RetentionSpec")
    compute = _find("sopflow.analytics.retention", "compute_retention")
    spec = spec_type.make(
        start_event=start_event,
        return_event=return_event,
        range=inputs.time_range,
        period=period,
        periods=periods,
    )
    data: dict[str, Any] = compute(inputs.engine, spec).as_json()
    return data


def referral_json(inputs: Inputs) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The referral summary and the invitation tree's rows (person, inviter, generation, first_ts)."""
    spec_type = _find("sopflow.analytics.referral", "ReferralSpec")
    compute = _find("sopflow.analytics.referral", "compute_referral")
    spec = spec_type.from_playbook(inputs.playbook, range=inputs.time_range, top=10)
    result = compute(inputs.engine, spec)
    tree: list[dict[str, Any]] = result.tree_json() if hasattr(result, "tree_json") else []
    data: dict[str, Any] = result.as_json()
    return data, tree


def roi_json(inputs: Inputs) -> dict[str, Any]:
    compute = _find("sopflow.analytics.roi", "compute_roi")
    result = compute(engine=inputs.engine, playbook=inputs.playbook, time_range=inputs.time_range)
    data: dict[str, Any] = result.as_json()
    return data


def targets_json(inputs: Inputs) -> dict[str, Any]:
    compute = _find("sopflow.analytics.targets", "compute_targets")
    result = compute(engine=inputs.engine, playbook=inputs.playbook, time_range=inputs.time_range)
    data: dict[str, Any] = result.as_json()
    return data


def experiments_json(inputs: Inputs) -> dict[str, Any]:
    """Each step with script variants analysed as an A/B test (``sopflow.analytics.experiments.report``)."""
    report_data = _find("sopflow.analytics.experiments.report", "report_data")
    data: dict[str, Any] = report_data(engine=inputs.engine, playbook=inputs.playbook)
    return data


def campaign_json(inputs: Inputs, run: Any) -> dict[str, Any]:
    """The per-step table of a campaign run (``sopflow.analytics.targets.campaign_steps``)."""
    compute = _find("sopflow.analytics.targets.campaign_steps", "compute_campaign_steps")
    data: dict[str, Any] = compute(engine=inputs.engine, run=run, time_range=inputs.time_range).as_json()
    return data

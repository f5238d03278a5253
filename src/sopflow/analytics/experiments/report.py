"""The experiments section of ``sopflow report``: every step whose script has variants, analysed.

For each such step the main metric is conversion to the funnel stage the step drives (``stage:``, with the
stage's ``where``), else to the playbook's revenue stage, within the whole days from the step's planned
time (and deadline) to the end of the timeline (a step early in the campaign is judged by what its persons
did by the end; every window has ended when the campaign has), Welch's test, the playbook's weights; one step's failure (no touches yet, one arm) is that step's ``problem``. Returns::

    {"experiments": [{"step", "name", "stage", "result": analyze JSON | null, "problem": text | null}]}
"""

from __future__ import annotations

from typing import Any

from sopflow.analytics.conditions import from_playbook
from sopflow.analytics.experiments.analysis import analyze_experiment
from sopflow.analytics.experiments.spec import ExperimentSpec, MetricSpec, find_step, steps_with_variants
from sopflow.analytics.frame import Engine
from sopflow.errors import InvalidInput, NotFound, SopflowError
from sopflow.i18n import _
from sopflow.playbook.model import Playbook

DAY_US = 86_400_000_000
DEFAULT_WINDOW_US = 7 * DAY_US


def report_data(*, engine: Engine, playbook: Playbook) -> dict[str, Any]:
    steps = steps_with_variants(playbook)
    if not steps:
        raise InvalidInput(_("the playbook has no step whose script has variants: there is nothing to test"))
    out = []
    for step_id in steps:
        step = find_step(playbook, step_id)
        entry: dict[str, Any] = {
            "step": step_id,
            "name": step.name,
            "stage": None,
            "result": None,
            "problem": None,
        }
        spec = experiment_spec(playbook, step_id)
        if spec is None:
            entry["problem"] = _("the step drives no funnel stage and the playbook has no revenue stage")
            out.append(entry)
            continue
        entry["stage"] = _stage(playbook, step.stage).name
        try:
            entry["result"] = analyze_experiment(engine=engine, spec=spec, playbook=playbook).as_json()
        except NotFound:
            entry["problem"] = _("no touches of this step in the data yet")
        except SopflowError as error:
            entry["problem"] = error.message
        out.append(entry)
    return {"experiments": out}


def experiment_spec(playbook: Playbook, step_id: str) -> ExperimentSpec | None:
    """The report's question for a step (see the module docstring), or None when it has no stage to measure."""
    stage = _stage(playbook, find_step(playbook, step_id).stage)
    if stage is None:
        return None
    metric = MetricSpec("conversion", event=stage.event, conditions=from_playbook(stage.where))
    return ExperimentSpec(step=step_id, metric=metric, window_us=_window_us(playbook, step_id))


def _stage(playbook: Playbook, stage_id: str | None) -> Any:
    stages = playbook.funnel.stages
    for stage in stages:
        if stage.id == stage_id:
            return stage
    from sopflow.playbook.estimate import revenue_stage

    index = revenue_stage(playbook)
    return None if index is None else stages[index]


def _window_us(playbook: Playbook, step_id: str) -> int:
    """Whole days from the step's planned time (and deadline) to the end of the timeline: the campaign's
    remaining span, so every person's window has ended when the campaign has."""
    from sopflow.playbook.schedule import resolve_offsets
    from sopflow.playbook.timenode import parse_duration, parse_time_node

    step = find_step(playbook, step_id)
    offset = resolve_offsets(playbook).get(step_id)
    if offset is None:
        return DEFAULT_WINDOW_US
    deadline = parse_duration(step.deadline) if step.deadline else 0
    days = (parse_time_node(playbook.timeline.span.end) - offset - deadline) // 86_400
    return max(1, days) * DAY_US

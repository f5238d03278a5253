"""JSON views of a playbook that the console and the REST API share: validation, the schedule, the estimate.

No router lives here (the endpoints are in :mod:`sopflow.web.api.playbooks`); these are plain functions so
the console pages can call them without an HTTP round trip.

Shapes:

- validation: ``{"valid", "playbook": null | {"id", "name", "version"},
  "problems": [{"file", "line", "col", "code", "message", "path", "text"}]}`` where ``text`` is the CLI's
  ``file:line:col: message`` line;
- schedule: ``{"steps": [{"phase", "phase_name", "step", "name", "owner", "channel", "start", "end",
  "at", "due"}], "span": {"start", "end"}}`` with ``start``/``end`` in seconds from D0 00:00 (``end`` is the
  deadline, or ``start`` when a step has none) and ``at``/``due`` as time nodes (``D+1 09:30``).
"""

from __future__ import annotations

from typing import Any

from sopflow.errors import SopflowError
from sopflow.playbook.estimate import estimate
from sopflow.playbook.loader import parse_playbook
from sopflow.playbook.model import Playbook
from sopflow.playbook.montecarlo import simulate
from sopflow.playbook.problems import Problem
from sopflow.playbook.schedule import schedule
from sopflow.playbook.timenode import format_offset, parse_time_node

# Where an editor's text is checked, its problems name this file, like the CLI names the file it reads.
EDITOR_SOURCE = "playbook.yaml"
# Enough runs for steady P10/P50/P90 bands of a plan, few enough to answer in well under a second.
DEFAULT_SIMULATIONS = 2000
MAX_SIMULATIONS = 20_000


def problem_json(problem: Problem) -> dict[str, Any]:
    return {**problem.as_json(), "text": problem.format()}


def validation(text: str, *, source: str = EDITOR_SOURCE) -> tuple[Playbook | None, dict[str, Any]]:
    """The playbook (or None) and the validation shape for ``text``; problems are sorted by place."""
    playbook, problems = parse_playbook(text, filename=source)
    meta = (
        {"id": playbook.meta.id, "name": playbook.meta.name, "version": playbook.meta.version}
        if playbook is not None
        else None
    )
    return playbook, {
        "valid": playbook is not None,
        "playbook": meta,
        "problems": [problem_json(p) for p in problems],
    }


def schedule_json(playbook: Playbook) -> dict[str, Any]:
    names = {phase.id: phase.name for phase in playbook.timeline.phases}
    steps = []
    for row in schedule(playbook):
        end = row.deadline if row.deadline is not None else row.offset
        steps.append(
            {
                "phase": row.phase_id,
                "phase_name": names.get(row.phase_id, row.phase_id),
                "step": row.step.id,
                "name": row.step.name,
                "owner": row.step.owner,
                "channel": row.step.channel,
                "start": row.offset,
                "end": end,
                "at": format_offset(row.offset),
                "due": format_offset(row.deadline) if row.deadline is not None else None,
            }
        )
    span = playbook.timeline.span
    return {
        "steps": steps,
        "span": {"start": parse_time_node(span.start), "end": parse_time_node(span.end)},
    }


def estimate_json(playbook: Playbook, *, simulations: int | None = None, seed: int = 0) -> dict[str, Any]:
    """The plan (``sopflow playbook plan --json``), with Monte Carlo bands when ``simulations`` is given."""
    bands = simulate(playbook, n=simulations, seed=seed) if simulations else None
    plan: dict[str, Any] = estimate(playbook).as_json(bands.as_json() if bands else None)
    return plan


def banded_estimate(playbook: Playbook) -> dict[str, Any]:
    """The plan with :data:`DEFAULT_SIMULATIONS` runs of bands; without bands where they cannot be drawn
    (a plan of more people than the simulation counts), since the plan itself is still worth showing."""
    try:
        return estimate_json(playbook, simulations=DEFAULT_SIMULATIONS)
    except SopflowError:
        return estimate_json(playbook)

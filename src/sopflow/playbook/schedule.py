"""Resolve every step's time node to an offset (seconds from D0 00:00) by following ``after:`` chains."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sopflow.playbook.model import Playbook, Step
from sopflow.playbook.timenode import parse_after, parse_duration, parse_time_node


@dataclass(frozen=True)
class ScheduledStep:
    phase_id: str
    step: Step
    offset: int
    deadline: int | None

    def starts_at(self, start: datetime) -> datetime:
        """The absolute time, given the campaign's D0 00:00 as an aware datetime."""
        return start + timedelta(seconds=self.offset)

    def due_at(self, start: datetime) -> datetime | None:
        return None if self.deadline is None else start + timedelta(seconds=self.deadline)


class CycleError(ValueError):
    def __init__(self, cycle: list[str]) -> None:
        super().__init__(" -> ".join(cycle))
        self.cycle = cycle


def find_after_cycle(dependencies: dict[str, str]) -> list[str] | None:
    """The first cycle in a step → referenced-step map, as a closed path (``a, b, a``), or None."""
    state: dict[str, int] = {}
    for origin in dependencies:
        path: list[str] = []
        node: str | None = origin
        while node is not None and node in dependencies and state.get(node, 0) == 0:
            state[node] = 1
            path.append(node)
            node = dependencies[node]
        if node is not None and state.get(node) == 1:
            return [*path[path.index(node) :], node]
        for visited in path:
            state[visited] = 2
    return None


def resolve_offsets(playbook: Playbook) -> dict[str, int]:
    """Seconds from D0 00:00 for every step whose time can be resolved (unknown refs and cycles skipped)."""
    steps = {s.id: s for s in playbook.timeline.steps()}
    offsets: dict[str, int] = {}

    def resolve(step_id: str, seen: tuple[str, ...]) -> int | None:
        if step_id in offsets:
            return offsets[step_id]
        step = steps.get(step_id)
        if step is None or step_id in seen:
            return None
        if step.at is not None:
            value: int | None = parse_time_node(step.at)
        else:
            assert step.after is not None
            ref = parse_after(step.after)
            base = resolve(ref.step, (*seen, step_id))
            value = None if base is None else base + ref.delay
        if value is not None:
            offsets[step_id] = value
        return value

    for step_id in steps:
        resolve(step_id, ())
    return offsets


def schedule(playbook: Playbook) -> list[ScheduledStep]:
    """All steps in time order (ties keep document order). The playbook must be valid."""
    offsets = resolve_offsets(playbook)
    rows = []
    for phase in playbook.timeline.phases:
        for step in phase.steps:
            offset = offsets[step.id]
            deadline = offset + parse_duration(step.deadline) if step.deadline else None
            rows.append(ScheduledStep(phase_id=phase.id, step=step, offset=offset, deadline=deadline))
    return sorted(rows, key=lambda r: r.offset)

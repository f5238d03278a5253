"""Touches are events: every sent or done task writes ``sop_touch`` events into the event store.

One event per person of the task's audience (``user_id`` = the person, ``campaign`` = the campaign's name,
``step``, ``variant``), in the shape the simulator writes, so the analytics show per step sent → reacted →
converted and experiments read their exposures from them. A task whose audience is unknown (no events yet)
writes one event for its owner (``user_id`` = ``staff:<name>``). Event ids are derived from the task's
delivery id and the person, so writing them again after a crash adds nothing (the store deduplicates);
the task's ``touched_at`` is set only after the store acknowledged them.

Script variants: a person's variant is :func:`~sopflow.analytics.experiments.assignment.assign_variant`
of the person and the key ``<playbook id>:<step id>``, over ``control`` (the base text, weight 1) and the
script's variants with their weights — the same arms as the simulator's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sopflow.analytics.experiments.assignment import assign_variant
from sopflow.events.normalize import normalize_event
from sopflow.events.store import EventStore
from sopflow.playbook.model import Playbook
from sopflow.store.runs import Campaign, Task

TOUCH_EVENT = "sop_touch"
CONTROL = "control"


def variant_weights(playbook: Playbook, script_id: str | None) -> list[tuple[str, float]]:
    script = next((s for s in playbook.scripts if s.id == script_id), None)
    if script is None or not script.variants:
        return []
    return [(CONTROL, 1.0), *[(v.id, v.weight) for v in script.variants]]


def variant_of(
    *, playbook: Playbook, task: Task, person: str, campaign: Campaign | None = None
) -> str | None:
    """The person's script variant; for a step without variants in an arm of versions run side by side,
    the arm (``v2``…), so the versions are compared as the variants are."""
    weights = variant_weights(playbook, task.script_id)
    if not weights:
        return campaign.arm if campaign is not None else None
    return assign_variant(person=person, key=f"{playbook.meta.id}:{task.step_id}", weights=weights)


def touch_rows(
    *, task: Task, campaign: Campaign, playbook: Playbook, owner: str, endpoint_kind: str | None, at: datetime
) -> list[dict[str, Any]]:
    persons: Sequence[str] = task.audience or []
    properties = {
        "delivery_channel": task.channel,
        "audience_size": task.audience_size or 0,
        "endpoint_kind": endpoint_kind or "none",
        "task_id": task.id,
        "campaign_id": campaign.id,
        "state": task.state,
    }
    raw = [
        {
            "event_id": f"touch:{task.delivery_id}:{person}",
            "event": TOUCH_EVENT,
            "user_id": person,
            "ts": at.astimezone(UTC).isoformat(),
            "campaign": campaign.name,
            "step": task.step_id,
            "variant": variant_of(playbook=playbook, task=task, person=person, campaign=campaign),
            "properties": properties,
        }
        for person in persons
    ]
    if not raw:
        raw = [
            {
                "event_id": f"touch:{task.delivery_id}:staff",
                "event": TOUCH_EVENT,
                "user_id": f"staff:{owner}",
                "ts": at.astimezone(UTC).isoformat(),
                "campaign": campaign.name,
                "step": task.step_id,
                "properties": properties,
            }
        ]
    return [normalize_event(r, tz=UTC, row=i + 1) for i, r in enumerate(raw)]


def write_touches(store: EventStore, rows: list[dict[str, Any]]) -> int:
    """Append (durably) and return how many were new."""
    if not rows:
        return 0
    return store.append_rows(rows).accepted

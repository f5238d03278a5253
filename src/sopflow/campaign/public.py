"""The public shapes of campaigns and tasks, as the CLI's ``--json`` and the API print them (stable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sopflow.store.runs import Campaign, Staff, Task, TaskEvent


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def local(value: datetime | None, zone: ZoneInfo) -> str:
    return f"{value.astimezone(zone):%Y-%m-%d %H:%M}" if value is not None else "-"


def effective_state(task: Task, now: datetime) -> str:
    """A pending task whose due time came is due, even before a worker has run to say so."""
    if task.state == "pending" and task.due_at is not None and task.due_at <= now:
        return "due"
    return task.state


@dataclass(frozen=True)
class TaskPublic:
    id: int
    campaign_id: int
    step: str
    name: str
    role: str
    owner: str
    channel: str
    state: str
    due_at: str | None
    due_local: str
    deadline_at: str | None
    overdue: bool
    variant: str | None
    audience_size: int | None
    action: str
    text: str
    materials: list[Any]
    checklist: list[Any]
    note: str | None
    last_error: str | None
    history: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def task_public(
    task: Task, *, owner: Staff, zone: ZoneInfo, now: datetime, history: list[TaskEvent] | None = None
) -> TaskPublic:
    return TaskPublic(
        id=task.id,
        campaign_id=task.campaign_id,
        step=task.step_id,
        name=task.name,
        role=task.role,
        owner=owner.name,
        channel=task.channel,
        state=effective_state(task, now),
        due_at=iso(task.due_at),
        due_local=local(task.due_at, zone),
        deadline_at=iso(task.deadline_at),
        overdue=task.overdue_at is not None
        or (
            task.deadline_at is not None
            and task.deadline_at < now
            and task.state not in ("sent", "done", "skipped", "failed", "missed")
        ),
        variant=task.variant,
        audience_size=task.audience_size,
        action=task.action,
        text=task.text,
        materials=list(task.materials or []),
        checklist=list(task.checklist or []),
        note=task.note,
        last_error=task.last_error,
        history=[
            {
                "at": iso(e.at),
                "from": e.from_state,
                "to": e.to_state,
                "actor": e.actor,
                "reason": e.reason,
            }
            for e in history or []
        ],
    )


@dataclass(frozen=True)
class CampaignPublic:
    id: int
    name: str
    playbook_id: str
    version: int
    timezone: str
    starts_at: str | None
    status: str
    assignments: dict[str, Any]
    notify: dict[str, Any]
    max_late_seconds: int
    created_at: str | None
    created_by: str
    ended_at: str | None
    tasks: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def campaign_public(campaign: Campaign, *, states: dict[str, int]) -> CampaignPublic:
    return CampaignPublic(
        id=campaign.id,
        name=campaign.name,
        playbook_id=campaign.playbook_id,
        version=campaign.version,
        timezone=campaign.timezone,
        starts_at=iso(campaign.starts_at),
        status=campaign.status,
        assignments=dict(campaign.assignments or {}),
        notify=dict(campaign.notify or {}),
        max_late_seconds=campaign.max_late_seconds,
        created_at=iso(campaign.created_at),
        created_by=campaign.created_by,
        ended_at=iso(campaign.ended_at),
        tasks=states,
    )

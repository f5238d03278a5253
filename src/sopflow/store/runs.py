"""Tables of campaign runs: playbook versions, staff, campaigns, their tasks and every task's history.

A campaign freezes the playbook version it runs (the row keeps the YAML text); tasks are its steps
materialised at absolute UTC times. ``task_events`` records every state change (who, when, why), so the
history of a task can always be told. Delivery (endpoints, the delivery log, per-recipient touches) is in
:mod:`sopflow.store.delivery`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sopflow.store.models import Base, UtcDateTime


class WorkspaceSetting(Base):
    """A workspace-level option kept in the database (``campaign.require_approval`` …), as JSON text."""

    __tablename__ = "workspace_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PlaybookVersion(Base):
    """One published version of a playbook: the validated YAML as written, and its content hash."""

    __tablename__ = "playbook_versions"
    __table_args__ = (
        UniqueConstraint("playbook_id", "version", name="uq_playbook_versions_version"),
        UniqueConstraint("playbook_id", "content_hash", name="uq_playbook_versions_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    playbook_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    declared_version: Mapped[str] = mapped_column(String(50))  # meta.version as the author wrote it
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(500), default="")  # the file it was published from
    published_at: Mapped[datetime] = mapped_column(UtcDateTime())
    published_by: Mapped[str] = mapped_column(String(100), default="")
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    approved_by: Mapped[str | None] = mapped_column(String(100), default=None)


class Staff(Base):
    """A team member who owns tasks; ``manager_id`` is whom overdue tasks escalate to."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(100), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    email: Mapped[str | None] = mapped_column(String(200), default=None)
    wecom_userid: Mapped[str | None] = mapped_column(String(100), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Campaign(Base):
    """One run of a frozen playbook version from ``starts_at`` (D0 00:00 is that day's local midnight)."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    playbook_version_id: Mapped[int] = mapped_column(ForeignKey("playbook_versions.id"))
    playbook_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    day_zero: Mapped[datetime] = mapped_column(UtcDateTime())  # D0 00:00 in the campaign timezone
    status: Mapped[str] = mapped_column(String(20), index=True)  # running, paused, cancelled, finished
    assignments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # role → staff name
    notify: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # role → endpoint name
    max_late_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(100), default="")
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    # Two playbook versions side by side: each arm is a campaign of its own (same name), and a person belongs
    # to the arm ``assign_variant(person, experiment_key, arms)`` names; None for an ordinary campaign.
    experiment_key: Mapped[str | None] = mapped_column(String(200), default=None)
    arm: Mapped[str | None] = mapped_column(String(100), default=None)
    arms: Mapped[list[Any] | None] = mapped_column(JSON, default=None)  # [[arm, weight], ...]


class Task(Base):
    """A step materialised for a campaign: due at an absolute time, owned by one person.

    States: pending (waiting for an ``after:`` step, or the campaign is paused) → due → sending → sent /
    done / skipped / failed / missed / uncertain. ``overdue_at`` is set when the deadline passed while the
    task was not done. ``lease_*`` is the claim of the worker that is delivering it.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("campaign_id", "step_id", name="uq_tasks_step"),
        Index("ix_tasks_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    step_id: Mapped[str] = mapped_column(String(100))
    phase_id: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)  # order in the timeline
    name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    channel: Mapped[str] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(Text)
    script_id: Mapped[str | None] = mapped_column(String(100), default=None)
    variant: Mapped[str | None] = mapped_column(String(100), default=None)
    text: Mapped[str] = mapped_column(Text, default="")  # the script rendered with its variables
    materials: Mapped[list[Any]] = mapped_column(JSON, default=list)
    checklist: Mapped[list[Any]] = mapped_column(JSON, default=list)
    after_step: Mapped[str | None] = mapped_column(String(100), default=None)
    after_delay: Mapped[int] = mapped_column(Integer, default=0)
    planned_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)  # before policies
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    deadline_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    state: Mapped[str] = mapped_column(String(20))
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("endpoints.id"), default=None)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    audience_size: Mapped[int | None] = mapped_column(Integer, default=None)
    audience: Mapped[list[Any] | None] = mapped_column(JSON, default=None)  # person ids at due time
    capped: Mapped[int] = mapped_column(Integer, default=0)  # audience members left out by the cap
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    touched_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)  # sop_touch written
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TaskEvent(Base):
    """One state change of a task: from, to, who did it (a person or ``worker:<id>``), and why."""

    __tablename__ = "task_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    from_state: Mapped[str | None] = mapped_column(String(20), default=None)
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")


# Tasks point at endpoints and touches at tasks: both modules' tables must be in the metadata together.
from sopflow.store import delivery as _delivery  # noqa: E402, F401

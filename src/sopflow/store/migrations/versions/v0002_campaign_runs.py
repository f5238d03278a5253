"""campaign runs: playbook versions, staff, campaigns, tasks, task events, endpoints, deliveries, touches.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "workspace_settings",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=False),
        _when("updated_at", False),
    )
    op.create_table(
        "playbook_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("playbook_id", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("declared_version", sa.String(50), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        _when("published_at", False),
        sa.Column("published_by", sa.String(100), nullable=False),
        _when("approved_at"),
        sa.Column("approved_by", sa.String(100), nullable=True),
        sa.UniqueConstraint("playbook_id", "version", name="uq_playbook_versions_version"),
        sa.UniqueConstraint("playbook_id", "content_hash", name="uq_playbook_versions_hash"),
    )
    op.create_index("ix_playbook_versions_playbook_id", "playbook_versions", ["playbook_id"])
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(100), nullable=False),
        sa.Column("manager_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=True),
        sa.Column("email", sa.String(200), nullable=True),
        sa.Column("wecom_userid", sa.String(100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("created_at", False),
    )
    op.create_index("ix_staff_role", "staff", ["role"])
    op.create_table(
        "endpoints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("created_at", False),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("playbook_version_id", sa.Integer(), sa.ForeignKey("playbook_versions.id"), nullable=False),
        sa.Column("playbook_id", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        _when("starts_at", False),
        _when("day_zero", False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("assignments", sa.JSON(), nullable=False),
        sa.Column("notify", sa.JSON(), nullable=False),
        sa.Column("max_late_seconds", sa.Integer(), nullable=False),
        _when("created_at", False),
        sa.Column("created_by", sa.String(100), nullable=False),
        _when("ended_at"),
    )
    op.create_index("ix_campaigns_playbook_id", "campaigns", ["playbook_id"])
    op.create_index("ix_campaigns_status", "campaigns", ["status"])
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("step_id", sa.String(100), nullable=False),
        sa.Column("phase_id", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("role", sa.String(100), nullable=False),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("channel", sa.String(50), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("script_id", sa.String(100), nullable=True),
        sa.Column("variant", sa.String(100), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("materials", sa.JSON(), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("after_step", sa.String(100), nullable=True),
        sa.Column("after_delay", sa.Integer(), nullable=False),
        _when("planned_at"),
        _when("due_at"),
        sa.Column("deadline_seconds", sa.Integer(), nullable=True),
        _when("deadline_at"),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), sa.ForeignKey("endpoints.id"), nullable=True),
        sa.Column("delivery_id", sa.String(64), nullable=False, unique=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at"),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        _when("lease_expires_at"),
        sa.Column("audience_size", sa.Integer(), nullable=True),
        sa.Column("audience", sa.JSON(), nullable=True),
        sa.Column("capped", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _when("sent_at"),
        _when("done_at"),
        _when("overdue_at"),
        _when("touched_at"),
        sa.Column("escalations", sa.Integer(), nullable=False),
        _when("escalated_at"),
        _when("created_at", False),
        _when("updated_at", False),
        sa.UniqueConstraint("campaign_id", "step_id", name="uq_tasks_step"),
    )
    op.create_index("ix_tasks_campaign_id", "tasks", ["campaign_id"])
    op.create_index("ix_tasks_owner_id", "tasks", ["owner_id"])
    op.create_index("ix_tasks_state_due", "tasks", ["state", "due_at"])
    op.create_table(
        "task_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("tasks.id"), nullable=False),
        _when("at", False),
        sa.Column("from_state", sa.String(20), nullable=True),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_task_events_task_id", "task_events", ["task_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("tasks.id"), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), sa.ForeignKey("endpoints.id"), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _when("started_at", False),
        _when("finished_at"),
        sa.Column("response", sa.Text(), nullable=True),
    )
    op.create_index("ix_deliveries_task_id", "deliveries", ["task_id"])
    op.create_index("ix_deliveries_delivery_id", "deliveries", ["delivery_id"])
    op.create_index("ix_deliveries_endpoint_started", "deliveries", ["endpoint_id", "started_at"])
    op.create_table(
        "recipient_touches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person", sa.String(200), nullable=False),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("tasks.id"), nullable=False),
        _when("at", False),
    )
    op.create_index("ix_recipient_touches_person_at", "recipient_touches", ["person", "at"])


def downgrade() -> None:
    for table in (
        "recipient_touches",
        "deliveries",
        "task_events",
        "tasks",
        "campaigns",
        "endpoints",
        "staff",
        "playbook_versions",
        "workspace_settings",
    ):
        op.drop_table(table)

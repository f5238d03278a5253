"""wecom: the WeCom app's settings and the channel QR codes' states.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wecom_settings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("aes_key", sa.String(43), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("api_base", sa.String(500), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "wecom_states",
        sa.Column("state", sa.String(30), primary_key=True),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("config_id", sa.String(64), nullable=True),
        sa.Column("qr_code", sa.Text(), nullable=True),
        sa.Column("staff", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wecom_states")
    op.drop_table("wecom_settings")

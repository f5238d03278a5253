"""campaign arms: two playbook versions run side by side, persons split between them.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("experiment_key", sa.String(200), nullable=True))
        batch.add_column(sa.Column("arm", sa.String(100), nullable=True))
        batch.add_column(sa.Column("arms", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("arms")
        batch.drop_column("arm")
        batch.drop_column("experiment_key")

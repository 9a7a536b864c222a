"""Detection rules changed through the API, per organisation, so they survive a restart

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aither.server.storage.migrations._ddl import org_id

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "detection_rules",
        org_id(),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", name="pk_detection_rules"),
    )


def downgrade() -> None:
    op.drop_table("detection_rules")

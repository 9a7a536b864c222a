"""Several servers on one database: the leases table, and the delivery log's notice and claim

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    # plain ADD COLUMN (nullable): SQLite does it in place, without copying the delivery log
    op.add_column("alert_deliveries", sa.Column("notice", sa.Text(), nullable=True))
    op.add_column("alert_deliveries", sa.Column("claim_token", sa.BigInteger(), nullable=True))
    op.create_index(op.f("ix_alert_deliveries_status_id"), "alert_deliveries", ["status", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_alert_deliveries_status_id"), table_name="alert_deliveries")
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.drop_column("claim_token")
        batch.drop_column("notice")
    op.drop_table("leases")

"""alerts: channels stored through the API, and the delivery log

Revision ID: 0005
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aither.server.storage.migrations._ddl import (
    Indexes,
    create_indexes,
    create_record_table,
    drop_table,
    org_foreign_key,
    org_id,
)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


_INDEXES: Indexes = {
    "ix_alert_deliveries_org_id_id": ("org_id", "id"),
    "ix_alert_deliveries_org_id_channel_id_id": ("org_id", "channel_id", "id"),
    "ix_alert_deliveries_org_id_status_id": ("org_id", "status", "id"),
}
"""The delivery log's indexes."""


def upgrade() -> None:
    op.create_table(
        "alert_channels",
        sa.Column("id", sa.String(length=32), nullable=False),
        org_id(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("min_severity", sa.String(length=16), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("anomaly_types", sa.Text(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("backoff_s", sa.Float(), nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        org_foreign_key("alert_channels"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_channels")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_alert_channels_org_id_name")),
    )
    create_record_table(
        "alert_deliveries",
        sa.Column("channel_id", sa.String(length=240), nullable=False),
        sa.Column("channel_name", sa.String(length=200), nullable=False),
        sa.Column("channel_kind", sa.String(length=16), nullable=False),
        sa.Column("anomaly_id", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("next_attempt_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("delivered_at_ns", sa.BigInteger(), nullable=True),
    )
    create_indexes("alert_deliveries", _INDEXES)


def downgrade() -> None:
    drop_table("alert_deliveries", _INDEXES)
    op.drop_table("alert_channels")
